#pragma once
// /proc parsing and the process table shared by the collectors (process details for ProcessCreated
// events and Initiating* columns of file and network events).
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sensor/hashes.h"
#include "sensor/util.h"

namespace ward::sensor {

// ---- pure parsers (unit-tested) ----

struct ProcStat {
  int pid = 0;
  std::string comm;
  char state = '?';
  int ppid = 0;
  uint64_t start_ticks = 0;  // clock ticks after boot (field 22)
};
// Parses /proc/<pid>/stat. The comm field may contain spaces and ')' so it is delimited by the last ')'.
std::optional<ProcStat> ParseProcStat(std::string_view content);

// NUL-separated argv -> one line. Arguments with spaces, quotes or that are empty are double-quoted
// (backslash-escaping '"' and '\'), so the result reads like what was typed. Capped at max_bytes.
std::string JoinCmdline(std::string_view raw, size_t max_bytes = 16 * 1024);

struct ProcStatus {
  uint32_t uid = 0;   // real
  uint32_t euid = 0;  // effective
  uint32_t gid = 0;
  int tgid = 0;
};
// Parses the Uid:/Gid:/Tgid: lines of /proc/<pid>/status.
std::optional<ProcStatus> ParseProcStatus(std::string_view content);

// Each "socket:[inode]" link target -> inode; 0 for anything else.
uint64_t ParseSocketInode(std::string_view link_target);

// KQL ticks (100 ns since the Unix epoch) of a /proc start time; uses CLOCK_REALTIME - CLOCK_BOOTTIME
// measured once, which is finer than /proc/stat's btime.
int64_t StartTicksToKql(uint64_t start_ticks);
long ClockTicksPerSecond();

// ---- live process data ----

std::string UserName(uint32_t uid);  // getpwuid, cached; the number as text when unknown

struct ProcessInfo {
  int pid = 0;
  int ppid = 0;
  uint64_t start_ticks = 0;
  int64_t creation_time = 0;  // KQL ticks
  std::string comm;
  std::string exe_path;       // "" when unreadable (kernel threads, exited)
  std::string cmdline;
  std::string cwd;
  uint32_t uid = 0;
  uint32_t euid = 0;
  std::string account_name;
  std::optional<FileHashes> hashes;  // of the executable
};

// Raw data captured right after a process appears, before it can exit; completed later.
struct ProcessSnapshot {
  int pid = 0;
  int ppid_hint = 0;  // from the fork event, used when /proc is already gone
  std::optional<ProcStat> stat;
  std::string exe_path;
  std::string cmdline;
  std::string cwd;
  std::optional<ProcStatus> status;
  UniqueFd exe_fd;    // /proc/<pid>/exe opened while alive, for hashing after exit
  UniqueFd proc_dir;  // /proc/<pid> (O_PATH) between the two snapshot halves
  int64_t observed_time = 0;  // KQL ticks
};

// Reads what can be read for `pid` now. `with_exe_fd` opens /proc/<pid>/exe for later hashing.
ProcessSnapshot SnapshotProcess(int pid, bool with_exe_fd);
// The two halves of SnapshotProcess (snap.pid set by the caller): what vanishes first when a process
// exits (cmdline, executable), then the rest — so a burst of execs reads every cmdline first.
// With `seen`, the executable is held open only the first time its path is seen (and when deleted).
using ExeSeenSet = std::unordered_set<std::string>;
void SnapshotPerishable(ProcessSnapshot& snap, bool with_exe_fd, ExeSeenSet* seen);
// The effective user, from the /proc/<pid> directory opened by SnapshotPerishable.
void SnapshotOwner(ProcessSnapshot& snap);
// stat (parent, start time); works after proc_dir was closed by reopening /proc/<pid>/stat.
void SnapshotRest(ProcessSnapshot& snap);

// Cache of process details by pid, validated by start time so reused pids are not confused.
class ProcessTable {
 public:
  explicit ProcessTable(HashCache* hashes, size_t max_entries = 8192,
                        std::chrono::milliseconds exit_grace = std::chrono::seconds(10));

  // Builds the info from a snapshot (hashing via the cache) and stores it.
  std::shared_ptr<const ProcessInfo> Complete(ProcessSnapshot& snap);
  // Cached info when it is still the same process, otherwise read from /proc now. nullptr when gone.
  std::shared_ptr<const ProcessInfo> Get(int pid);
  void Remove(int pid);
  // The process exited: its entry stays for `exit_grace` so late file and network events can still be
  // attributed (they are often handled after the process is gone), then it is dropped.
  void MarkExited(int pid);

  // Marks entries whose pid is not in `alive` (sorted) as exited (dropped after the grace period), for
  // callers that do not see exits.
  void RetainOnly(const std::vector<int>& alive_sorted);
  size_t size() const;

 private:
  void Put(std::shared_ptr<const ProcessInfo> info);

  void SweepExitedLocked();

  HashCache* hashes_;
  size_t max_entries_;
  std::chrono::milliseconds exit_grace_;
  mutable std::mutex mu_;
  static constexpr std::chrono::milliseconds kRevalidateAfter{1000};
  std::unordered_map<int, std::shared_ptr<const ProcessInfo>> by_pid_;
  std::unordered_map<int, std::chrono::steady_clock::time_point> validated_;  // last /proc check
  struct Exited {
    std::chrono::steady_clock::time_point at;
    int pid;
    const ProcessInfo* info;  // identity of the entry when the exit was seen
  };
  std::deque<Exited> exited_;  // oldest first

};

// Numeric entries of /proc, sorted.
std::vector<int> ListPids();

}  // namespace ward::sensor
