#include "response/scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <unordered_set>

#include "common/crypto.h"
#include "response/builtin_yara_rules.h"
#include "response/fs.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::response {

using sensor::StartsWith;

namespace {

// yr_initialize is reference-counted but not thread-safe; once per process, never finalized (the
// sensor scans until it exits, and finalizing under a concurrent scan would be fatal).
bool EnsureYara() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = yr_initialize() == ERROR_SUCCESS; });
  return ok;
}

struct CompilerDeleter {
  void operator()(YR_COMPILER* c) const { yr_compiler_destroy(c); }
};
using CompilerPtr = std::unique_ptr<YR_COMPILER, CompilerDeleter>;

struct CompileErrors {
  std::string file;
  std::vector<RuleFileError>* out;
};

void OnCompilerMessage(int level, const char* file_name, int line, const YR_RULE*, const char* message, void* user) {
  if (level != YARA_ERROR_LEVEL_ERROR) return;  // warnings (slow rules) do not reject a file
  auto* ctx = static_cast<CompileErrors*>(user);
  ctx->out->push_back({file_name != nullptr && *file_name ? file_name : ctx->file, line, message ? message : "error"});
}

// Refuses every include: rules are data from the server and must not read other files.
const char* RefuseInclude(const char*, const char*, const char*, void*) { return nullptr; }

CompilerPtr NewCompiler() {
  YR_COMPILER* c = nullptr;
  if (yr_compiler_create(&c) != ERROR_SUCCESS) return nullptr;
  yr_compiler_set_include_callback(c, RefuseInclude, nullptr, nullptr);
  return CompilerPtr(c);
}

std::string NamespaceOf(const std::string& file) {
  std::string ns = sensor::BaseName(file);
  for (char& ch : ns) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') ch = '_';
  }
  return ns;
}

struct MatchCollector {
  std::vector<YaraMatch>* out;
};

int OnScanMessage(YR_SCAN_CONTEXT*, int message, void* data, void* user) {
  if (message != CALLBACK_MSG_RULE_MATCHING) return CALLBACK_CONTINUE;
  auto* rule = static_cast<YR_RULE*>(data);
  YaraMatch m;
  m.rule = std::string(rule->ns->name) + ":" + rule->identifier;
  const YR_META* meta;
  yr_rule_metas_foreach(rule, meta) {
    if (meta->type == META_TYPE_STRING && std::strcmp(meta->identifier, "threat_name") == 0) m.threat_name = meta->string;
  }
  if (m.threat_name.empty()) m.threat_name = std::string("Ward:YARA/") + rule->identifier;
  static_cast<MatchCollector*>(user)->out->push_back(std::move(m));
  return CALLBACK_CONTINUE;
}

}  // namespace

std::string RuleFileError::ToString() const {
  return file + ":" + std::to_string(line) + ": " + message;
}

YaraRuleSet::~YaraRuleSet() {
  if (rules_ != nullptr) yr_rules_destroy(rules_);
}

