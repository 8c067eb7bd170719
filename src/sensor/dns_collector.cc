#include "sensor/dns_collector.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace ward::sensor {

namespace {

constexpr uint16_t kTypeA = 1, kTypeCname = 5, kTypeAaaa = 28;

uint16_t Be16(std::string_view m, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(m[at]) << 8) | static_cast<uint8_t>(m[at + 1]));
}
uint32_t Be32(std::string_view m, size_t at) { return (uint32_t{Be16(m, at)} << 16) | Be16(m, at + 2); }

std::string TypeName(uint16_t type) {
  switch (type) {
    case kTypeA: return "A";
    case kTypeCname: return "CNAME";
    case kTypeAaaa: return "AAAA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 33: return "SRV";
    case 65: return "HTTPS";
    default: return std::to_string(type);
  }
}

// Reads a (possibly compressed) name at *pos, advancing *pos past it in the original position.
// Lower-cases it and drops the root's trailing dot. False on anything malformed.
bool ReadName(std::string_view m, size_t* pos, std::string* out) {
  out->clear();
  size_t at = *pos;
  bool jumped = false;
  for (int hops = 0; hops < 32;) {
    if (at >= m.size()) return false;
    const uint8_t len = static_cast<uint8_t>(m[at]);
    if (len == 0) {
      if (!jumped) *pos = at + 1;
      return out->size() <= 253;
    }
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= m.size()) return false;
      if (!jumped) *pos = at + 2;
      jumped = true;
      at = static_cast<size_t>(Be16(m, at) & 0x3FFF);
      ++hops;
      continue;
    }
    if ((len & 0xC0) != 0 || at + 1 + len > m.size()) return false;
    if (!out->empty()) out->push_back('.');
    for (size_t i = 0; i < len; ++i) {
      char c = m[at + 1 + i];
      out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    if (out->size() > 253) return false;
    at += 1 + len;
  }
  return false;  // a pointer loop
}

// Classic BPF: pass UDP (IPv4 unfragmented, or IPv6 without extension headers) from one of `ports`.
// Cooked AF_PACKET sockets deliver packets from the network header, so offsets are IP-relative.
std::vector<sock_filter> DnsFilter(const std::vector<uint16_t>& ports) {
  const auto n = static_cast<uint8_t>(ports.size());
  const uint8_t port_block = 13;              // first port comparison
  const uint8_t drop = port_block + n, accept = drop + 1;
  auto jump = [](uint8_t from, uint8_t to) { return static_cast<uint8_t>(to - from - 1); };
  std::vector<sock_filter> p = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL)),  // 0
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 1, 0),                                      // 1
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, jump(2, 10), jump(2, drop)),              // 2
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),                                                    // 3 protocol
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, jump(4, drop)),                       // 4
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),                                                    // 5 fragment
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1FFF, jump(6, drop), 0),                           // 6
      BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                                                   // 7 X = header length
      BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0),                                                    // 8 source port
      BPF_STMT(BPF_JMP | BPF_JA, static_cast<uint32_t>(jump(9, port_block))),                   // 9
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),                                                    // 10 next header
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, jump(11, drop)),                      // 11
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 40),                                                   // 12 source port
  };
  for (uint8_t i = 0; i < n; ++i) {
    const uint8_t at = port_block + i;
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ports[i], jump(at, accept), 0));
  }
  p.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, 0xFFFF));
  return p;
}

// The UDP payload and source address of a captured IP packet (the filter already checked the rest).
bool UdpPayload(std::string_view pkt, std::string_view* payload, std::string* source) {
  if (pkt.empty()) return false;
  const int version = static_cast<uint8_t>(pkt[0]) >> 4;
  size_t udp = 0;
  char text[INET6_ADDRSTRLEN] = {};
  if (version == 4) {
    udp = (static_cast<uint8_t>(pkt[0]) & 0x0F) * 4u;
    if (udp < 20 || pkt.size() < udp + 8) return false;
    inet_ntop(AF_INET, pkt.data() + 12, text, sizeof(text));
  } else if (version == 6) {
    udp = 40;
    if (pkt.size() < udp + 8) return false;
    inet_ntop(AF_INET6, pkt.data() + 8, text, sizeof(text));
  } else {
    return false;
  }
  const size_t udp_len = Be16(pkt, udp + 4);
  if (udp_len < 8 || udp + udp_len > pkt.size()) return false;
  *payload = pkt.substr(udp + 8, udp_len - 8);
  *source = text;
  return true;
}

}  // namespace

