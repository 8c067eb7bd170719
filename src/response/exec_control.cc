#include "response/exec_control.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "json/json.h"

namespace ward::response {

namespace {

std::unordered_set<std::string> LowerAll(std::unordered_set<std::string> in) {
  std::unordered_set<std::string> out;
  for (const auto& s : in) out.insert(sensor::AsciiLower(sensor::Trim(s)));
  return out;
}

// The path an open file has in our mount namespace ("" when unknown).
std::string FdPath(int fd) {
  char link[64], path[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, path, sizeof(path));
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string();
}

bool PathAllowed(const RestrictPolicy& policy, const std::string& path) {
  if (policy.allowed_paths.count(path)) return true;
  return std::any_of(policy.allowed_prefixes.begin(), policy.allowed_prefixes.end(),
                     [&](const std::string& prefix) { return !prefix.empty() && sensor::StartsWith(path, prefix); });
}

// Filesystems that hold no programs of their own, or whose files we must not read while an exec
// waits (network filesystems can stall for minutes).
bool SkippedFsType(std::string_view type) {
  static const std::unordered_set<std::string_view> kSkip = {
      "proc",     "sysfs",      "cgroup",  "cgroup2",  "devtmpfs", "devpts",      "securityfs", "debugfs",
      "tracefs",  "pstore",     "bpf",     "mqueue",   "hugetlbfs", "configfs",   "fusectl",    "binfmt_misc",
      "autofs",   "efivarfs",   "selinuxfs", "rpc_pipefs", "nsfs",  "nfs",        "nfs4",       "cifs",
      "smb3",     "smbfs",      "ceph",    "glusterfs", "fuse.sshfs", "afs"};
  return kSkip.count(type) > 0;
}

std::string DecodeMountPath(std::string_view raw) {
  auto octal = [&](size_t j) { return j < raw.size() && raw[j] >= '0' && raw[j] <= '7'; };
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 + (raw[i + 3] - '0'));
      i += 3;
    } else {
      out += raw[i];
    }
  }
  return out;
}

json::Value StringArray(const std::vector<std::string>& items) {
  json::Value a = json::Value::Array();
  for (const auto& s : items) a.Append(s);
  return a;
}

std::vector<std::string> Sorted(const std::unordered_set<std::string>& set) {
  std::vector<std::string> v(set.begin(), set.end());
  std::sort(v.begin(), v.end());
  return v;
}

Result<std::vector<std::string>> ReadStrings(const json::Value& doc, std::string_view key) {
  std::vector<std::string> out;
  const json::Value* v = doc.Find(key);
  if (!v) return out;
  if (!v->is_array()) return Err(InvalidArgument("restriction state: " + std::string(key) + " is not an array"));
  for (const auto& item : v->items()) {
    if (!item.is_string()) return Err(InvalidArgument("restriction state: " + std::string(key) + " holds a non-string"));
    out.push_back(item.as_string());
  }
  return out;
}

const std::string* FindHash(const std::unordered_set<std::string>& set, const std::string& hash) {
  auto it = set.find(hash);
  return it == set.end() ? nullptr : &*it;
}

// The hash of `h` listed in `set` (SHA256 first), or nullptr.
const std::string* MatchHash(const HashSet& set, const sensor::FileHashes& h) {
  if (const auto* m = FindHash(set.sha256, h.sha256)) return m;
  return FindHash(set.sha1, h.sha1);
}

}  // namespace

std::vector<std::string> DefaultAllowedPrefixes() {
  return {"/usr/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/opt/", "/snap/"};
}

std::vector<std::string> ParseLocalMounts(std::string_view mountinfo) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (auto line : sensor::SplitLines(mountinfo)) {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
    auto fields = sensor::SplitFields(line, 64);
    if (fields.size() < 7) continue;
    size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash + 1 >= fields.size()) continue;
    if (SkippedFsType(fields[dash + 1])) continue;
    std::string mount_point = DecodeMountPath(fields[4]);
    if (seen.insert(mount_point).second) out.push_back(std::move(mount_point));
  }
  return out;
}