Result<std::shared_ptr<const YaraRuleSet>> YaraRuleSet::Compile(const std::vector<Source>& sources) {
  if (!EnsureYara()) return Err(Internal("yr_initialize failed"));
  std::shared_ptr<YaraRuleSet> set(new YaraRuleSet());
  // A YARA compiler is unusable after its first error, so each file is first tried alone; only
  // those that compile go into the final compiler.
  std::vector<const Source*> good;
  for (const Source& src : sources) {
    CompilerPtr trial = NewCompiler();
    if (!trial) return Err(Internal("yr_compiler_create failed"));
    CompileErrors ctx{src.file, &set->errors_};
    yr_compiler_set_callback(trial.get(), OnCompilerMessage, &ctx);
    size_t before = set->errors_.size();
    if (yr_compiler_add_string(trial.get(), src.text.c_str(), NamespaceOf(src.file).c_str()) == 0) {
      good.push_back(&src);
    } else if (set->errors_.size() == before) {
      set->errors_.push_back({src.file, 0, "does not compile"});
    }
  }
  CompilerPtr compiler = NewCompiler();
  if (!compiler) return Err(Internal("yr_compiler_create failed"));
  CompileErrors ctx{"", &set->errors_};
  yr_compiler_set_callback(compiler.get(), OnCompilerMessage, &ctx);
  std::set<std::string> namespaces;
  for (const Source* src : good) {
    ctx.file = src->file;
    // A state-dir file named like a built-in one (an updated eicar.yar) gets its own namespace, so
    // equal rule names in the two cannot collide.
    std::string ns = NamespaceOf(src->file);
    for (int n = 2; !namespaces.insert(ns).second; ++n) ns = NamespaceOf(src->file) + "_" + std::to_string(n);
    if (yr_compiler_add_string(compiler.get(), src->text.c_str(), ns.c_str()) != 0) {
      // Compiled alone but not together (e.g. two files with the same name): nothing more can be
      // added, so report and keep what came before.
      return Err(Internal("YARA rules compiled alone but not together: " + src->file));
    }
    set->files_.push_back(src->file);
  }
  if (yr_compiler_get_rules(compiler.get(), &set->rules_) != ERROR_SUCCESS) {
    return Err(Internal("yr_compiler_get_rules failed"));
  }
  set->rule_count_ = set->rules_->num_rules;
  return std::shared_ptr<const YaraRuleSet>(std::move(set));
}

Result<std::shared_ptr<const YaraRuleSet>> YaraRuleSet::Load(const std::string& rules_dir) {
  std::vector<Source> sources;
  for (const BuiltinYaraRule& r : BuiltinYaraRules()) sources.push_back({std::string(r.file), std::string(r.text)});
  std::vector<RuleFileError> read_errors;
  std::error_code ec;
  if (!rules_dir.empty() && std::filesystem::is_directory(rules_dir, ec)) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(rules_dir, ec)) {
      std::string ext = entry.path().extension().string();
      if (ext == ".yar" || ext == ".yara") names.push_back(entry.path().string());
    }
    std::sort(names.begin(), names.end());
    for (const std::string& path : names) {
      auto f = OpenRegular(path);
      Result<std::string> text = f ? ReadFd(f->fd.get(), 16 * 1024 * 1024, true) : Err(f.error());
      if (!text) {
        read_errors.push_back({path, 0, text.error().message()});
        continue;
      }
      sources.push_back({path, std::move(*text)});
    }
  }
  WARD_ASSIGN_OR_RETURN(auto set, Compile(sources));
  if (!read_errors.empty()) {
    auto* mut = const_cast<YaraRuleSet*>(set.get());  // still private to this function
    mut->errors_.insert(mut->errors_.begin(), read_errors.begin(), read_errors.end());
  }
  return set;
}

Result<std::vector<YaraMatch>> YaraRuleSet::Scan(std::string_view data, int timeout_seconds) const {
  std::vector<YaraMatch> matches;
  if (rules_ == nullptr) return matches;
  MatchCollector collector{&matches};
  int rc = yr_rules_scan_mem(rules_, reinterpret_cast<const uint8_t*>(data.data()), data.size(), SCAN_FLAGS_FAST_MODE,
                             OnScanMessage, &collector, timeout_seconds);
  if (rc == ERROR_SCAN_TIMEOUT) return Err(ResourceExhausted("YARA scan timed out"));
  if (rc != ERROR_SUCCESS) return Err(Internal("YARA scan failed (error " + std::to_string(rc) + ")"));
  return matches;
}

HashIndicators HashIndicatorsFromPolicy(const json::Value& policy) {
  HashIndicators out;
  const json::Value* list = policy.Find("indicators");
  if (list == nullptr || !list->is_array()) return out;
  std::set<std::string> allowed;
  for (const json::Value& ind : list->items()) {
    auto type = ind.GetString("indicatorType");
    auto value = ind.GetString("indicatorValue");
    if (!type || !value) continue;
    std::string v = ToLower(*value);
    if (ind.GetString("action").value_or("") == "Allowed") {
      allowed.insert(v);
    } else if (*type == "FileSha1" && IsHex(v, 40)) {
      out.sha1.emplace(v, *type);
    } else if (*type == "FileSha256" && IsHex(v, 64)) {
      out.sha256.emplace(v, *type);
    } else if (*type == "FileMd5" && IsHex(v, 32)) {
      out.md5.emplace(v, *type);
    }
  }
  for (const std::string& v : allowed) {
    out.sha1.erase(v);
    out.sha256.erase(v);
    out.md5.erase(v);
  }
  return out;
}

