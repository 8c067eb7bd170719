#include "response/isolation.h"

#include <arpa/inet.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>

#include "common/log.h"
#include "json/json.h"
#include "sensor/util.h"

namespace ward::response {

namespace {

// After conntrack (-200) so ct state is known on output; before mangle, NAT and filter.
constexpr const char* kPriority = "-180";
constexpr std::chrono::seconds kMinDnsTimeout{60};

struct NftCtxDeleter {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

// nft's message without the echoed script and caret lines, capped: enough to say what failed.
std::string NftError(const char* buffer) {
  std::string_view text = buffer ? buffer : "";
  std::string out;
  for (auto line : sensor::SplitLines(text)) {
    if (!sensor::StartsWith(line, "Error:")) continue;
    if (!out.empty()) out += "; ";
    out.append(line);
    if (out.size() > 400) break;
  }
  if (out.empty()) out = std::string(sensor::Trim(text.substr(0, 400)));
  return out.empty() ? "unknown error" : out;
}

// Runs `script` as one nft transaction in the caller's network namespace (a fresh context per call,
// so a namespace change between calls is honoured). Returns nft's output.
Result<std::string> RunNft(const std::string& script) {
  std::unique_ptr<nft_ctx, NftCtxDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Err(Unavailable("nftables: cannot create a context"));
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return Err(Unavailable("nftables: cannot buffer output"));
  }
  if (nft_run_cmd_from_buffer(ctx.get(), script.c_str()) != 0) {
    return Err(Unavailable("nftables: " + NftError(nft_ctx_get_error_buffer(ctx.get()))));
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  return std::string(out ? out : "");
}

Status RunNftCommands(const std::string& script) {
  auto r = RunNft(script);
  return r ? Status::Ok() : r.error();
}

Result<bool> TableExists(std::string_view table) {
  WARD_ASSIGN_OR_RETURN(std::string tables, RunNft("list tables"));
  std::string wanted = "table inet " + std::string(table);
  for (auto line : sensor::SplitLines(tables)) {
    if (sensor::Trim(line) == wanted) return true;
  }
  return false;
}

// "add; delete" makes the delete succeed whether or not the table exists, in one transaction.
std::string DropTableCommands(std::string_view table) {
  std::string t(table);
  return "add table inet " + t + "\ndelete table inet " + t + "\n";
}

std::string JoinElements(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// A set declaration inside a `table { }` block.
std::string SetDeclaration(std::string_view name, std::string_view type, std::string_view flags,
                           const std::vector<std::string>& elements) {
  std::string s = "  set " + std::string(name) + " { type " + std::string(type) + ";";
  if (!flags.empty()) s += " flags " + std::string(flags) + ";";
  if (flags.find("interval") != std::string_view::npos) s += " auto-merge;";
  if (!elements.empty()) s += " elements = { " + JoinElements(elements) + " }";
  return s + " }\n";
}

std::string BaseChainHeader(std::string_view hook, std::string_view policy) {
  return "type filter hook " + std::string(hook) + " priority " + kPriority + "; policy " + std::string(policy) + ";";
}

std::string NormalizeDomain(std::string_view d) {
  d = sensor::Trim(d);
  if (sensor::StartsWith(d, "*.")) d.remove_prefix(2);
  while (!d.empty() && d.back() == '.') d.remove_suffix(1);
  return sensor::AsciiLower(d);
}

void SplitByFamily(const std::vector<std::string>& inputs, std::vector<std::string>* v4, std::vector<std::string>* v6,
                   std::vector<std::string>* rejected) {
  for (const auto& in : inputs) {
    auto parsed = ParseAddressOrCidr(in);
    if (!parsed) {
      if (rejected) rejected->push_back(in);
      continue;
    }
    (parsed->v6 ? v6 : v4)->push_back(std::move(parsed->text));
  }
}

// ---------------------------------------------------------------- isolation ruleset

// Sessions that Selective isolation keeps. Conntrack only runs in a namespace once some rule needs
// it, so connections opened before that have no entry: their next packet is picked up mid-stream
// (nf_conntrack_tcp_loose) as "new". A TCP packet without SYN cannot open a connection, so accepting
// those keeps such sessions without letting new ones start; once picked up they are established.
constexpr const char* kSelectiveSessions =
    "    ct state established,related accept\n"
    "    tcp flags ! syn ct state new accept\n";

std::string IsolationScript(const IsolationSpec& spec, const std::vector<std::string>& v4,
                            const std::vector<std::string>& v6) {
  std::vector<std::string> ports;
  for (uint16_t p : spec.allowed_ports) ports.push_back(std::to_string(p));
  std::string t(kIsolationTable);
  std::string s = DropTableCommands(t);
  s += "table inet " + t + " {\n";
  s += SetDeclaration("allowed_v4", "ipv4_addr", "interval", v4);
  s += SetDeclaration("allowed_v6", "ipv6_addr", "interval", v6);
  if (!ports.empty()) s += SetDeclaration("allowed_ports", "inet_service", "", ports);

  s += "  chain input {\n    " + BaseChainHeader("input", "drop") + "\n";
  s += "    iif \"lo\" accept\n";
  s += "    ct state established,related ct original ip daddr @allowed_v4 accept\n";
  s += "    ct state established,related ct original ip6 daddr @allowed_v6 accept\n";
  if (ports.empty()) {
    s += "    ip saddr @allowed_v4 accept\n";
    s += "    ip6 saddr @allowed_v6 accept\n";
  }
  if (spec.selective) s += kSelectiveSessions;
  s += "    udp sport 67 udp dport 68 accept\n";
  s += "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-redirect } accept\n";
  s += "  }\n";

  s += "  chain output {\n    " + BaseChainHeader("output", "drop") + "\n";
  s += "    oif \"lo\" accept\n";
  if (ports.empty()) {
    s += "    ip daddr @allowed_v4 accept\n";
    s += "    ip6 daddr @allowed_v6 accept\n";
  } else {
    s += "    meta l4proto { tcp, udp } th dport @allowed_ports ip daddr @allowed_v4 accept\n";
    s += "    meta l4proto { tcp, udp } th dport @allowed_ports ip6 daddr @allowed_v6 accept\n";
    s += "    ct state established,related ct original ip daddr @allowed_v4 accept\n";
    s += "    ct state established,related ct original ip6 daddr @allowed_v6 accept\n";
  }
  if (spec.selective) {
    s += kSelectiveSessions;
    s += "    meta l4proto { tcp, udp } th dport 53 accept\n";
  }
  s += "    udp sport 68 udp dport 67 accept\n";
  s += "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n";
  s += "  }\n}\n";
  return s;
}

json::Value SpecToJson(const std::optional<IsolationSpec>& spec) {
  json::Value v = json::Value::Object();
  v.Set("isolated", spec.has_value());
  if (!spec) return v;
  v.Set("scope", spec->selective ? "Selective" : "Full");
  json::Value addrs = json::Value::Array();
  for (const auto& a : spec->allowed_addresses) addrs.Append(a);
  v.Set("allowedAddresses", std::move(addrs));
  json::Value ports = json::Value::Array();
  for (uint16_t p : spec->allowed_ports) ports.Append(static_cast<int>(p));
  v.Set("allowedPorts", std::move(ports));
  return v;
}

Result<std::optional<IsolationSpec>> SpecFromJson(const json::Value& v) {
  if (!v.is_object()) return Err(InvalidArgument("isolation state: not an object"));
  if (!v.GetBool("isolated").value_or(false)) return std::optional<IsolationSpec>();
  IsolationSpec spec;
  spec.selective = v.GetString("scope").value_or("Full") == "Selective";
  if (const auto* addrs = v.Find("allowedAddresses"); addrs && addrs->is_array()) {
    for (const auto& a : addrs->items()) {
      if (!a.is_string()) return Err(InvalidArgument("isolation state: allowedAddresses holds a non-string"));
      spec.allowed_addresses.push_back(a.as_string());
    }
  }
  if (const auto* ports = v.Find("allowedPorts"); ports && ports->is_array()) {
    for (const auto& p : ports->items()) {
      if (!p.is_int() || p.as_int() < 1 || p.as_int() > 65535) {
        return Err(InvalidArgument("isolation state: allowedPorts holds an invalid port"));
      }
      spec.allowed_ports.push_back(static_cast<uint16_t>(p.as_int()));
    }
  }
  return std::optional<IsolationSpec>(std::move(spec));
}

}  // namespace

// ---------------------------------------------------------------- addresses

std::optional<ParsedAddress> ParseAddressOrCidr(std::string_view text) {
  text = sensor::Trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string_view addr = text;
  int prefix = -1;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view len = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (ec != std::errc() || ptr != len.data() + len.size() || len.empty() || prefix < 0) return std::nullopt;
  }
  std::string a(addr);
  unsigned char bytes[16] = {};
  bool v6 = false;
  if (::inet_pton(AF_INET, a.c_str(), bytes) == 1) {
    v6 = false;
  } else if (::inet_pton(AF_INET6, a.c_str(), bytes) == 1) {
    v6 = true;
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, sizeof(kMapped)) == 0 && (prefix < 0 || prefix >= 96)) {
      std::memmove(bytes, bytes + 12, 4);
      std::memset(bytes + 4, 0, 12);
      if (prefix >= 0) prefix -= 96;
      v6 = false;
    }
  } else {
    return std::nullopt;
  }
  const int bits = v6 ? 128 : 32;
  if (prefix > bits) return std::nullopt;
  if (prefix >= 0) {  // clear host bits: nft refuses "10.1.2.3/8"
    for (int i = 0; i < bits / 8; ++i) {
      int keep = std::clamp(prefix - i * 8, 0, 8);
      bytes[i] &= static_cast<unsigned char>(0xff00 >> keep);
    }
  }
  char buf[INET6_ADDRSTRLEN];
  if (!::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, buf, sizeof(buf))) return std::nullopt;
  ParsedAddress out{v6, buf};
  if (prefix >= 0 && prefix < bits) out.text += "/" + std::to_string(prefix);
  return out;
}

