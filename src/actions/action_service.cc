#include "actions/action_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <filesystem>

#include "common/crypto.h"
#include "common/log.h"
#include "common/time.h"

namespace ward::actions {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 9> kTypes = {
    "RunAntiVirusScan", "Offboard", "LiveResponse", "CollectInvestigationPackage", "Isolate",
    "Unisolate", "StopAndQuarantineFile", "RestrictCodeExecution", "UnrestrictCodeExecution"};

bool IsOpenStatus(std::string_view s) { return s == "Pending" || s == "InProgress"; }

std::string FileDir(const std::string& root, const std::string& tenant, const std::string& id) {
  return root + "/" + tenant + "/" + id;
}

// Ids come from the store (GUIDs) and tenants from tokens; paths are built only from these checked forms.
bool SafePathPart(std::string_view s) {
  return !s.empty() && s.size() < 100 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

}  // namespace

bool IsActionType(std::string_view type) { return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end(); }

ActionService::ActionService(state::StateStore& store, ActionOptions options) : store_(store), options_(std::move(options)) {}

ActionService::~ActionService() { Stop(); }

void ActionService::Start() {
  std::lock_guard lock(mu_);
  if (sweeper_.joinable()) return;
  stop_ = false;
  sweeper_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      changed_.wait_for(lock, options_.sweep_interval, [this] { return stop_; });
      if (stop_) break;
      lock.unlock();
      Sweep(NowMs());
      lock.lock();
    }
  });
}

void ActionService::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

void ActionService::IndexLocked(const state::MachineAction& a) {
  DeviceKey key{a.tenant_id, a.machine_id};
  if (IsOpenStatus(a.status)) {
    open_[key].insert(a.id);
  } else if (auto it = open_.find(key); it != open_.end()) {
    it->second.erase(a.id);
    if (it->second.empty()) open_.erase(it);
  }
}

void ActionService::LoadTenantLocked(const std::string& tenant) {
  if (loaded_tenants_.count(tenant)) return;
  auto all = state::Repo<state::MachineAction>(store_).List(tenant);
  if (!all) {
    log::Warn("cannot load machine actions", {{"tenant", tenant}, {"error", all.error().message()}});
    return;
  }
  for (const auto& a : *all) IndexLocked(a);
  loaded_tenants_.insert(tenant);
}

Result<state::MachineAction> ActionService::Create(const NewAction& n, int64_t now_ms) {
  if (!n.machine) return Err(InvalidArgument("no machine"));
  state::MachineAction a;
  a.tenant_id = n.tenant_id;
  a.id = NewGuid();
  a.type = n.type;
  a.scope = n.scope;
  a.title = n.title;
  a.requestor = n.requestor;
  a.requestor_comment = n.comment;
  a.external_id = n.external_id;
  a.machine_id = n.machine->id;
  a.computer_dns_name = n.machine->computer_dns_name;
  a.creation_ms = a.last_update_ms = now_ms;
  a.related_file_identifier = n.related_file;
  a.related_file_identifier_type = n.related_file_type;
  a.params_json = n.params_json;
  a.commands_json = n.commands_json;
  Status st = state::Repo<state::MachineAction>(store_).Insert(a);
  if (st.code() == StatusCode::kAlreadyExists) return Err(FailedPrecondition("Action is already in progress"));
  if (!st.ok()) return Err(st);
  {
    std::lock_guard lock(mu_);
    LoadTenantLocked(a.tenant_id);
    IndexLocked(a);
  }
  changed_.notify_all();
  return a;
}

Result<state::MachineAction> ActionService::Finish(state::MachineAction a) {
  {
    std::lock_guard lock(mu_);
    IndexLocked(a);
  }
  changed_.notify_all();
  return a;
}

Result<state::MachineAction> ActionService::Cancel(const std::string& tenant, const std::string& id,
                                                   const std::string& requestor, const std::string& comment,
                                                   int64_t now_ms) {
  auto updated = state::Repo<state::MachineAction>(store_).Mutate(tenant, id, [&](state::MachineAction& a) -> Status {
    if (a.IsFinal()) return FailedPrecondition("Action " + a.id + " is already " + a.status + " and cannot be cancelled");
    a.status = "Cancelled";
    a.cancellation_requestor = requestor;
    a.cancellation_comment = comment;
    a.cancellation_ms = a.last_update_ms = now_ms;
    return Status::Ok();
  });
  if (!updated) return Err(updated.error());
  return Finish(std::move(*updated));
}

