#include "sensor/network_collector.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "sensor/dns_collector.h"

namespace ward::sensor {

namespace {

// Kernel TCP states (include/net/tcp_states.h).
enum : int {
  kEstablished = 1,
  kSynSent = 2,
  kSynRecv = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10,
  kClosing = 11,
};

bool WasEstablished(int state) {
  return state == kEstablished || state == kFinWait1 || state == kFinWait2 || state == kCloseWait ||
         state == kLastAck || state == kClosing;
}

std::string AddrText(int family, const void* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, addr, text, sizeof(text))) return {};
  return UnmapIpv4(text);
}

bool DumpFamily(int fd, int family, std::vector<SocketEntry>& out) {
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = static_cast<__u8>(family);
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~((1u << kTimeWait) | (1u << kClose) | (1u << kSynRecv));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) return false;
  alignas(nlmsghdr) char buf[32 * 1024];
  while (true) {
    ssize_t len = ::recv(fd, buf, sizeof(buf), 0);
    if (len < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (len == 0) return false;
    int remaining = static_cast<int>(len);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, remaining); nh = NLMSG_NEXT(nh, remaining)) {
      if (nh->nlmsg_type == NLMSG_DONE) return true;
      if (nh->nlmsg_type == NLMSG_ERROR) return false;
      if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      auto* m = reinterpret_cast<const inet_diag_msg*>(NLMSG_DATA(nh));
      if (m->idiag_inode == 0) continue;  // orphaned / time-wait: no owner to attribute
      SocketEntry e;
      e.inode = m->idiag_inode;
      e.v6 = m->idiag_family == AF_INET6;
      e.state = m->idiag_state;
      e.uid = m->idiag_uid;
      e.local_ip = AddrText(m->idiag_family, m->id.idiag_src);
      e.remote_ip = AddrText(m->idiag_family, m->id.idiag_dst);
      e.local_port = ntohs(m->id.idiag_sport);
      e.remote_port = ntohs(m->id.idiag_dport);
      out.push_back(std::move(e));
    }
  }
}

uint32_t Hex32(std::string_view s) {
  uint32_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
  }
  return v;
}

// "0100007F:1F90" -> ("127.0.0.1", 8080). The kernel prints each 32-bit word of the address as it
// sits in memory, so the words are copied back in host order.
bool ParseHexEndpoint(std::string_view s, bool v6, std::string* ip, uint16_t* port) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view addr = s.substr(0, colon);
  *port = static_cast<uint16_t>(Hex32(s.substr(colon + 1)));
  if (!v6) {
    if (addr.size() != 8) return false;
    in_addr a{};
    a.s_addr = Hex32(addr);
    *ip = AddrText(AF_INET, &a);
  } else {
    if (addr.size() != 32) return false;
    in6_addr a{};
    for (int i = 0; i < 4; ++i) {
      uint32_t w = Hex32(addr.substr(static_cast<size_t>(i) * 8, 8));
      std::memcpy(a.s6_addr + i * 4, &w, 4);
    }
    *ip = AddrText(AF_INET6, &a);
  }
  return true;
}

}  // namespace

std::vector<SocketEntry> ParseProcNetTcp(std::string_view content, bool v6) {
  std::vector<SocketEntry> out;
  bool header = true;
  for (std::string_view line : SplitLines(content)) {
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string_view> f = SplitFields(line, 10);
    // sl local rem st queues tr retrnsmt uid timeout inode
    if (f.size() < 10) continue;
    SocketEntry e;
    e.v6 = v6;
    if (!ParseHexEndpoint(f[1], v6, &e.local_ip, &e.local_port)) continue;
    if (!ParseHexEndpoint(f[2], v6, &e.remote_ip, &e.remote_port)) continue;
    e.state = static_cast<int>(Hex32(f[3]));
    e.uid = static_cast<uint32_t>(std::strtoul(std::string(f[7]).c_str(), nullptr, 10));
    e.inode = std::strtoull(std::string(f[9]).c_str(), nullptr, 10);
    if (e.inode == 0) continue;
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<std::vector<SocketEntry>> DumpTcpSockets() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd.valid()) return std::nullopt;
  std::vector<SocketEntry> out;
  if (!DumpFamily(fd.get(), AF_INET, out)) return std::nullopt;
  if (!DumpFamily(fd.get(), AF_INET6, out)) return std::nullopt;
  return out;
}