// ---------------------------------------------------------------- NetworkIsolation

Status NetworkIsolation::Isolate(const IsolationSpec& spec) {
  std::vector<std::string> v4, v6, rejected;
  SplitByFamily(spec.allowed_addresses, &v4, &v6, &rejected);
  if (!rejected.empty()) return InvalidArgument("isolation: not an IP address or CIDR: " + rejected.front());
  for (uint16_t p : spec.allowed_ports) {
    if (p == 0) return InvalidArgument("isolation: port 0 is not a port");
  }
  std::lock_guard lock(mu_);
  WARD_RETURN_IF_ERROR(RunNftCommands(IsolationScript(spec, v4, v6)));
  current_ = spec;
  return Status::Ok();
}

Status NetworkIsolation::Unisolate() {
  std::lock_guard lock(mu_);
  WARD_RETURN_IF_ERROR(RunNftCommands(DropTableCommands(kIsolationTable)));
  current_.reset();
  return Status::Ok();
}

Result<bool> NetworkIsolation::IsIsolated() {
  std::lock_guard lock(mu_);
  return TableExists(kIsolationTable);
}

std::optional<IsolationSpec> NetworkIsolation::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

Status NetworkIsolation::SaveState(const std::string& dir) const {
  std::string text;
  {
    std::lock_guard lock(mu_);
    text = SpecToJson(current_).Serialize();
  }
  WARD_RETURN_IF_ERROR(sensor::MakeDirs(dir));
  return sensor::WriteFileAtomic(sensor::JoinPath(dir, kIsolationStateFile), text);
}