std::vector<state::MachineAction> ActionService::OpenFor(const std::string& tenant, const std::string& device) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    LoadTenantLocked(tenant);
    auto it = open_.find({tenant, device});
    if (it != open_.end()) ids.assign(it->second.begin(), it->second.end());
  }
  std::vector<state::MachineAction> out;
  state::Repo<state::MachineAction> repo(store_);
  for (const std::string& id : ids) {
    auto a = repo.Get(tenant, id);
    if (a && IsOpenStatus(a->status)) {
      out.push_back(std::move(*a));
    } else if (a) {
      std::lock_guard lock(mu_);
      IndexLocked(*a);  // finished on another node
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.creation_ms < y.creation_ms; });
  return out;
}

bool ActionService::SyncTenant(const std::string& tenant) {
  if (options_.refresh.count() <= 0) return false;
  int64_t since = 0;
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    auto& t = synced_[tenant];
    if (now - t.at < options_.refresh) return false;
    t.at = now;
    since = t.store_ms;
    t.store_ms = NowMs() - 1000;  // overlap: the store's clock and ours may differ slightly
  }
  auto changed = state::Repo<state::MachineAction>(store_).ListUpdatedSince(tenant, since);
  if (!changed) return false;
  bool opened = false;
  std::lock_guard lock(mu_);
  for (const auto& a : *changed) {
    opened |= IsOpenStatus(a.status) && !open_[{a.tenant_id, a.machine_id}].count(a.id);
    IndexLocked(a);
  }
  if (opened) changed_.notify_all();
  return opened;
}

std::vector<state::MachineAction> ActionService::Poll(const std::string& tenant, const std::string& device,
                                                      std::chrono::milliseconds wait,
                                                      const std::function<bool()>& gone) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  bool waiting = false;
  while (true) {
    std::vector<state::MachineAction> open = OpenFor(tenant, device);
    if (!open.empty()) {
      if (waiting) {
        std::lock_guard lock(mu_);
        --long_polls_;
      }
      return open;
    }
    if (SyncTenant(tenant)) continue;
    std::unique_lock lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (!waiting) {
      if (wait.count() <= 0 || long_polls_ >= options_.max_long_polls) return {};
      ++long_polls_;
      waiting = true;
    }
    now = std::chrono::steady_clock::now();
    if (now >= deadline || stop_ || (gone && gone())) {
      --long_polls_;
      return {};
    }
    changed_.wait_until(lock, std::min(deadline, now + std::chrono::seconds(1)));
  }
}

Result<state::MachineAction> ActionService::Report(const std::string& tenant, const std::string& device,
                                                   const std::string& id, const SensorReport& r, int64_t now_ms) {
  if (r.status != "InProgress" && r.status != "Succeeded" && r.status != "Failed") {
    return Err(InvalidArgument("status must be InProgress, Succeeded or Failed"));
  }
  auto updated = state::Repo<state::MachineAction>(store_).Mutate(tenant, id, [&](state::MachineAction& a) -> Status {
    if (a.machine_id != device) return NotFound("MachineAction " + id + " was not found");
    if (a.IsFinal()) return Status::Ok();  // cancelled or timed out meanwhile: the reply tells the sensor
    a.status = r.status;
    a.last_update_ms = a.sensor_update_ms = now_ms;
    if (!r.details_json.empty()) a.result_json = r.details_json;
    if (!r.failure_reason.empty()) a.failure_reason = r.failure_reason;
    if (!r.commands_json.empty()) a.commands_json = r.commands_json;
    if (r.status == "Failed") a.error_hresult = -2147467259;  // E_FAIL, as MDE reports failed commands
    return Status::Ok();
  });
  if (!updated) return Err(updated.error());
  return Finish(std::move(*updated));
}

