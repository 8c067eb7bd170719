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

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ward::state {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
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
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

class Database {
 public:
  // Opens (creating if needed) with WAL, synchronous=NORMAL, foreign keys on and a busy timeout so
  // that `ward admin` can work on a data dir while the server runs.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();

  Status Exec(std::string_view sql);  // one or more statements without results
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertRowId() const;
  int Changes() const;
  // Changes whenever another connection commits (PRAGMA data_version).
  int64_t DataVersion();
  sqlite3* raw() { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// Maps a SQLite result code to a Status.
Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

}  // namespace ward::state