Result<std::optional<IsolationSpec>> NetworkIsolation::LoadState(const std::string& dir) {
  auto text = sensor::ReadFile(sensor::JoinPath(dir, kIsolationStateFile), 1024 * 1024);
  if (!text) return std::optional<IsolationSpec>();
  WARD_ASSIGN_OR_RETURN(json::Value v, json::Value::Parse(*text));
  return SpecFromJson(v);
}

Status NetworkIsolation::Restore(const std::string& dir) {
  WARD_ASSIGN_OR_RETURN(std::optional<IsolationSpec> spec, LoadState(dir));
  return spec ? Isolate(*spec) : Unisolate();
}

// ---------------------------------------------------------------- IndicatorBlocklist

std::optional<std::string> IndicatorBlocklist::CoveringDomainLocked(std::string_view name) const {
  if (domains_.empty()) return std::nullopt;
  std::string n = NormalizeDomain(name);
  std::string_view rest = n;
  while (!rest.empty()) {
    if (std::string d(rest); domains_.count(d)) return d;
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return std::nullopt;
}

bool IndicatorBlocklist::DomainBlocked(std::string_view name) const {
  std::lock_guard lock(mu_);
  return CoveringDomainLocked(name).has_value();
}

namespace {

// The table's structure, declared with "add" semantics (existing parts are kept, so the `dropped`
// counter keeps its value), then the chains' rules and the sets' contents replaced.
std::string BlocklistScript(const std::vector<std::string>& v4, const std::vector<std::string>& v6,
                            const std::vector<std::string>& dns_v4, const std::vector<std::string>& dns_v6) {
  std::string t(kBlockTable);
  std::string s = "table inet " + t + " {\n";
  s += "  counter dropped { }\n";
  s += SetDeclaration("block_v4", "ipv4_addr", "interval", {});
  s += SetDeclaration("block_v6", "ipv6_addr", "interval", {});
  s += SetDeclaration("dns_v4", "ipv4_addr", "timeout", {});
  s += SetDeclaration("dns_v6", "ipv6_addr", "timeout", {});
  s += "  chain blocked { }\n";
  s += "  chain input { " + BaseChainHeader("input", "accept") + " }\n";
  s += "  chain output { " + BaseChainHeader("output", "accept") + " }\n";
  s += "}\n";
  for (const char* chain : {"blocked", "input", "output"}) s += "flush chain inet " + t + " " + chain + "\n";
  std::string rule = "add rule inet " + t + " ";
  s += rule + "blocked counter name \"dropped\"\n";
  s += rule + "blocked limit rate 10/second burst 20 packets log prefix \"ward-block \"\n";
  s += rule + "blocked drop\n";
  for (const char* set : {"block_v4", "dns_v4"}) {
    s += rule + "input ip saddr @" + set + " goto blocked\n";
    s += rule + "output ip daddr @" + set + " goto blocked\n";
  }
  for (const char* set : {"block_v6", "dns_v6"}) {
    s += rule + "input ip6 saddr @" + set + " goto blocked\n";
    s += rule + "output ip6 daddr @" + set + " goto blocked\n";
  }
  auto fill = [&](const char* set, const std::vector<std::string>& elements) {
    s += "flush set inet " + t + " " + set + "\n";
    if (!elements.empty()) s += "add element inet " + t + " " + set + " { " + JoinElements(elements) + " }\n";
  };
  fill("block_v4", v4);
  fill("block_v6", v6);
  fill("dns_v4", dns_v4);
  fill("dns_v6", dns_v6);
  return s;
}

std::string TimeoutElement(const std::string& address, std::chrono::seconds timeout) {
  return address + " timeout " + std::to_string(timeout.count()) + "s";
}

}  // namespace

Status IndicatorBlocklist::Apply(const std::vector<std::string>& ips_and_cidrs, const std::vector<std::string>& domains) {
  std::vector<std::string> v4, v6, rejected;
  SplitByFamily(ips_and_cidrs, &v4, &v6, &rejected);
  for (const auto& r : rejected) log::Warn("blocklist: skipping an indicator that is not an IP or CIDR", {{"value", r}});
  std::unordered_set<std::string> new_domains;
  for (const auto& d : domains) {
    std::string n = NormalizeDomain(d);
    if (!n.empty()) new_domains.insert(std::move(n));
  }

  std::lock_guard lock(mu_);
  // Keep what DNS taught us for domains that are still blocked, with the time they have left.
  auto now = Clock::now();
  std::unordered_map<std::string, Learned> kept;
  std::vector<std::string> dns_v4, dns_v6;
  for (auto& [addr, why] : learned_) {
    if (why.expires <= now || !new_domains.count(why.domain)) continue;
    auto left = std::chrono::ceil<std::chrono::seconds>(why.expires - now);
    bool is_v6 = addr.find(':') != std::string::npos;
    (is_v6 ? dns_v6 : dns_v4).push_back(TimeoutElement(addr, left));
    kept.emplace(addr, why);
  }
  WARD_RETURN_IF_ERROR(RunNftCommands(BlocklistScript(v4, v6, dns_v4, dns_v6)));
  domains_ = std::move(new_domains);
  learned_ = std::move(kept);
  applied_ = true;
  return Status::Ok();
}

void IndicatorBlocklist::OnDnsAnswer(std::string_view queried_name, const std::vector<std::string>& addresses,
                                     uint32_t ttl) {
  std::lock_guard lock(mu_);
  if (!applied_) return;
  // The covering domain is remembered so that a policy without it drops these addresses.
  std::optional<std::string> domain = CoveringDomainLocked(queried_name);
  if (!domain) return;
  auto timeout = std::max<std::chrono::seconds>(std::chrono::seconds(ttl), kMinDnsTimeout);
  auto expires = Clock::now() + timeout;
  std::string t(kBlockTable), script;
  std::vector<std::pair<std::string, Learned>> updates;
  for (const auto& a : addresses) {
    auto parsed = ParseAddressOrCidr(a);
    if (!parsed || parsed->text.find('/') != std::string::npos) continue;
    std::string set = parsed->v6 ? "dns_v6" : "dns_v4";
    std::string prefix = " element inet " + t + " " + set + " { ";
    // add + delete + add: an existing element's timeout is not refreshed by "add" alone, and
    // "delete" alone fails on a missing one.
    script += "add" + prefix + parsed->text + " }\n";
    script += "delete" + prefix + parsed->text + " }\n";
    script += "add" + prefix + TimeoutElement(parsed->text, timeout) + " }\n";
    updates.emplace_back(parsed->text, Learned{*domain, expires});
  }
  if (script.empty()) return;
  if (auto r = RunNft(script); !r) {
    log::Warn("blocklist: cannot block addresses of a blocked domain",
              {{"domain", queried_name}, {"error", r.error().message()}});
    return;
  }
  for (auto& [addr, why] : updates) learned_[addr] = std::move(why);
  // Forget expired entries now and then so the map stays the size of what is blocked.
  if (learned_.size() > 1024) std::erase_if(learned_, [&](const auto& kv) { return kv.second.expires <= Clock::now(); });
}

Status IndicatorBlocklist::Clear() {
  std::lock_guard lock(mu_);
  WARD_RETURN_IF_ERROR(RunNftCommands(DropTableCommands(kBlockTable)));
  applied_ = false;
  domains_.clear();
  learned_.clear();
  return Status::Ok();
}

Result<uint64_t> IndicatorBlocklist::DroppedPackets() {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(bool exists, TableExists(kBlockTable));
  if (!exists) return Err(NotFound("blocklist: no table"));
  WARD_ASSIGN_OR_RETURN(std::string out, RunNft("list counter inet " + std::string(kBlockTable) + " dropped"));
  auto pos = out.find("packets ");
  if (pos == std::string::npos) return Err(Internal("blocklist: unexpected counter output"));
  uint64_t packets = 0;
  const char* begin = out.data() + pos + 8;
  auto [ptr, ec] = std::from_chars(begin, out.data() + out.size(), packets);
  if (ec != std::errc()) return Err(Internal("blocklist: unexpected counter output"));
  return packets;
}

}  // namespace ward::response
