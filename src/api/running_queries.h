#pragma once
// The hunting queries running right now, per tenant, so that they can be listed and cancelled
// (Ward extension: GET /api/advancedhunting/queries, DELETE /api/advancedhunting/queries/{id}).
//
// A query is registered for as long as its request runs (Start returns a Ticket; destroying the
// ticket unregisters it) under an id the caller chose ("QueryId" in the run body) or a fresh GUID.
// The ticket's flag is what kql::QueryOptions::cancel points to; Cancel() sets it and the executor
// stops at its next check (per batch or slice).
//
// Client disconnects: a ticket may carry `peer_closed` (http::Request::peer_closed); a monitor
// thread, running only while such queries exist, polls it every kPollInterval and cancels the
// query of a client that has gone. It calls peer_closed under the registry lock, and a ticket
// unregisters under that lock too, so it is never called after its request has finished.
//
// Thread-safe. Owns the monitor thread (joined by the destructor).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace ward::api {

class RunningQueries {
 public:
  static constexpr std::chrono::milliseconds kPollInterval{200};
  static constexpr size_t kQueryTextChars = 200;  // how much of the query a listing shows

  struct Info {
    std::string tenant_id;
    std::string id;           // lower-case GUID
    std::string query;        // the first kQueryTextChars characters (cut at a UTF-8 boundary)
    int64_t start_ms = 0;     // Unix milliseconds
    bool by_user = false;     // user token (delegated) or application
    std::string caller_id;    // the user's object id, or the application's client id
    std::string caller_name;  // user principal name or application name
    std::string client_id;    // the application the token was issued to
    bool cancelled = false;   // cancellation requested (or the client went away)
  };

  class Ticket {
   public:
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    // For kql::QueryOptions::cancel; valid as long as the ticket.
    const std::atomic<bool>* flag() const;
    bool cancelled() const;
    const std::string& id() const;

   private:
    friend class RunningQueries;
    struct Entry;
    Ticket(RunningQueries& owner, std::shared_ptr<Entry> e) : owner_(owner), entry_(std::move(e)) {}
    RunningQueries& owner_;
    std::shared_ptr<Entry> entry_;
  };

  RunningQueries() = default;
  ~RunningQueries();
  RunningQueries(const RunningQueries&) = delete;
  RunningQueries& operator=(const RunningQueries&) = delete;

  // Registers a query (info.id must be set; Info::query is cut here). AlreadyExists when a query
  // with this id is already running in the tenant.
  Result<std::unique_ptr<Ticket>> Start(Info info, std::function<bool()> peer_closed = {});
  // The tenant's running queries, oldest first.
  std::vector<Info> List(const std::string& tenant_id) const;
  // Looks a running query up: NotFound when no query with that id runs in the tenant.
  Result<Info> Get(const std::string& tenant_id, const std::string& id) const;
  // Sets the query's cancel flag. NotFound when it is not running (any more).
  Status Cancel(const std::string& tenant_id, const std::string& id);
  // Server shutdown: cancels every running query, and any started from now on starts cancelled, so a
  // long hunt does not hold the stop up. Returns how many were running.
  size_t CancelAll();

 private:
  void Unregister(const Ticket::Entry* e);
  void Monitor();

  mutable std::mutex mu_;
  // (tenant, id) → entry
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Ticket::Entry>> entries_;
  size_t watched_ = 0;  // entries with a peer_closed probe
  std::condition_variable cv_;
  std::thread monitor_;
  bool monitor_running_ = false;
  bool stopping_ = false;
  bool cancel_new_ = false;  // after CancelAll
};

}  // namespace ward::api
