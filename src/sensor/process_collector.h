#pragma once
// DeviceProcessEvents (ProcessCreated) from the kernel's process connector (netlink, PROC_EVENT_EXEC),
// or — where the connector is unavailable (no CAP_NET_ADMIN, non-initial network namespace) — from
// polling /proc for new pids every poll_interval.
//
// Two threads: the reader snapshots /proc/<pid> immediately (short-lived processes vanish within
// milliseconds) and the enricher hashes, resolves parents and builds the event, so a slow hash never
// delays the next snapshot.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/status.h"
#include "sensor/event.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::sensor {

struct ProcessCollectorOptions {
  bool allow_netlink = true;
  std::chrono::milliseconds poll_interval{200};
  size_t max_pending = 8192;  // snapshots waiting for the enricher; beyond this they are dropped
};

class ProcessCollector {
 public:
  ProcessCollector(EventSink* sink, ProcessTable* table, ProcessCollectorOptions options = {});
  ~ProcessCollector();
  ProcessCollector(const ProcessCollector&) = delete;
  ProcessCollector& operator=(const ProcessCollector&) = delete;

  // Starts the netlink reader when the connector delivers events, otherwise /proc polling.
  Status Start();
  void Stop();
  // "netlink", "proc-poll" or "" before Start.
  std::string mode() const { return mode_; }

 private:
  bool TryNetlink();
  void NetlinkLoop();
  void PollLoop();
  void EnrichLoop();
  void Enqueue(ProcessSnapshot snap, bool exited = false);
  struct RawEvent {
    uint32_t what;
    int pid;     // tgid the event is about
    int thread;  // the thread id (fork child_pid / exit process_pid)
    int parent;  // fork parent tgid
  };
  // Appends the proc events of one datagram.
  void ParseNetlink(const char* buf, size_t len, std::vector<RawEvent>& out);
  void HandleBatch(std::vector<RawEvent>& batch);
  // Reads queued exit events (non-blocking) into pid -> parent.
  void DrainExits(std::unordered_map<int, int>& exits);

  EventSink* sink_;
  ProcessTable* table_;
  ProcessCollectorOptions options_;
  std::string mode_;
  UniqueFd nl_fd_;    // exec events, read by the real-time reader
  UniqueFd exit_fd_;  // exit events, drained by the enricher
  std::atomic<bool> stop_{false};
  std::atomic<bool> netlink_active_{false};  // the enricher then sweeps dead pids itself
  Stopper stopper_;
  std::thread reader_;
  std::thread enricher_;

  // Fork-time parent of each live process, for processes that exit before /proc can be read.
  std::unordered_map<int, int> fork_parent_;
  ExeSeenSet seen_exes_;  // reader thread only
  // Set by the reader when it sees a fork by this process (the connector probe).
  std::atomic<bool> probe_seen_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  struct Item {
    ProcessSnapshot snap;
    bool exited = false;  // an exit: drop the cache entry, after any queued exec of the same pid
  };
  std::deque<Item> pending_;
};

// The DeviceProcessEvents row for a completed process (exposed for tests).
json::Value ProcessCreatedEvent(const ProcessInfo& p, const ProcessInfo* parent, const ProcessInfo* grandparent,
                                int64_t timestamp);

}  // namespace ward::sensor