namespace {

std::string DecodeMountField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t j) { return s[j] >= '0' && s[j] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 3)), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Filesystems whose files live on this machine. Everything else (proc, sysfs, cgroup, devtmpfs,
// nfs, cifs, fuse.*, 9p, ...) is pseudo or remote and never walked by a Full scan.
bool IsLocalFsType(std::string_view type) {
  static const std::set<std::string_view> kLocal = {"ext2",  "ext3",  "ext4", "xfs",   "btrfs",   "zfs",
                                                    "f2fs",  "jfs",   "reiserfs", "vfat", "exfat", "ntfs",
                                                    "ntfs3", "tmpfs", "overlay", "squashfs", "bcachefs"};
  return kLocal.count(type) > 0;
}

}  // namespace

std::vector<std::string> LocalMountPoints(std::string_view proc_mounts) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::string_view line : sensor::SplitLines(proc_mounts)) {
    auto f = sensor::SplitFields(line, 3);
    if (f.size() < 3 || !IsLocalFsType(f[2])) continue;
    std::string mp = DecodeMountField(f[1]);
    if (StartsWith(mp, "/proc") || StartsWith(mp, "/sys") || (StartsWith(mp, "/dev") && !StartsWith(mp, "/dev/shm")) ||
        StartsWith(mp, "/run/user")) {
      continue;
    }
    if (seen.insert(mp).second) out.push_back(mp);
  }
  return out;
}

std::vector<ScanRoot> DefaultScanRoots(std::string_view scan_type) {
  std::vector<ScanRoot> roots;
  if (scan_type == "Full") {
    for (std::string& mp : LocalMountPoints(sensor::ReadFile("/proc/self/mounts").value_or(""))) {
      roots.push_back({std::move(mp), -1});
    }
    return roots;
  }
  // Temp directories only near the top: droppers write there, while build trees and caches that
  // also live under /tmp would make a "quick" scan read gigabytes.
  for (const char* p : {"/tmp", "/var/tmp"}) roots.push_back({p, 2});
  for (const char* p : {"/dev/shm", "/usr/local/bin", "/usr/local/sbin", "/etc/systemd/system",
                        "/lib/systemd/system", "/var/spool/cron"}) {
    roots.push_back({p, -1});
  }
  std::error_code ec;
  for (const std::string& h : HomeDirectories()) {
    roots.push_back({h, 0});
    roots.push_back({h + "/Downloads", -1});
  }
  for (const auto& e : std::filesystem::directory_iterator("/etc", ec)) {
    if (StartsWith(e.path().filename().string(), "cron")) roots.push_back({e.path().string(), -1});
  }
  return roots;
}

json::Value ScanResult::ToJson() const {
  json::Value v = json::Value::Object();
  v.AppendMember("scanType", json::Value(scan_type));
  v.AppendMember("filesScanned", json::Value(static_cast<int64_t>(files_scanned)));
  v.AppendMember("bytesScanned", json::Value(static_cast<int64_t>(bytes_scanned)));
  v.AppendMember("filesSkipped", json::Value(static_cast<int64_t>(files_skipped)));
  v.AppendMember("errorCount", json::Value(static_cast<int64_t>(error_count)));
  v.AppendMember("errors", StringArray(errors));
  json::Value rerrs = json::Value::Array();
  for (const RuleFileError& e : rule_errors) rerrs.Append(json::Value(e.ToString()));
  v.AppendMember("ruleErrors", std::move(rerrs));
  v.AppendMember("cancelled", json::Value(cancelled));
  json::Value dets = json::Value::Array();
  for (const Detection& d : detections) {
    json::Value o = json::Value::Object();
    o.AppendMember("path", json::Value(d.path));
    o.AppendMember("sha1", json::Value(d.sha1));
    o.AppendMember("sha256", json::Value(d.sha256));
    o.AppendMember("md5", json::Value(d.md5));
    if (!d.rule.empty()) o.AppendMember("rule", json::Value(d.rule));
    if (!d.indicator_value.empty()) o.AppendMember("indicatorValue", json::Value(d.indicator_value));
    o.AppendMember("threatName", json::Value(d.threat_name));
    dets.Append(std::move(o));
  }
  v.AppendMember("detections", std::move(dets));
  return v;
}

