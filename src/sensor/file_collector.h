#pragma once
// DeviceFileEvents (FileCreated, FileModified, FileRenamed, FileDeleted) for configured directory
// trees.
//
// Backend: fanotify with FAN_REPORT_DFID_NAME (Linux >= 5.1; FAN_RENAME >= 5.17 gives both names of a
// rename in one event; otherwise FAN_MOVED_FROM/TO are paired) with inode marks on every directory
// of the trees, which also names the acting process. Where fanotify is not allowed (no
// CAP_SYS_ADMIN, old kernel, unsupported filesystem) the same trees are watched with inotify.
//
// Writes are coalesced: a file's creation or modification is reported once it has been quiet for
// `settle` (or closed after writing, or after `max_delay`), with hashes of the final content for
// executables and files up to hash_max_bytes. A file written continuously (a log) is reported at most
// once per `modified_interval`.
//
// Cost control: the event queue is read at most every `read_interval`, so the kernel merges repeated
// modifications of a file into one queued event instead of waking the sensor for every write().
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "sensor/event.h"
#include "sensor/hashes.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::sensor {

struct FileCollectorOptions {
  std::vector<std::string> paths;            // trees to watch (recursively)
  std::vector<std::string> exclude_prefixes; // e.g. the sensor's own state dir
  bool allow_fanotify = true;
  std::chrono::milliseconds settle{300};
  std::chrono::milliseconds max_delay{2000};
  std::chrono::milliseconds modified_interval{5000};
  std::chrono::milliseconds read_interval{100};
  // Events wait this long before process attribution: the acting process has usually exited by
  // then, and the process collector needs a moment to have recorded it.
  std::chrono::milliseconds attribution_delay{200};
  int64_t hash_max_bytes = 1024 * 1024;        // non-executables; executables up to the cache limit
  size_t max_watched_dirs = 16384;
};

class FileCollector {
 public:
  FileCollector(EventSink* sink, ProcessTable* processes, HashCache* hashes, FileCollectorOptions options);
  ~FileCollector();
  FileCollector(const FileCollector&) = delete;
  FileCollector& operator=(const FileCollector&) = delete;

  // Fails only when no path could be watched by either backend.
  Status Start();
  void Stop();
  // "fanotify", "inotify", "fanotify+inotify" or "".
  std::string mode() const;
  size_t watched_dirs() const;

 private:
  enum class Kind { kCreated, kModified };
  struct Pending {
    Kind kind;
    int pid;
    std::chrono::steady_clock::time_point first;
    std::chrono::steady_clock::time_point last;
    int64_t ticks;  // event time
    std::chrono::steady_clock::time_point not_before;  // rate limit for FileModified
  };

  // Backend-neutral handlers (all on the collector thread).
  void OnCreate(const std::string& path, bool is_dir, int pid);
  void OnModify(const std::string& path, int pid);
  void OnCloseWrite(const std::string& path, int pid);
  void OnDelete(const std::string& path, bool is_dir, int pid);
  void OnRename(const std::string& from, const std::string& to, bool is_dir, int pid);
  void FlushDue(bool all);
  void FlushOne(const std::string& path, const std::string& hash_path);
  // Queues an event for release after `attribution_delay` (see Release).
  void EmitFile(std::string_view action, const std::string& path, const std::string& hash_path, int pid, int64_t ticks,
                const std::string* previous);
  // Builds and emits queued events that are due (all when `all`): hashing and process attribution
  // happen here, after the process collector had time to record the acting process.
  void Release(bool all);
  void BuildAndEmit(std::string_view action, const std::string& path, const std::string& hash_path, int pid,
                    int64_t ticks, const std::string* previous);
  bool Excluded(const std::string& path) const;

  // fanotify
  bool FanotifyInit();
  bool FanotifyMarkTree(const std::string& root);
  bool FanotifyMarkDir(const std::string& dir);
  void FanotifyRead();
  std::string ResolveDirHandle(const void* fid_info, std::string* key_out);
  // inotify
  bool InotifyInit();
  bool InotifyWatchTree(const std::string& root);
  bool InotifyWatchDir(const std::string& dir);
  void InotifyRead();
  void FlushStaleMoves();

  void Run();
  void RenameDirPrefix(const std::string& from, const std::string& to);

  EventSink* sink_;
  ProcessTable* processes_;
  HashCache* hashes_;
  FileCollectorOptions options_;
  int self_pid_;
  bool suppress_ = false;  // handling an event caused by the sensor itself

  UniqueFd fan_fd_;
  bool fan_rename_ = false;  // FAN_RENAME available
  std::unordered_map<std::string, std::string> fan_dirs_;  // handle key -> path
  std::map<std::string, UniqueFd> fan_mount_fds_;         // fsid key -> fd of a dir on that fs
  // Pairing FAN_MOVED_FROM/TO when FAN_RENAME is unavailable.
  std::string fan_moved_from_;
  int fan_moved_from_pid_ = 0;

  UniqueFd ino_fd_;
  std::unordered_map<int, std::string> ino_paths_;  // watch descriptor -> dir path
  struct MovedFrom {
    std::string path;
    bool is_dir;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<uint32_t, MovedFrom> ino_moves_;  // cookie -> source

  UniqueFd wake_fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::map<std::string, Pending> pending_;
  struct Outgoing {
    std::string action;
    std::string path;
    std::string hash_path;
    std::string previous;
    int pid;
    int64_t ticks;
    std::chrono::steady_clock::time_point due;
  };
  std::deque<Outgoing> outgoing_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> last_modified_report_;
  std::string mode_;
  std::atomic<size_t> watched_{0};
};

}  // namespace ward::sensor
