#pragma once
// Thin RAII wrapper over the SQLite C API: a connection, prepared statements and transactions.
// A Database is NOT thread-safe on its own; SqliteStateStore serialises access with a mutex.
// Errors come back as Status (kInternal for I/O/corruption, kAlreadyExists for constraint
// violations, kUnavailable for SQLITE_BUSY after the busy timeout).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ward::state {

// A prepared statement. Either owned (finalized on destruction) or borrowed from the connection's
// statement cache (reset and returned to the cache on destruction).
class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt, bool* borrowed_flag = nullptr) : stmt_(stmt), in_use_(borrowed_flag) {}
  ~Statement();
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), in_use_(other.in_use_) {
    other.stmt_ = nullptr;
    other.in_use_ = nullptr;
  }
  Statement& operator=(Statement&& other) noexcept;

  // Binds are 1-based; chainable. std::nullopt binds NULL.
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, const std::optional<std::string>& text);
  Statement& BindNull(int index);

  // Steps once: true when a row is available, false when done. Errors are recorded in status().
  bool Step();
  // Steps to completion and returns the status (for statements without rows).
  Status Run();
  const Status& status() const { return status_; }

  std::string ColumnText(int col) const;
  std::optional<std::string> ColumnOptText(int col) const;
  int64_t ColumnInt(int col) const;
  bool ColumnIsNull(int col) const;

  // Resets for re-use with new bindings (statement cache).
  void Reset();

 private:
  void Release();
  sqlite3_stmt* stmt_ = nullptr;
  bool* in_use_ = nullptr;  // set when borrowed from the cache
  Status status_;
};

class Database {
 public:
  // Opens (creating if needed) with WAL, synchronous=NORMAL, foreign keys on and a busy timeout so
  // that `ward admin` can work on a data dir while the server runs.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();

  Status Exec(std::string_view sql);  // one or more statements without results
  // Prepares once per distinct SQL text and hands out the cached statement (preparing costs more
  // than running a point query). A statement already in use is prepared afresh.
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertRowId() const;
  int Changes() const;
  // Changes whenever another connection commits (PRAGMA data_version).
  int64_t DataVersion();
  sqlite3* raw() { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_;
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Cached, SqlHash, std::equal_to<>> cache_;
};

// Maps a SQLite result code to a Status.
Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

}  // namespace ward::state
