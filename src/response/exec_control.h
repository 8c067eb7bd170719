#pragma once
// Execution control with fanotify permission events (FAN_OPEN_EXEC_PERM): the kernel holds every
// execve() (and every ELF interpreter load) of a file on a marked mount until we answer allow or deny.
// Two policies share it:
//
//   - file indicators: blocked SHA256/SHA1 hashes (indicator actions Block, AlertAndBlock,
//     BlockAndRemediate) are denied everywhere, at all times, unless an Allowed indicator lists the
//     file's hash too;
//   - RestrictCodeExecution (the machine action): while restricted, only files under the allowed path
//     prefixes (system package locations by default), at allowed exact paths or with an allowed
//     SHA256 may run.
//
// Decision for one exec, in this order:
//   1. the sensor's own executable: allow (it must always be able to restart itself);
//   2. neither restricted nor any blocked hash: allow without hashing;
//   3. hash the file (through the event's fd, cached by (dev, inode, mtime, size)); files larger
//      than max_hash_bytes are not hashed, so they can match no hash: only the path policy applies;
//   4. its hash is an Allowed indicator: allow (over both a block and the restriction);
//   5. its hash is a blocked indicator: deny, Reason "Indicator";
//   6. restricted and the file is outside RestrictPolicy: deny, Reason "RestrictCodeExecution";
//   7. allow.
// Any error while deciding (unreadable fd, no path, allocation failure) allows: a sensor bug must not
// stop the host from running programs. On Stop every pending event is answered with allow, and the
// kernel allows whatever is still queued when the fanotify descriptor closes.
//
// Each deny becomes a DeviceEvents row, ActionType "AppControlExecutableBlocked", with FileName,
// FolderPath (the full path, as the process collector reports it), SHA1, SHA256, MD5, FileSize, the
// InitiatingProcess* columns of the process that called execve (from the ProcessTable when given,
// else its pid, comm and command line from /proc) and AdditionalFields
// {"Reason": "Indicator"|"RestrictCodeExecution", "IndicatorValue": hash (indicator denies only)}.
//
// Thread-safety: the policy setters may be called from any thread while running; decisions use the
// policy in force when the event is read. Start/Stop are not concurrent with each other.
// Needs CAP_SYS_ADMIN and a kernel with CONFIG_FANOTIFY_ACCESS_PERMISSIONS (5.0+ for exec events).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "sensor/event.h"
#include "sensor/hashes.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::response {

inline constexpr std::string_view kRestrictionStateFile = "restriction.json";
inline constexpr std::string_view kExecBlockedAction = "AppControlExecutableBlocked";

// Where distribution packages install programs: what a restricted host may still run.
std::vector<std::string> DefaultAllowedPrefixes();

struct RestrictPolicy {
  std::vector<std::string> allowed_prefixes = DefaultAllowedPrefixes();  // directory prefixes, ending in '/'
  std::unordered_set<std::string> allowed_sha256;                         // lower-case hex
  std::unordered_set<std::string> allowed_paths;                          // exact file paths

  bool operator==(const RestrictPolicy&) const = default;
};

// File hash indicators; values are hex in any case (stored lower-case).
struct HashSet {
  std::unordered_set<std::string> sha256;
  std::unordered_set<std::string> sha1;
  bool empty() const { return sha256.empty() && sha1.empty(); }
};

struct ExecControlOptions {
  // Mount points to mark (FAN_MARK_MOUNT); LocalMounts() for the whole host.
  std::vector<std::string> mounts;
  sensor::EventSink* sink = nullptr;           // receives the deny events; may be null
  sensor::ProcessTable* processes = nullptr;   // for InitiatingProcess* columns; may be null
  sensor::HashCache* hashes = nullptr;         // shared cache; an own one when null
  int64_t max_hash_bytes = 64LL * 1024 * 1024;
};

class ExecControl {
 public:
  explicit ExecControl(ExecControlOptions options);
  ~ExecControl();  // Stop()
  ExecControl(const ExecControl&) = delete;
  ExecControl& operator=(const ExecControl&) = delete;

  // Creates the fanotify group, marks the mounts and starts the answering thread. A mount that
  // cannot be marked is logged and skipped; Unavailable when none can be (or fanotify permission
  // events are unsupported), FailedPrecondition when already started.
  Status Start();
  // Answers everything pending with allow, stops the thread and removes the marks. Idempotent.
  void Stop();
  bool running() const { return thread_.joinable(); }
  // The mounts marked by Start.
  std::vector<std::string> marked_mounts() const;

  void SetBlockedHashes(HashSet blocked);
  void SetAllowedHashes(HashSet allowed);
  void SetRestricted(bool restricted, RestrictPolicy policy = {});
  bool restricted() const;
  std::optional<RestrictPolicy> restriction() const;  // nullopt when not restricted

  // restriction.json in `dir` (temp file + fsync + rename): the restriction in force, so it survives
  // a sensor restart and a reboot. Indicators are not saved; they come back with the sensor policy.
  Status SaveState(const std::string& dir) const;
  // The saved restriction; nullopt when there is no file or it says not restricted. InvalidArgument
  // when the file is corrupt.
  static Result<std::optional<RestrictPolicy>> LoadState(const std::string& dir);
  // LoadState + SetRestricted (call before Start, so no exec slips through at sensor start).
  Status Restore(const std::string& dir);

  struct Stats {
    uint64_t allowed = 0;
    uint64_t denied = 0;
    uint64_t errors = 0;  // events allowed because deciding failed
  };
  Stats stats() const;

 private:
  struct Policy {
    HashSet blocked;
    HashSet allowed;
    std::optional<RestrictPolicy> restriction;
  };
  struct Verdict {
    bool allow = true;
    std::string reason;           // deny: "Indicator" | "RestrictCodeExecution"
    std::string indicator_value;  // deny by indicator: the matched hash
    std::string path;
    std::optional<sensor::FileHashes> hashes;
  };

  void Run();
  // Answers every event in one read; false when the descriptor failed.
  bool ReadAndAnswer(bool allow_all);
  Verdict Decide(int fd, const Policy& policy);
  // The AppControlExecutableBlocked row for a deny.
  json::Value DenyEvent(const Verdict& verdict, int pid);
  std::shared_ptr<const Policy> policy() const;
  void UpdatePolicy(const std::function<void(Policy&)>& change);

  ExecControlOptions options_;
  std::unique_ptr<sensor::HashCache> own_hashes_;
  sensor::HashCache* hashes_ = nullptr;
  dev_t self_dev_ = 0;
  ino_t self_ino_ = 0;

  mutable std::mutex policy_mu_;
  std::shared_ptr<const Policy> policy_;

  sensor::UniqueFd fan_fd_;
  sensor::UniqueFd wake_fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::string> marked_;

  std::atomic<uint64_t> allowed_{0}, denied_{0}, errors_{0};
};

// Mount points of real local filesystems from /proc/self/mountinfo (ext4, xfs, btrfs, tmpfs,
// overlay, ...), without pseudo filesystems (proc, sysfs, cgroup, devtmpfs, ...) and network ones.
std::vector<std::string> LocalMounts();
// The same from mountinfo text (for tests). Octal escapes (\040) in paths are decoded; each mount
// point is listed once.
std::vector<std::string> ParseLocalMounts(std::string_view mountinfo);

}  // namespace ward::response