std::optional<DnsResponse> ParseDnsResponse(std::string_view m) {
  if (m.size() < 12) return std::nullopt;
  const uint16_t flags = Be16(m, 2);
  if (!(flags & 0x8000) || ((flags >> 11) & 0x0F) != 0) return std::nullopt;  // a response to a QUERY
  if (Be16(m, 4) != 1) return std::nullopt;
  DnsResponse r;
  r.id = Be16(m, 0);
  r.rcode = flags & 0x0F;
  size_t pos = 12;
  if (!ReadName(m, &pos, &r.query) || pos + 4 > m.size()) return std::nullopt;
  r.query_type = TypeName(Be16(m, pos));
  pos += 4;
  const uint16_t answers = Be16(m, 6);
  std::string name;
  for (uint16_t i = 0; i < answers; ++i) {
    if (!ReadName(m, &pos, &name) || pos + 10 > m.size()) return std::nullopt;
    const uint16_t type = Be16(m, pos);
    const uint32_t ttl = Be32(m, pos + 4);
    const size_t rdlen = Be16(m, pos + 8);
    pos += 10;
    if (pos + rdlen > m.size()) return std::nullopt;
    char text[INET6_ADDRSTRLEN] = {};
    if (type == kTypeA && rdlen == 4) {
      inet_ntop(AF_INET, m.data() + pos, text, sizeof(text));
      r.answers.push_back({name, "A", text, ttl});
    } else if (type == kTypeAaaa && rdlen == 16) {
      inet_ntop(AF_INET6, m.data() + pos, text, sizeof(text));
      r.answers.push_back({name, "AAAA", UnmapIpv4(text), ttl});
    } else if (type == kTypeCname) {
      size_t at = pos;
      std::string target;
      if (!ReadName(m, &at, &target)) return std::nullopt;
      r.answers.push_back({name, "CNAME", std::move(target), ttl});
    }
    pos += rdlen;
  }
  return r;
}

DnsCache::DnsCache(size_t capacity, std::chrono::seconds min_ttl, std::chrono::seconds max_ttl)
    : capacity_(capacity), min_ttl_(min_ttl), max_ttl_(max_ttl) {}

void DnsCache::Record(const DnsResponse& response, std::chrono::steady_clock::time_point now) {
  if (response.query.empty()) return;
  std::lock_guard lock(mu_);
  for (const DnsRecord& rec : response.answers) {
    if (rec.type != "A" && rec.type != "AAAA") continue;
    const auto ttl = std::clamp(std::chrono::seconds(rec.ttl), min_ttl_, max_ttl_);
    auto [it, inserted] = by_ip_.try_emplace(rec.data);
    if (!inserted) order_.erase(it->second.age);
    it->second.name = response.query;
    it->second.expires = now + ttl;
    it->second.age = order_.insert(order_.end(), rec.data);
    while (by_ip_.size() > capacity_) {
      by_ip_.erase(order_.front());
      order_.pop_front();
    }
  }
}

std::string DnsCache::NameOf(std::string_view ip, std::chrono::steady_clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = by_ip_.find(std::string(ip));
  if (it == by_ip_.end() || it->second.expires < now) return {};
  return it->second.name;
}

size_t DnsCache::size() const {
  std::lock_guard lock(mu_);
  return by_ip_.size();
}