Status ActionService::PutFile(const std::string& tenant, const std::string& device, const std::string& id, int index,
                              std::string_view bytes) {
  if (bytes.size() > options_.max_file_bytes) return ResourceExhausted("file larger than " + std::to_string(options_.max_file_bytes) + " bytes");
  if (index < 0 || index > 1000) return InvalidArgument("index out of range");
  auto a = state::Repo<state::MachineAction>(store_).Get(tenant, id);
  if (!a || a->machine_id != device) return NotFound("MachineAction " + id + " was not found");
  if (!SafePathPart(tenant) || !SafePathPart(id)) return InvalidArgument("bad identifier");
  std::error_code ec;
  const std::string dir = FileDir(options_.files_dir, tenant, id);
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir + ": " + ec.message());
  const std::string path = dir + "/" + std::to_string(index);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot write " + tmp);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) {
      ::close(fd);
      return Internal("cannot write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot rename " + tmp);
  return Status::Ok();
}

Result<std::string> ActionService::FilePath(const std::string& tenant, const std::string& id, int index) const {
  if (!SafePathPart(tenant) || !SafePathPart(id) || index < 0) return Err(NotFound("no such file"));
  std::string path = FileDir(options_.files_dir, tenant, id) + "/" + std::to_string(index);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Err(NotFound("no such file"));
  return path;
}

int ActionService::Sweep(int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> candidates;  // tenant, id
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, ids] : open_) {
      for (const auto& id : ids) candidates.emplace_back(key.tenant, id);
    }
  }
  int changed = 0;
  state::Repo<state::MachineAction> repo(store_);
  for (const auto& [tenant, id] : candidates) {
    bool timed_out = false;
    auto updated = repo.Mutate(tenant, id, [&](state::MachineAction& a) -> Status {
      timed_out = false;
      if (a.IsFinal()) return Status::Ok();
      const int64_t since = a.status == "Pending" ? a.creation_ms : std::max(a.sensor_update_ms, a.creation_ms);
      const auto limit = a.status == "Pending" ? options_.pending_timeout : options_.running_timeout;
      if (now_ms - since < limit.count()) return Status::Ok();
      a.status = "TimeOut";
      a.last_update_ms = now_ms;
      a.failure_reason = a.sensor_update_ms ? "the device stopped reporting progress" : "the device did not pick the action up";
      timed_out = true;
      return Status::Ok();
    });
    if (!updated) continue;
    std::lock_guard lock(mu_);
    IndexLocked(*updated);
    changed += timed_out;
  }
  if (changed) changed_.notify_all();
  return changed;
}

Result<std::string> LoadOrCreateLinkKey(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  auto read_key = [&]() -> Result<std::string> {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Err(NotFound(path));
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    if (n >= 32) return std::string(buf, static_cast<size_t>(n));
    return Err(Internal(path + " is too short to be a link key"));
  };
  if (auto key = read_key(); key || key.error().code() != StatusCode::kNotFound) return key;
  // Several nodes may start at once on a shared directory: the key is written to a file of this
  // process's own and published with link(2), which fails if another node published first; then
  // that node's key is the one.
  std::string key = RandomBytes(32);
  const std::string tmp = path + "." + std::to_string(::getpid()) + "." + HexEncode(RandomBytes(4)) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, key.data(), key.size()) != static_cast<ssize_t>(key.size())) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return Err(Internal("cannot write " + tmp));
  }
  ::fsync(fd);
  ::close(fd);
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return key;
  if (link_errno == EEXIST) return read_key();
  return Err(Internal("cannot create " + path));
}

std::string DownloadLinks::Sign(const std::string& tenant, const std::string& action_id, int index, int64_t expires_ms) const {
  const std::string e = std::to_string(expires_ms / 1000);
  const std::string mac = HexEncode(HmacSha256(key_, tenant + "\n" + action_id + "\n" + std::to_string(index) + "\n" + e));
  return "t=" + tenant + "&e=" + e + "&s=" + mac;
}

Status DownloadLinks::Verify(const std::string& tenant, const std::string& action_id, int index, std::string_view expires,
                             std::string_view signature, int64_t now_ms) const {
  const std::string want = HexEncode(HmacSha256(key_, tenant + "\n" + action_id + "\n" + std::to_string(index) + "\n" + std::string(expires)));
  if (!ConstantTimeEquals(want, signature)) return PermissionDenied("The link is invalid");
  int64_t e = 0;
  for (char c : expires) {
    if (c < '0' || c > '9' || e > INT64_MAX / 10 - 10) return PermissionDenied("The link is invalid");
    e = e * 10 + (c - '0');
  }
  if (e * 1000 < now_ms) return PermissionDenied("The link has expired");
  return Status::Ok();
}

}  // namespace ward::actions