std::vector<std::string> LocalMounts() {
  auto text = sensor::ReadFile("/proc/self/mountinfo", 4 * 1024 * 1024);
  return text ? ParseLocalMounts(*text) : std::vector<std::string>{};
}

// ---------------------------------------------------------------- ExecControl

ExecControl::ExecControl(ExecControlOptions options) : options_(std::move(options)) {
  hashes_ = options_.hashes;
  if (!hashes_) {
    own_hashes_ = std::make_unique<sensor::HashCache>(4096, options_.max_hash_bytes);
    hashes_ = own_hashes_.get();
  }
  struct stat st {};
  if (::stat("/proc/self/exe", &st) == 0) {
    self_dev_ = st.st_dev;
    self_ino_ = st.st_ino;
  }
  policy_ = std::make_shared<Policy>();
}

ExecControl::~ExecControl() { Stop(); }

Status ExecControl::Start() {
  if (thread_.joinable()) return FailedPrecondition("exec control: already started");
  int fd = ::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fd < 0) return Unavailable(std::string("exec control: fanotify_init: ") + std::strerror(errno));
  fan_fd_.Reset(fd);
  marked_.clear();
  for (const auto& mount : options_.mounts) {
    if (::fanotify_mark(fan_fd_.get(), FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD, mount.c_str()) == 0) {
      marked_.push_back(mount);
    } else {
      log::Warn("exec control: cannot mark mount", {{"mount", mount}, {"error", std::strerror(errno)}});
    }
  }
  if (marked_.empty()) {
    fan_fd_.Reset();
    return Unavailable("exec control: no mount could be marked");
  }
  wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  stop_ = false;
  thread_ = std::thread([this] {
    sensor::SetThreadName("ward-exec");
    Run();
  });
  return Status::Ok();
}

void ExecControl::Stop() {
  stop_ = true;
  sensor::NotifyEventFd(wake_fd_);
  if (thread_.joinable()) thread_.join();
  // Closing the group allows whatever the kernel still holds and removes the marks.
  fan_fd_.Reset();
  wake_fd_.Reset();
}

std::vector<std::string> ExecControl::marked_mounts() const { return marked_; }