NetworkCollector::NetworkCollector(EventSink* sink, ProcessTable* processes, NetworkCollectorOptions options)
    : sink_(sink), processes_(processes), options_(options) {}

NetworkCollector::~NetworkCollector() { Stop(); }

std::vector<SocketEntry> NetworkCollector::Dump() {
  if (use_diag_) {
    if (!diag_fd_.valid()) diag_fd_.Reset(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    std::vector<SocketEntry> out;
    if (diag_fd_.valid() && DumpFamily(diag_fd_.get(), AF_INET, out) && DumpFamily(diag_fd_.get(), AF_INET6, out)) {
      return out;
    }
    diag_fd_.Reset();
    if (auto v = DumpTcpSockets()) return std::move(*v);
    use_diag_ = false;
    mode_ = "proc-net";
    log::Info("sock_diag unavailable; reading /proc/net/tcp");
  }
  std::vector<SocketEntry> out;
  if (auto t = ReadFile("/proc/net/tcp")) out = ParseProcNetTcp(*t, false);
  if (auto t = ReadFile("/proc/net/tcp6")) {
    auto v6 = ParseProcNetTcp(*t, true);
    out.insert(out.end(), v6.begin(), v6.end());
  }
  return out;
}

Status NetworkCollector::Start() {
  use_diag_ = DumpTcpSockets().has_value();
  mode_ = use_diag_ ? "sock_diag" : "proc-net";
  PollOnce();  // baseline
  stopper_.Reset();
  thread_ = std::thread([this] {
    SetThreadName("ward-net");
    while (stopper_.SleepFor(options_.interval)) PollOnce();
  });
  log::Info("network collector started", {{"mode", mode_}});
  return Status::Ok();
}

void NetworkCollector::Stop() {
  stopper_.Stop();
  if (thread_.joinable()) thread_.join();
}

void NetworkCollector::PollOnce() {
  std::vector<SocketEntry> current = Dump();
  std::unordered_set<uint64_t> seen;
  seen.reserve(current.size());
  std::vector<NewSocket> fresh;
  int64_t now = NowTicks();
  for (const SocketEntry& e : current) {
    seen.insert(e.inode);
    auto it = known_.find(e.inode);
    if (!baseline_done_) {
      known_[e.inode] = Tracked{e.state, true};
      if (e.state == kListen) {
        listen_ports_.insert({false, e.local_port});
        listen_by_inode_[e.inode] = {false, e.local_port};
      }
      continue;
    }
    if (it == known_.end()) {
      if (e.state == kListen) {
        listen_ports_.insert({false, e.local_port});
        listen_by_inode_[e.inode] = {false, e.local_port};
        fresh.push_back(NewSocket{e, "ListeningConnectionCreated", now});
        known_[e.inode] = Tracked{e.state, true};
      } else if (WasEstablished(e.state)) {
        bool inbound = listen_ports_.count({false, e.local_port}) > 0;
        fresh.push_back(NewSocket{e, inbound ? "InboundConnectionAccepted" : "ConnectionSuccess", now});
        known_[e.inode] = Tracked{e.state, true};
      } else {
        known_[e.inode] = Tracked{e.state, false};  // e.g. SYN_SENT: report once connected
      }
    } else {
      if (!it->second.reported && WasEstablished(e.state)) {
        fresh.push_back(NewSocket{e, "ConnectionSuccess", now});
        it->second.reported = true;
      }
      it->second.state = e.state;
    }
  }
  baseline_done_ = true;
  // Forget closed sockets.
  for (auto it = known_.begin(); it != known_.end();) {
    if (!seen.count(it->first)) {
      if (auto l = listen_by_inode_.find(it->first); l != listen_by_inode_.end()) {
        if (auto p = listen_ports_.find(l->second); p != listen_ports_.end()) listen_ports_.erase(p);
        listen_by_inode_.erase(l);
      }
      owner_.erase(it->first);
      it = known_.erase(it);
    } else {
      ++it;
    }
  }
  if (fresh.empty() && unresolved_.empty()) return;
  for (auto& s : unresolved_) fresh.push_back(std::move(s));
  unresolved_.clear();
  ResolveOwners(fresh);
}

void NetworkCollector::ScanPids(const std::vector<int>& pids, std::unordered_set<uint64_t>& wanted) {
  static const int self = ::getpid();
  char path[64], link[64];
  for (int pid : pids) {
    if (wanted.empty()) return;
    std::snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    UniqueFd dfd(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd.valid()) {
      socket_pids_.erase(pid);
      continue;
    }
    DIR* d = ::fdopendir(dfd.Release());
    if (!d) continue;
    bool owns_sockets = false;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      ssize_t n = ::readlinkat(::dirfd(d), e->d_name, link, sizeof(link) - 1);
      if (n <= 0) continue;
      uint64_t inode = ParseSocketInode(std::string_view(link, static_cast<size_t>(n)));
      if (inode == 0) continue;
      owns_sockets = true;
      if (wanted.erase(inode)) owner_[inode] = pid;
    }
    ::closedir(d);
    if (owns_sockets && (pid != self || !options_.ignore_self)) socket_pids_.insert(pid);
  }
}

