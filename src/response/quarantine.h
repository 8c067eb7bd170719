#pragma once
// StopAndQuarantineFile (MDE: stop the processes running a file and quarantine it, by SHA1) and the
// quarantine store it moves files into.
//
// The store is `<state-dir>/quarantine/`: one directory per entry (mode 0700, root only), holding
// `metadata.json` (original path, owner, mode, size, times, hashes, quarantine time) and `file`
// (mode 0400, owned by root: never executable, unreadable to its former owner). The metadata is
// written (atomically) before the file is moved, so a crash in between leaves an entry that says
// where the file came from, never a file whose origin is lost. Files move by rename when the store
// is on the same filesystem, otherwise by copy + fsync + unlink.
//
// Nothing is touched before its SHA1 is verified: processes are matched by hashing the executable
// they run (/proc/<pid>/exe), candidate files by hashing what was opened, and the moved inode is
// checked to be the one that was hashed. Process kills use pidfds (no pid-reuse race) and never
// target pid 1 or the sensor itself.
//
// Thread-safety: a QuarantineStore serialises its own operations; distinct stores on one directory
// must not be used concurrently. Errors are Status values; partial work is reported, not undone.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "sensor/event.h"

namespace ward::response {

struct QuarantineEntry {
  std::string id;
  std::string original_path;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0;  // permission bits (07777)
  int64_t size = 0;
  int64_t mtime_ns = 0;  // since the epoch
  int64_t atime_ns = 0;
  std::string sha1, sha256, md5;
  std::string quarantine_time;  // ISO 8601

  // {"id","originalPath","uid","gid","mode":"0755","size","modifiedTime","mtimeNs","atimeNs",
  //  "sha1","sha256","md5","quarantineTime"}
  json::Value ToJson() const;
  static Result<QuarantineEntry> FromJson(const json::Value& v);
};

class QuarantineStore {
 public:
  explicit QuarantineStore(std::string dir);  // usually <state-dir>/quarantine; created on first use
  const std::string& dir() const { return dir_; }

  // Moves the regular file at `path` (not followed if a symbolic link) into the store after checking
  // that its SHA1 is `expected_sha1` (FailedPrecondition otherwise; any case accepted).
  Result<QuarantineEntry> Quarantine(const std::string& path, std::string_view expected_sha1);
  // Puts the file back at its original path with its content, mode, owner and times. AlreadyExists
  // when something is at that path (unless `overwrite`); NotFound for an unknown id or a missing
  // parent directory. The entry is removed once the file is back.
  Status Restore(const std::string& id, bool overwrite = false);
  // Entries by quarantine time (oldest first); entries with unreadable metadata are skipped.
  Result<std::vector<QuarantineEntry>> List() const;
  Result<QuarantineEntry> Get(const std::string& id) const;
  std::string StoredPath(const std::string& id) const;  // <dir>/<id>/file

 private:
  std::string dir_;
  mutable std::mutex mu_;
};

struct KilledProcess {
  int pid = 0;
  std::string exe_path;
  std::string command_line;
};

struct StopAndQuarantineRequest {
  std::string sha1;
  // Where else the file is known to be (e.g. the server's FolderPath of the file's events); each is
  // checked against the SHA1 and quarantined when it matches.
  std::vector<std::string> candidate_paths;
};

struct StopAndQuarantineResult {
  std::string sha1;
  std::vector<KilledProcess> killed;
  std::vector<QuarantineEntry> quarantined;
  std::vector<std::string> errors;   // "path: reason" for what could not be done
  std::vector<std::string> skipped;  // candidate paths that do not exist or hold another file
  // Ok when there were no errors; NotFound when no process ran the file and no file was found;
  // Internal naming the first error otherwise.
  Status status() const;
  // ActionOutcome::details: {"sha1","killedProcesses":[{pid,path,commandLine}],
  // "quarantinedFiles":[{id,path,sha256,size}],"skippedPaths":[],"errors":[]}
  json::Value ToJson() const;
};

// Kills every process whose executable has `request.sha1`, then quarantines their executables and the
// matching candidate paths. InvalidArgument when sha1 is not 40 hex digits. `sink` (may be null)
// receives one DeviceEvents row per file: AntivirusMalwareBlocked, or AntivirusMalwareActionFailed.
Result<StopAndQuarantineResult> StopAndQuarantineFile(const StopAndQuarantineRequest& request, QuarantineStore& store,
                                                      sensor::EventSink* sink);

}  // namespace ward::response