json::Value DnsResponseEvent(const DnsResponse& response, std::string_view server_ip, int64_t ticks) {
  json::Value ev = NewEvent("DeviceEvents", "DnsQueryResponse", ticks);
  ev.AppendMember("RemoteUrl", json::Value(response.query));
  json::Writer af;
  af.StartObject().KV("DnsQueryString", response.query).KV("DnsQueryType", response.query_type);
  af.KV("DnsResponseCode", static_cast<int64_t>(response.rcode)).KV("DnsServer", std::string(server_ip));
  af.Key("DnsQueryResult").StartArray();
  for (const DnsRecord& rec : response.answers) {
    af.StartObject().KV("DnsQueryType", rec.type).KV("DnsQueryResultRecord", rec.data).KV("Ttl", static_cast<int64_t>(rec.ttl));
    af.EndObject();
  }
  af.EndArray().EndObject();
  ev.AppendMember("AdditionalFields", json::Value(af.Take()));
  return ev;
}

DnsCollector::DnsCollector(EventSink* sink, DnsCache* cache, DnsCollectorOptions options)
    : sink_(sink), cache_(cache), options_(std::move(options)) {}

DnsCollector::~DnsCollector() { Stop(); }

Status DnsCollector::Start() {
  if (options_.ports.empty()) return Status::Ok();
  if (options_.ports.size() > 32) return InvalidArgument("at most 32 DNS ports");
  UniqueFd fd(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL)));
  if (!fd.valid()) return Unavailable(std::string("DNS capture: ") + std::strerror(errno));
  std::vector<sock_filter> code = DnsFilter(options_.ports);
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) {
    return Unavailable(std::string("DNS capture filter: ") + std::strerror(errno));
  }
  // Packets that arrived before the filter was attached may sit in the queue unfiltered.
  char drain[2048];
  while (::recv(fd.get(), drain, sizeof(drain), 0) > 0) {
  }
  wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  socket_ = std::move(fd);
  mode_ = "af_packet";
  thread_ = std::thread([this] {
    SetThreadName("ward-dns");
    Run();
  });
  log::Info("dns collector started", {{"mode", mode_}});
  return Status::Ok();
}

void DnsCollector::Stop() {
  NotifyEventFd(wake_fd_);
  if (thread_.joinable()) thread_.join();
  socket_.Reset();
  wake_fd_.Reset();
}

void DnsCollector::Run() {
  while (true) {
    pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    int r = ::poll(fds, 2, -1);
    if (r < 0 && errno != EINTR) {
      log::Error("dns collector poll failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents & POLLIN) return;
    if (fds[0].revents & POLLIN) ReadPackets();
  }
}

void DnsCollector::ReadPackets() {
  char buf[65536];
  for (int i = 0; i < 256; ++i) {
    sockaddr_ll from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = ::recvfrom(socket_.get(), buf, sizeof(buf), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) return;
    // On loopback every datagram is seen leaving and arriving; keep the arrival.
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    std::string_view payload;
    std::string server;
    const size_t got = std::min(static_cast<size_t>(n), sizeof(buf));
    if (!UdpPayload(std::string_view(buf, got), &payload, &server)) continue;
    if (auto response = ParseDnsResponse(payload)) HandleResponse(*response, server);
  }
}

void DnsCollector::HandleResponse(const DnsResponse& response, std::string_view server_ip) {
  cache_->Record(response);
  if (options_.on_answer) options_.on_answer(response);
  std::string key = response.query + '|' + response.query_type + '|' + std::to_string(response.rcode);
  for (const DnsRecord& rec : response.answers) key += '|' + rec.data;
  const auto now = std::chrono::steady_clock::now();
  auto [it, inserted] = last_reported_.try_emplace(std::move(key), now);
  if (!inserted) {
    if (now - it->second < options_.repeat_window) return;
    it->second = now;
  }
  if (last_reported_.size() > 16384) {
    for (auto e = last_reported_.begin(); e != last_reported_.end();) {
      e = now - e->second >= options_.repeat_window ? last_reported_.erase(e) : std::next(e);
    }
  }
  sink_->Emit(DnsResponseEvent(response, server_ip));
}

}  // namespace ward::sensor