void NetworkCollector::ResolveOwners(std::vector<NewSocket>& fresh) {
  std::unordered_set<uint64_t> wanted;
  for (const auto& s : fresh) {
    if (!owner_.count(s.entry.inode)) wanted.insert(s.entry.inode);
  }
  if (!wanted.empty() && !socket_pids_.empty()) {
    ScanPids(std::vector<int>(socket_pids_.begin(), socket_pids_.end()), wanted);
  }
  auto now = std::chrono::steady_clock::now();
  if (!wanted.empty() && now - last_full_scan_ >= options_.full_scan_interval) {
    last_full_scan_ = now;
    ScanPids(ListPids(), wanted);
  }
  static const int self = ::getpid();
  for (auto& s : fresh) {
    auto it = owner_.find(s.entry.inode);
    if (it != owner_.end()) {
      if (it->second != self || !options_.ignore_self) EmitConnection(s, it->second);
      continue;
    }
    // Give the next full scan a chance before reporting without a process.
    if (++s.tries < 3 && unresolved_.size() < 4096) {
      unresolved_.push_back(std::move(s));
    } else {
      EmitConnection(s, 0);
    }
  }
}

void NetworkCollector::EmitConnection(const NewSocket& s, int pid) {
  const SocketEntry& e = s.entry;
  if (!options_.report_loopback && IpType(e.remote_ip) == "Loopback") return;
  json::Value ev = NewEvent(kNetworkTable, s.action, s.ticks);
  bool listening = s.action == "ListeningConnectionCreated";
  if (!listening) {
    ev.AppendMember("RemoteIP", json::Value(e.remote_ip));
    ev.AppendMember("RemotePort", json::Value(static_cast<int64_t>(e.remote_port)));
    if (options_.dns_names) SetIfNotEmpty(ev, "RemoteUrl", options_.dns_names->NameOf(e.remote_ip));
  }
  ev.AppendMember("LocalIP", json::Value(e.local_ip));
  ev.AppendMember("LocalPort", json::Value(static_cast<int64_t>(e.local_port)));
  ev.AppendMember("Protocol", json::Value("Tcp"));
  SetIfNotEmpty(ev, "LocalIPType", IpType(e.local_ip));
  if (!listening) SetIfNotEmpty(ev, "RemoteIPType", IpType(e.remote_ip));
  if (pid > 0) {
    AddInitiatingProcess(ev, *processes_, pid);
  } else {
    ev.AppendMember("InitiatingProcessAccountDomain", json::Value(LocalDomain()));
    ev.AppendMember("InitiatingProcessAccountName", json::Value(UserName(e.uid)));
  }
  sink_->Emit(std::move(ev));
}

}  // namespace ward::sensor
