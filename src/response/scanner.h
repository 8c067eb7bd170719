#pragma once
// The antivirus scan (MDE RunAntiVirusScan, scope Quick | Full) with libyara and the tenant's file
// hash indicators.
//
// Rules: Ward's compiled-in pack (rules/yara/ward/*.yar) plus `<state-dir>/rules/yara/*.yar`, which
// the server may update. Each file is compiled in its own YARA namespace (its file name), so two
// files may reuse a rule name; a file that does not compile is left out and reported with the
// compiler's file, line and message while the others still load. `include` is refused: rule text
// must not make the sensor read arbitrary files.
//
// Scan: Quick walks the places malware is usually dropped or made persistent (DefaultScanRoots) plus
// the executables of running processes; Full walks every local filesystem (no /proc, /sys, /dev or
// other pseudo filesystems, no network or FUSE mounts, never crossing from one mount into another —
// each local mount is its own root). Symbolic links are never followed; FIFOs and devices are
// skipped. The scanning thread runs at nice 19 and idle I/O priority (restored afterwards) and can be
// throttled in files and bytes per second. Each detection and the end of the scan are DeviceEvents
// rows (AntivirusDetection; AntivirusScanCompleted or AntivirusScanCancelled).
//
// Thread-safety: a YaraRuleSet is immutable after Load/Compile and may scan from several threads;
// RunScan uses only its arguments. yr_initialize runs once per process and is never undone.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "sensor/event.h"

struct YR_RULES;

namespace ward::response {

inline constexpr std::string_view kDeviceEventsTable = "DeviceEvents";

struct RuleFileError {
  std::string file;  // e.g. "/var/lib/ward/rules/yara/broken.yar" or "eicar.yar" (built in)
  int line = 0;      // 0 when not about a line (unreadable file)
  std::string message;
  std::string ToString() const;  // "file:line: message"
};

struct YaraMatch {
  std::string rule;         // "namespace:rule", the namespace being the file name
  std::string threat_name;  // the rule's `threat_name` meta, else "Ward:YARA/<rule>"
};

class YaraRuleSet {
 public:
  struct Source {
    std::string file;  // name used in errors and as the namespace
    std::string text;
  };
  ~YaraRuleSet();
  YaraRuleSet(const YaraRuleSet&) = delete;
  YaraRuleSet& operator=(const YaraRuleSet&) = delete;

  // Compiles the sources, leaving out (and reporting in errors()) those that fail. Internal only when
  // YARA itself fails (out of memory); an empty or all-broken set is valid and matches nothing.
  static Result<std::shared_ptr<const YaraRuleSet>> Compile(const std::vector<Source>& sources);
  // The built-in pack plus every *.yar (and *.yara) in `rules_dir` (absent dir: built-ins only).
  static Result<std::shared_ptr<const YaraRuleSet>> Load(const std::string& rules_dir);

  const std::vector<RuleFileError>& errors() const { return errors_; }
  const std::vector<std::string>& files() const { return files_; }  // the files that loaded
  size_t rule_count() const { return rule_count_; }

  // Matches a buffer (timeout_seconds bounds one scan). Internal on YARA errors, ResourceExhausted
  // on timeout.
  Result<std::vector<YaraMatch>> Scan(std::string_view data, int timeout_seconds) const;

 private:
  YaraRuleSet() = default;
  YR_RULES* rules_ = nullptr;
  std::vector<RuleFileError> errors_;
  std::vector<std::string> files_;
  size_t rule_count_ = 0;
};

// The tenant's file-hash indicators, lower-case hex -> the indicator's type ("FileSha1", ...).
struct HashIndicators {
  std::unordered_map<std::string, std::string> sha1, sha256, md5;
  bool empty() const { return sha1.empty() && sha256.empty() && md5.empty(); }
};
// The FileSha1/FileSha256/FileMd5 indicators of a sensor policy (state/policy.json:
// {"indicators":[{"indicatorType","indicatorValue","action"}]}); values also listed as Allowed are
// left out, because an Allowed indicator exempts a file everywhere.
HashIndicators HashIndicatorsFromPolicy(const json::Value& policy);

struct ScanRoot {
  std::string path;
  int max_depth = -1;  // -1: unlimited; 0: only the files directly in `path`
};
// Quick: /tmp and /var/tmp to depth 2, /dev/shm, the top level and Downloads of each home directory (/root and
// /home/*), /etc/cron*, /etc/systemd/system, /lib/systemd/system, /usr/local/bin, /usr/local/sbin.
// Full: the mount points of local filesystems (from /proc/self/mounts).
std::vector<ScanRoot> DefaultScanRoots(std::string_view scan_type);
// Mount points of local (disk, tmpfs, overlay) filesystems in /proc/mounts text, decoded ("\040").
std::vector<std::string> LocalMountPoints(std::string_view proc_mounts);

struct ScanOptions {
  std::string scan_type = "Quick";  // "Quick" | "Full" (ScanType in events)
  std::vector<ScanRoot> roots;      // empty: DefaultScanRoots(scan_type)
  bool scan_process_images = true;  // Quick only: /proc/<pid>/exe of running processes
  std::vector<std::string> exclude;  // path prefixes never scanned (e.g. the quarantine store)
  int64_t max_file_size = 128LL * 1024 * 1024;  // larger files are skipped (counted)
  int64_t max_bytes_per_second = 0;  // throttle; 0 = unlimited
  int64_t max_files_per_second = 0;  // throttle; 0 = unlimited
  bool lower_priority = true;        // nice 19 + idle I/O class for the scanning thread
  int yara_timeout_seconds = 30;
  size_t max_error_messages = 100;   // errors beyond are only counted
  std::function<bool()> cancelled;   // polled between files; may be empty
  std::function<void(const json::Value&)> progress;  // {"scannedFiles","detections"} now and then
};

struct Detection {
  std::string path;
  std::string sha1, sha256, md5;
  int64_t size = 0;
  std::string rule;             // "namespace:rule" for YARA; "" for an indicator
  std::string indicator_type;   // "FileSha1" | "FileSha256" | "FileMd5" for an indicator
  std::string indicator_value;
  std::string threat_name;
};

struct ScanResult {
  std::string scan_type;
  std::vector<Detection> detections;
  uint64_t files_scanned = 0;
  uint64_t bytes_scanned = 0;
  uint64_t files_skipped = 0;  // too large
  uint64_t error_count = 0;
  std::vector<std::string> errors;  // the first max_error_messages, "path: reason"
  std::vector<RuleFileError> rule_errors;
  bool cancelled = false;
  // {"scanType","filesScanned","bytesScanned","filesSkipped","errorCount","errors","ruleErrors",
  //  "cancelled","detections":[{path,sha1,sha256,md5,rule|indicatorValue,threatName}]}
  json::Value ToJson() const;
};

// Runs one scan on the calling thread. Unreadable files and directories are errors in the result,
// not failures; `sink` (may be null) receives the DeviceEvents rows.
ScanResult RunScan(const YaraRuleSet& rules, const HashIndicators& indicators, const ScanOptions& options,
                   sensor::EventSink* sink);

}  // namespace ward::response