namespace {

constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassIdle = 3;

// Lowers the calling thread's CPU and I/O priority for the scan and puts them back afterwards (the
// channel reuses its thread for later actions). On Linux both apply to the thread (tid), not the
// whole sensor.
class LowPriorityScope {
 public:
  explicit LowPriorityScope(bool enable) : enabled_(enable) {
    if (!enabled_) return;
    tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
    errno = 0;
    old_nice_ = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid_));
    nice_saved_ = errno == 0;
    old_ioprio_ = static_cast<int>(::syscall(SYS_ioprio_get, kIoprioWhoProcess, tid_));
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid_), 19);
    ::syscall(SYS_ioprio_set, kIoprioWhoProcess, tid_, kIoprioClassIdle << kIoprioClassShift);
  }
  ~LowPriorityScope() {
    if (!enabled_) return;
    if (old_ioprio_ >= 0) ::syscall(SYS_ioprio_set, kIoprioWhoProcess, tid_, old_ioprio_);
    if (nice_saved_) ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid_), old_nice_);
  }
  LowPriorityScope(const LowPriorityScope&) = delete;
  LowPriorityScope& operator=(const LowPriorityScope&) = delete;

 private:
  bool enabled_;
  pid_t tid_ = 0;
  int old_nice_ = 0;
  bool nice_saved_ = false;
  int old_ioprio_ = -1;
};

json::Value DetectionEvent(const Detection& d, std::string_view scan_type) {
  json::Value ev = sensor::NewEvent(kDeviceEventsTable, "AntivirusDetection");
  ev.AppendMember("FileName", json::Value(sensor::BaseName(d.path)));
  ev.AppendMember("FolderPath", json::Value(d.path));
  sensor::SetIfNotEmpty(ev, "SHA1", d.sha1);
  sensor::SetIfNotEmpty(ev, "SHA256", d.sha256);
  sensor::SetIfNotEmpty(ev, "MD5", d.md5);
  ev.AppendMember("FileSize", json::Value(d.size));
  json::Writer af;
  af.StartObject().KV("ThreatName", d.threat_name);
  if (!d.rule.empty()) af.KV("Rule", d.rule);
  if (!d.indicator_value.empty()) af.KV("IndicatorValue", d.indicator_value).KV("IndicatorType", d.indicator_type);
  af.KV("ScanType", std::string(scan_type)).EndObject();
  ev.AppendMember("AdditionalFields", json::Value(af.Take()));
  return ev;
}

class ScanRun {
 public:
  ScanRun(const YaraRuleSet& rules, const HashIndicators& indicators, const ScanOptions& options,
          sensor::EventSink* sink)
      : rules_(rules), indicators_(indicators), options_(options), sink_(sink),
        start_(std::chrono::steady_clock::now()) {
    result_.scan_type = options.scan_type;
    result_.rule_errors = rules.errors();
  }

  ScanResult Run() {
    LowPriorityScope priority(options_.lower_priority);
    std::vector<ScanRoot> roots = options_.roots.empty() ? DefaultScanRoots(options_.scan_type) : options_.roots;
    for (const ScanRoot& root : roots) {
      if (Stopped()) break;
      WalkRoot(root);
    }
    if (!Stopped() && options_.scan_type != "Full" && options_.scan_process_images) ScanProcessImages();
    result_.cancelled = Stopped();
    EmitCompleted();
    return std::move(result_);
  }

 private:
  bool Stopped() {
    if (!result_.cancelled && options_.cancelled && options_.cancelled()) result_.cancelled = true;
    return result_.cancelled;
  }

