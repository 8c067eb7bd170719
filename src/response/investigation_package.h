#pragma once
// CollectInvestigationPackage: a .tar.gz (libarchive) of what an analyst looks at first on a Linux
// host, one folder per part, as MDE's package has one per category:
//
//   Processes/                 processes.txt (pid, ppid, user, state, exe, command line)
//   Network connections/       connections.txt (tcp, tcp6, udp, udp6 with owning pids)
//   Users/                     logged_on_users.txt (utmp), etc/passwd
//   Autoruns/                  systemd units (/etc/systemd/system files, enabled units' contents),
//                              cron (/etc/crontab, /etc/cron.*, /var/spool/cron), rc (/etc/rc.local,
//                              /etc/init.d listing), shell profiles (/etc/profile{,.d}, bash.bashrc,
//                              users' ~/.bashrc ~/.profile ...), /etc/ld.so.preload
//   Installed programs/        packages.txt from /var/lib/dpkg/status (or a note on rpm / none)
//   Logs/                      tails of /var/log/{syslog,auth.log,messages,secure,kern.log}
//   Sensor/                    state-dir listing (names only), identity.json without secrets,
//                              policy.json, the sensor log's tail
//   manifest.json              parts, files per part, what failed and why
//
// Bounds: each copied file at most max_file_bytes (marked truncated), logs their last
// max_log_tail_bytes, at most max_files_per_part files a part. Files are opened without following a
// final symbolic link (a planted link to /etc/shadow is listed, not copied); PEM private-key blocks
// in any copied file are redacted, and the identity's credential never leaves the host.
//
// `root` and `proc_root` are overridable so tests collect a fake tree. A part that fails is recorded
// in the manifest and the others are still collected; only failing to write the archive fails the
// call. Thread-safe (no shared state).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "json/json.h"

namespace ward::response {

struct InvestigationPackageOptions {
  std::string root = "/";           // where etc/, var/, home/, lib/, run/ are read
  std::string proc_root = "/proc";
  std::string state_dir;            // the sensor's; "" leaves Sensor/ with a note
  std::string sensor_log_path;      // optional
  int64_t max_file_bytes = 10LL * 1024 * 1024;
  int64_t max_log_tail_bytes = 4LL * 1024 * 1024;
  size_t max_files_per_part = 2000;
  std::function<bool()> cancelled;  // checked between parts; Unavailable("cancelled") when set
};

struct PackagePart {
  std::string name;  // the folder, e.g. "Autoruns"
  size_t files = 0;
  std::vector<std::string> errors;  // what in the part could not be collected
  bool failed = false;              // nothing of the part could be collected
};

struct InvestigationPackage {
  std::string path;  // the .tar.gz written
  int64_t size = 0;
  std::vector<PackagePart> parts;
  json::Value manifest;  // as stored in manifest.json
};

// Writes the package to `output_path` (replaced if present, mode 0600).
Result<InvestigationPackage> CollectInvestigationPackage(const InvestigationPackageOptions& options,
                                                         const std::string& output_path);

// Replaces the body of each "-----BEGIN ... PRIVATE KEY-----" block with "[redacted by Ward]".
// Returns how many blocks were redacted.
int RedactPrivateKeys(std::string& text);

}  // namespace ward::response