void ExecControl::Run() {
  while (!stop_) {
    pollfd fds[2] = {{fan_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      log::Error("exec control: poll failed", {{"error", std::strerror(errno)}});
      break;
    }
    if (fds[0].revents && !ReadAndAnswer(false)) break;
  }
  // Shutdown: whatever is queued is allowed now rather than when the descriptor closes.
  while (ReadAndAnswer(true)) {
  }
}

bool ExecControl::ReadAndAnswer(bool allow_all) {
  alignas(fanotify_event_metadata) char buf[16 * 1024];
  ssize_t len = ::read(fan_fd_.get(), buf, sizeof(buf));
  if (len < 0) {
    if (errno == EINTR) return true;
    if (errno != EAGAIN) log::Error("exec control: read failed", {{"error", std::strerror(errno)}});
    return false;
  }
  if (len == 0) return false;
  auto* meta = reinterpret_cast<const fanotify_event_metadata*>(buf);
  for (; FAN_EVENT_OK(meta, len); meta = FAN_EVENT_NEXT(meta, len)) {
    if (meta->fd < 0) continue;  // FAN_NOFD: nothing to answer
    sensor::UniqueFd fd(meta->fd);
    Verdict verdict;
    std::optional<json::Value> event;
    if (!allow_all && meta->vers == FANOTIFY_METADATA_VERSION && (meta->mask & FAN_OPEN_EXEC_PERM)) {
      try {
        verdict = Decide(fd.get(), *policy());
        // Built before answering: once denied, the process may exit before /proc can be read.
        if (!verdict.allow && options_.sink) event = DenyEvent(verdict, meta->pid);
      } catch (...) {  // e.g. std::bad_alloc: never leave an exec waiting on our bug
        verdict = Verdict{};
        event.reset();
        errors_.fetch_add(1);
      }
    }
    fanotify_response response{meta->fd, static_cast<__u32>(verdict.allow ? FAN_ALLOW : FAN_DENY)};
    if (::write(fan_fd_.get(), &response, sizeof(response)) != static_cast<ssize_t>(sizeof(response))) {
      log::Error("exec control: cannot answer an exec", {{"error", std::strerror(errno)}});
    }
    (verdict.allow ? allowed_ : denied_).fetch_add(1);
    if (event) options_.sink->Emit(std::move(*event));
  }
  return true;
}

ExecControl::Verdict ExecControl::Decide(int fd, const Policy& policy) {
  Verdict v;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    errors_.fetch_add(1);
    return v;
  }
  if (st.st_dev == self_dev_ && st.st_ino == self_ino_) return v;
  const RestrictPolicy* restriction = policy.restriction ? &*policy.restriction : nullptr;
  if (!restriction && policy.blocked.empty()) return v;

  v.path = FdPath(fd);
  bool path_ok = restriction && !v.path.empty() && PathAllowed(*restriction, v.path);
  if (!policy.blocked.empty() || (restriction && !path_ok)) {
    if (st.st_size <= options_.max_hash_bytes) v.hashes = hashes_->ForFd(fd, options_.max_hash_bytes);
  }
  if (v.hashes) {
    if (MatchHash(policy.allowed, *v.hashes)) return v;
    if (const std::string* hit = MatchHash(policy.blocked, *v.hashes)) {
      v.allow = false;
      v.reason = "Indicator";
      v.indicator_value = *hit;
      return v;
    }
  }
  if (restriction && !path_ok) {
    if (v.path.empty()) {  // cannot tell where it is: allow rather than guess
      errors_.fetch_add(1);
      return v;
    }
    if (v.hashes && restriction->allowed_sha256.count(v.hashes->sha256)) return v;
    v.allow = false;
    v.reason = "RestrictCodeExecution";
  }
  return v;
}

json::Value ExecControl::DenyEvent(const Verdict& verdict, int pid) {
  json::Value ev = sensor::NewEvent("DeviceEvents", kExecBlockedAction);
  sensor::SetIfNotEmpty(ev, "FileName", sensor::BaseName(verdict.path));
  sensor::SetIfNotEmpty(ev, "FolderPath", verdict.path);
  if (verdict.hashes) {
    ev.AppendMember("SHA1", json::Value(verdict.hashes->sha1));
    ev.AppendMember("SHA256", json::Value(verdict.hashes->sha256));
    ev.AppendMember("MD5", json::Value(verdict.hashes->md5));
    ev.AppendMember("FileSize", json::Value(verdict.hashes->size));
  }
  if (options_.processes) {
    sensor::AddInitiatingProcess(ev, *options_.processes, pid);
  } else if (pid > 0) {
    ev.AppendMember("InitiatingProcessId", json::Value(static_cast<int64_t>(pid)));
    std::string dir = "/proc/" + std::to_string(pid) + "/";
    if (auto comm = sensor::ReadFile(dir + "comm", 4096)) {
      sensor::SetIfNotEmpty(ev, "InitiatingProcessFileName", sensor::Trim(*comm));
    }
    if (auto cmdline = sensor::ReadFile(dir + "cmdline", 64 * 1024)) {
      sensor::SetIfNotEmpty(ev, "InitiatingProcessCommandLine", sensor::JoinCmdline(*cmdline));
    }
  }
  json::Writer af;
  af.StartObject().KV("Reason", verdict.reason);
  if (!verdict.indicator_value.empty()) af.KV("IndicatorValue", verdict.indicator_value);
  af.EndObject();
  ev.AppendMember("AdditionalFields", json::Value(af.Take()));
  return ev;
}

// ---------------------------------------------------------------- policy

