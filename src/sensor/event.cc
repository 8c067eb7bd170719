#include "sensor/event.h"

#include <arpa/inet.h>

#include <cstring>

namespace ward::sensor {

json::Value NewEvent(std::string_view table, std::string_view action_type, int64_t ticks) {
  json::Value ev = json::Value::Object();
  ev.ReserveMembers(32);
  ev.AppendMember("$table", json::Value(table));
  ev.AppendMember("Timestamp", json::Value(FormatIsoTicks(ticks)));
  if (!action_type.empty()) ev.AppendMember("ActionType", json::Value(action_type));
  return ev;
}

void SetIfNotEmpty(json::Value& ev, std::string_view key, std::string_view value) {
  if (!value.empty()) ev.AppendMember(key, json::Value(value));
}

std::string ProcessFileName(const ProcessInfo& p) {
  if (!p.exe_path.empty()) return BaseName(p.exe_path);
  return p.comm;
}

void AddInitiatingProcess(json::Value& ev, const ProcessInfo* proc, const ProcessInfo* parent) {
  if (!proc) return;
  if (!proc->account_name.empty()) {
    ev.AppendMember("InitiatingProcessAccountDomain", json::Value(LocalDomain()));
    ev.AppendMember("InitiatingProcessAccountName", json::Value(proc->account_name));
  }
  if (proc->hashes) {
    ev.AppendMember("InitiatingProcessSHA1", json::Value(proc->hashes->sha1));
    ev.AppendMember("InitiatingProcessSHA256", json::Value(proc->hashes->sha256));
    ev.AppendMember("InitiatingProcessMD5", json::Value(proc->hashes->md5));
    ev.AppendMember("InitiatingProcessFileSize", json::Value(proc->hashes->size));
  }
  SetIfNotEmpty(ev, "InitiatingProcessFileName", ProcessFileName(*proc));
  SetIfNotEmpty(ev, "InitiatingProcessFolderPath", proc->exe_path);
  ev.AppendMember("InitiatingProcessId", json::Value(static_cast<int64_t>(proc->pid)));
  SetIfNotEmpty(ev, "InitiatingProcessCommandLine", proc->cmdline);
  if (proc->creation_time > 0) {
    ev.AppendMember("InitiatingProcessCreationTime", json::Value(FormatIsoTicks(proc->creation_time)));
  }
  if (proc->ppid > 0) ev.AppendMember("InitiatingProcessParentId", json::Value(static_cast<int64_t>(proc->ppid)));
  if (parent && parent->pid == proc->ppid) {
    SetIfNotEmpty(ev, "InitiatingProcessParentFileName", ProcessFileName(*parent));
    if (parent->creation_time > 0) {
      ev.AppendMember("InitiatingProcessParentCreationTime", json::Value(FormatIsoTicks(parent->creation_time)));
    }
  }
}

void AddInitiatingProcess(json::Value& ev, ProcessTable& table, int pid) {
  auto proc = table.Get(pid);
  if (!proc) {
    if (pid > 0) ev.AppendMember("InitiatingProcessId", json::Value(static_cast<int64_t>(pid)));
    return;
  }
  auto parent = proc->ppid > 0 ? table.Get(proc->ppid) : nullptr;
  AddInitiatingProcess(ev, proc.get(), parent.get());
}

std::string UnmapIpv4(std::string_view ip) {
  constexpr std::string_view kPrefix = "::ffff:";
  if (ip.size() > kPrefix.size() && StartsWith(ip, kPrefix) && ip.find('.') != std::string_view::npos) {
    return std::string(ip.substr(kPrefix.size()));
  }
  return std::string(ip);
}

std::string IpType(std::string_view ip_text) {
  std::string ip(ip_text);
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    uint32_t a = ntohl(v4.s_addr);
    uint8_t b0 = a >> 24, b1 = (a >> 16) & 0xff;
    if (b0 == 127) return "Loopback";
    if (b0 == 10 || (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168)) return "Private";
    if (b0 == 169 && b1 == 254) return "LinkLocal";
    if (b0 >= 224 && b0 <= 239) return "Multicast";
    if (a == 0xffffffffu) return "Broadcast";
    if (b0 == 0 || b0 >= 240 || (b0 == 100 && (b1 & 0xc0) == 64)) return "Reserved";
    return "Public";
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    const uint8_t* b = v6.s6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return "Loopback";
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return "FourToSixMapping";
    if (IN6_IS_ADDR_LINKLOCAL(&v6)) return "LinkLocal";
    if (IN6_IS_ADDR_MULTICAST(&v6)) return "Multicast";
    if ((b[0] & 0xfe) == 0xfc) return "Private";  // unique local fc00::/7
    if (IN6_IS_ADDR_UNSPECIFIED(&v6)) return "Reserved";
    return "Public";
  }
  return "";
}

const std::string& LocalDomain() {
  static const std::string domain = [] {
    std::string h = HostName();
    return h.substr(0, h.find('.'));
  }();
  return domain;
}

void CollectingSink::Emit(json::Value event) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

void CollectingSink::CountDropped(std::string_view reason, uint64_t events) {
  std::lock_guard lock(mu_);
  dropped_[std::string(reason)] += events;
}

std::optional<json::Value> CollectingSink::WaitFor(const std::function<bool(const json::Value&)>& pred,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  size_t checked = 0;
  while (true) {
    for (; checked < events_.size(); ++checked) {
      if (pred(events_[checked])) return events_[checked];
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; checked < events_.size(); ++checked) {
        if (pred(events_[checked])) return events_[checked];
      }
      return std::nullopt;
    }
  }
}

std::vector<json::Value> CollectingSink::Events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::map<std::string, uint64_t> CollectingSink::Dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace ward::sensor