  void Error(const std::string& path, const std::string& why) {
    ++result_.error_count;
    if (result_.errors.size() < options_.max_error_messages) result_.errors.push_back(path + ": " + why);
  }

  bool Excluded(const std::string& path) const {
    for (const std::string& ex : options_.exclude) {
      if (path == ex || (StartsWith(path, ex) && (ex.back() == '/' || path[ex.size()] == '/'))) return true;
    }
    return false;
  }

  // Walks one root without following links and without leaving its filesystem.
  void WalkRoot(const ScanRoot& root) {
    struct stat st {};
    if (::lstat(root.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || Excluded(root.path)) return;
    struct Pending {
      std::string path;
      int depth;
    };
    std::vector<Pending> stack = {{root.path, 0}};
    const dev_t dev = st.st_dev;
    while (!stack.empty() && !Stopped()) {
      Pending dir = std::move(stack.back());
      stack.pop_back();
      sensor::UniqueFd dfd(::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dfd.valid()) {
        Error(dir.path, std::strerror(errno));
        continue;
      }
      DIR* d = ::fdopendir(dfd.get());
      if (d == nullptr) continue;
      dfd.Release();  // owned by d now
      std::vector<std::string> files;
      while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string path = sensor::JoinPath(dir.path, name);
        unsigned char type = e->d_type;
        if (type == DT_UNKNOWN) {
          struct stat est {};
          if (::fstatat(::dirfd(d), e->d_name, &est, AT_SYMLINK_NOFOLLOW) != 0) continue;
          type = S_ISDIR(est.st_mode) ? DT_DIR : S_ISREG(est.st_mode) ? DT_REG : DT_LNK;
        }
        if (type == DT_REG) {
          files.push_back(std::move(path));
        } else if (type == DT_DIR && (root.max_depth < 0 || dir.depth < root.max_depth) && !Excluded(path)) {
          struct stat dst {};
          // A mount point below the root is another filesystem: a Full scan walks it as its own root
          // (when local) and a Quick scan has no business there.
          if (::fstatat(::dirfd(d), e->d_name, &dst, AT_SYMLINK_NOFOLLOW) == 0 && dst.st_dev == dev) {
            stack.push_back({std::move(path), dir.depth + 1});
          }
        }
      }
      ::closedir(d);
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) {
        if (Stopped()) return;
        if (!Excluded(f)) ScanPath(f);
      }
    }
  }

  void ScanPath(const std::string& path) {
    auto f = OpenRegular(path);
    if (!f) {
      if (f.error().code() != StatusCode::kFailedPrecondition) Error(path, f.error().message());
      return;
    }
    ScanOpen(path, *f);
  }

  void ScanProcessImages() {
    for (int pid : sensor::ListPids()) {
      if (Stopped()) return;
      std::string link = "/proc/" + std::to_string(pid) + "/exe";
      auto f = OpenRegular(link, /*follow_symlinks=*/true);  // the magic link opens even a deleted image
      if (!f) continue;  // kernel threads, exited, or not ours to read
      std::string path = ReadLink(link);
      if (path.empty()) path = link;
      ScanOpen(path, *f);
    }
  }

  void ScanOpen(const std::string& path, OpenFile& f) {
    if (!seen_.insert({f.st.st_dev, f.st.st_ino}).second) return;  // overlapping roots, hard links
    if (f.st.st_size > options_.max_file_size) {
      ++result_.files_skipped;
      return;
    }
    auto data = ReadFd(f.fd.get(), options_.max_file_size, true);
    if (!data) {
      Error(path, data.error().message());
      return;
    }
    ++result_.files_scanned;
    result_.bytes_scanned += data->size();
    auto matches = rules_.Scan(*data, options_.yara_timeout_seconds);
    if (!matches) Error(path, matches.error().message());
    const bool matched = matches && !matches->empty();
    if (matched || !indicators_.empty()) {
      Detection base;
      base.path = path;
      base.size = static_cast<int64_t>(data->size());
      base.sha1 = HexEncode(Sha1(*data));
      base.sha256 = HexEncode(Sha256(*data));
      base.md5 = HexEncode(Md5(*data));
      if (matches) {
        for (YaraMatch& m : *matches) {
          Detection d = base;
          d.rule = std::move(m.rule);
          d.threat_name = std::move(m.threat_name);
          Report(std::move(d));
        }
      }
      CheckIndicator(base, indicators_.sha1, base.sha1);
      CheckIndicator(base, indicators_.sha256, base.sha256);
      CheckIndicator(base, indicators_.md5, base.md5);
    }
    ReportProgress();
    Throttle();
  }

  void CheckIndicator(const Detection& base, const std::unordered_map<std::string, std::string>& set,
                      const std::string& hash) {
    auto it = set.find(hash);
    if (it == set.end()) return;
    Detection d = base;
    d.indicator_type = it->second;
    d.indicator_value = hash;
    d.threat_name = "Ward:CustomIndicator/" + it->second;
    Report(std::move(d));
  }

  void Report(Detection d) {
    if (sink_ != nullptr) sink_->Emit(DetectionEvent(d, options_.scan_type));
    result_.detections.push_back(std::move(d));
  }

  void ReportProgress() {
    if (!options_.progress || result_.files_scanned % 500 != 0) return;
    json::Value p = json::Value::Object();
    p.AppendMember("scannedFiles", json::Value(static_cast<int64_t>(result_.files_scanned)));
    p.AppendMember("detections", json::Value(static_cast<int64_t>(result_.detections.size())));
    options_.progress(p);
  }

  // Sleeps until the scan is no faster than the configured files and bytes per second.
  void Throttle() {
    double need = 0;
    if (options_.max_files_per_second > 0) {
      need = std::max(need, static_cast<double>(result_.files_scanned) / static_cast<double>(options_.max_files_per_second));
    }
    if (options_.max_bytes_per_second > 0) {
      need = std::max(need, static_cast<double>(result_.bytes_scanned) / static_cast<double>(options_.max_bytes_per_second));
    }
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (need > elapsed) {
      auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(need - elapsed));
      if (!SleepUnlessCancelled(wait, options_.cancelled)) result_.cancelled = true;
    }
  }

  void EmitCompleted() {
    if (sink_ == nullptr) return;
    // MDE reports a scan stopped before its end as AntivirusScanCancelled.
    json::Value ev = sensor::NewEvent(kDeviceEventsTable, result_.cancelled ? "AntivirusScanCancelled" : "AntivirusScanCompleted");
    json::Writer af;
    af.StartObject().KV("ScanType", result_.scan_type);
    af.KV("FilesScanned", static_cast<int64_t>(result_.files_scanned));
    af.KV("BytesScanned", static_cast<int64_t>(result_.bytes_scanned));
    af.KV("FilesSkipped", static_cast<int64_t>(result_.files_skipped));
    af.KV("Detections", static_cast<int64_t>(result_.detections.size()));
    af.KV("Errors", static_cast<int64_t>(result_.error_count));
    af.KV("RuleErrors", static_cast<int64_t>(result_.rule_errors.size())).EndObject();
    ev.AppendMember("AdditionalFields", json::Value(af.Take()));
    sink_->Emit(std::move(ev));
  }

  struct DevIno {
    dev_t dev;
    ino_t ino;
    bool operator==(const DevIno&) const = default;
  };
  struct DevInoHash {
    size_t operator()(const DevIno& k) const { return std::hash<uint64_t>()(k.ino * 31 + k.dev); }
  };

  const YaraRuleSet& rules_;
  const HashIndicators& indicators_;
  const ScanOptions& options_;
  sensor::EventSink* sink_;
  std::chrono::steady_clock::time_point start_;
  ScanResult result_;
  std::unordered_set<DevIno, DevInoHash> seen_;
};

}  // namespace

ScanResult RunScan(const YaraRuleSet& rules, const HashIndicators& indicators, const ScanOptions& options,
                   sensor::EventSink* sink) {
  return ScanRun(rules, indicators, options, sink).Run();
}

}  // namespace ward::response