std::shared_ptr<const ExecControl::Policy> ExecControl::policy() const {
  std::lock_guard lock(policy_mu_);
  return policy_;
}

void ExecControl::UpdatePolicy(const std::function<void(Policy&)>& change) {
  std::lock_guard lock(policy_mu_);
  auto next = std::make_shared<Policy>(*policy_);
  change(*next);
  policy_ = std::move(next);
}

void ExecControl::SetBlockedHashes(HashSet blocked) {
  blocked.sha256 = LowerAll(std::move(blocked.sha256));
  blocked.sha1 = LowerAll(std::move(blocked.sha1));
  UpdatePolicy([&](Policy& p) { p.blocked = std::move(blocked); });
}

void ExecControl::SetAllowedHashes(HashSet allowed) {
  allowed.sha256 = LowerAll(std::move(allowed.sha256));
  allowed.sha1 = LowerAll(std::move(allowed.sha1));
  UpdatePolicy([&](Policy& p) { p.allowed = std::move(allowed); });
}

void ExecControl::SetRestricted(bool restricted, RestrictPolicy policy) {
  policy.allowed_sha256 = LowerAll(std::move(policy.allowed_sha256));
  UpdatePolicy([&](Policy& p) {
    if (restricted) {
      p.restriction = std::move(policy);
    } else {
      p.restriction.reset();
    }
  });
}

bool ExecControl::restricted() const { return policy()->restriction.has_value(); }

std::optional<RestrictPolicy> ExecControl::restriction() const { return policy()->restriction; }

ExecControl::Stats ExecControl::stats() const { return Stats{allowed_.load(), denied_.load(), errors_.load()}; }

Status ExecControl::SaveState(const std::string& dir) const {
  auto r = restriction();
  json::Value doc = json::Value::Object();
  doc.Set("restricted", r.has_value());
  if (r) {
    doc.Set("allowedPrefixes", StringArray(r->allowed_prefixes));
    doc.Set("allowedSha256", StringArray(Sorted(r->allowed_sha256)));
    doc.Set("allowedPaths", StringArray(Sorted(r->allowed_paths)));
  }
  WARD_RETURN_IF_ERROR(sensor::MakeDirs(dir));
  return sensor::WriteFileAtomic(sensor::JoinPath(dir, kRestrictionStateFile), doc.Serialize());
}

Result<std::optional<RestrictPolicy>> ExecControl::LoadState(const std::string& dir) {
  auto text = sensor::ReadFile(sensor::JoinPath(dir, kRestrictionStateFile), 4 * 1024 * 1024);
  if (!text) return std::optional<RestrictPolicy>();
  WARD_ASSIGN_OR_RETURN(json::Value doc, json::Value::Parse(*text));
  if (!doc.is_object()) return Err(InvalidArgument("restriction state: not an object"));
  if (!doc.GetBool("restricted").value_or(false)) return std::optional<RestrictPolicy>();
  RestrictPolicy policy;
  if (doc.Find("allowedPrefixes")) {
    WARD_ASSIGN_OR_RETURN(policy.allowed_prefixes, ReadStrings(doc, "allowedPrefixes"));
  }
  WARD_ASSIGN_OR_RETURN(std::vector<std::string> hashes, ReadStrings(doc, "allowedSha256"));
  WARD_ASSIGN_OR_RETURN(std::vector<std::string> paths, ReadStrings(doc, "allowedPaths"));
  policy.allowed_sha256.insert(hashes.begin(), hashes.end());
  policy.allowed_paths.insert(paths.begin(), paths.end());
  return std::optional<RestrictPolicy>(std::move(policy));
}

Status ExecControl::Restore(const std::string& dir) {
  WARD_ASSIGN_OR_RETURN(std::optional<RestrictPolicy> saved, LoadState(dir));
  SetRestricted(saved.has_value(), saved ? std::move(*saved) : RestrictPolicy{});
  return Status::Ok();
}

}  // namespace ward::response
