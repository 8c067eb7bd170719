#pragma once
// Network containment with nftables, driven in-process through libnftables (no `nft` child process):
//
//   NetworkIsolation   — the Isolate / Unisolate machine actions (table `inet ward_isolation`);
//   IndicatorBlocklist — blocking IP/CIDR and domain indicators (table `inet ward_block`).
//
// Each class owns exactly one table and never touches another one, so the host's own firewall
// (other tables, iptables-nft chains) is left as it is. Every change is one nft transaction, so the
// kernel sees the old ruleset or the new one, never half of it.
//
// Both base chains hook at priority -180: after conntrack (-200), so `ct state` is known on the
// output hook too, and before mangle (-150), NAT (-100) and the usual filter chains (0). A drop in any
// nftables base chain is final, so other tables cannot re-allow what these drop.
//
// Rules act in the network namespace of the calling thread at the time of each call (a libnftables
// context is made per call); tests rely on that to work in a namespace of their own.
//
// Errors: InvalidArgument for malformed addresses; Unavailable when the kernel refuses the ruleset
// (no CAP_NET_ADMIN, nf_tables missing), with nft's own message. Thread-safe: each object serialises
// its calls with a mutex.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace ward::response {

inline constexpr std::string_view kIsolationTable = "ward_isolation";
inline constexpr std::string_view kBlockTable = "ward_block";
inline constexpr std::string_view kIsolationStateFile = "isolation.json";

struct IsolationSpec {
  bool selective = false;
  // The Ward server's addresses (IPv4/IPv6, optionally CIDR): what stays reachable.
  std::vector<std::string> allowed_addresses;
  // Server ports (TCP and UDP). Empty: any port on those addresses, in both directions.
  std::vector<uint16_t> allowed_ports;

  bool operator==(const IsolationSpec&) const = default;
};

// What an isolated host may still do (everything else, in and out, is dropped):
//
//  Full (MDE "Full"):
//   - loopback traffic (iif/oif lo);
//   - traffic with the allowed addresses: with no ports, anything to or from them; with ports, new
//     connections to them on those TCP/UDP ports, plus the replies;
//   - return traffic (ct state established,related, including ICMP errors from routers) of
//     connections whose original destination is an allowed address;
//   - DHCP client traffic (udp 68<->67) and IPv6 neighbour/router discovery, without which the host
//     would lose its address or its neighbours after a while and with them the server.
//  Selective (MDE "Selective"), in addition:
//   - every connection already established when isolation was applied (and its related traffic),
//     in both directions — MDE keeps Outlook/Teams sessions this way; we cannot tell applications
//     apart on the wire, so all established sessions survive. New connections are still dropped.
//     TCP sessions survive even when conntrack was not running before isolation (nothing on the host
//     used it): packets without SYN that conntrack picks up mid-stream are accepted, since they cannot
//     open a connection. UDP flows survive only when conntrack already tracked them;
//   - DNS (udp and tcp port 53) to any resolver, so names keep resolving.
class NetworkIsolation {
 public:
  // Replaces whatever isolation is in place by `spec`, atomically (idempotent). On error nothing
  // changes: the previous table, if any, stays.
  Status Isolate(const IsolationSpec& spec);
  // Removes the isolation table (and nothing else). Success when it was not there.
  Status Unisolate();
  // Whether the isolation table exists in the kernel now.
  Result<bool> IsIsolated();

  // The spec last applied by Isolate on this object (nullopt after Unisolate or before any call).
  std::optional<IsolationSpec> current() const;

  // Writes `dir`/isolation.json (temp file + fsync + rename) with current(), so the sensor re-applies
  // it at start: after a restart of the sensor and after a reboot, which clears nftables.
  Status SaveState(const std::string& dir) const;
  // The saved spec; nullopt when there is no file or it says the host is not isolated.
  // InvalidArgument when the file is corrupt.
  static Result<std::optional<IsolationSpec>> LoadState(const std::string& dir);
  // At sensor start: LoadState, then Isolate the saved spec or Unisolate when there is none (a
  // reboot during Unisolate must not leave the host cut off).
  Status Restore(const std::string& dir);

 private:
  mutable std::mutex mu_;
  std::optional<IsolationSpec> current_;
};

// nftables rules that drop traffic to and from blocked addresses, in both directions:
//   - sets block_v4/block_v6 (flags interval: addresses and CIDRs) from IP indicators;
//   - sets dns_v4/dns_v6 (flags timeout) of addresses that DNS answers gave for blocked domains;
//   - a named counter `dropped` of the packets dropped, and a rate-limited kernel log line with the
//     prefix "ward-block " per blocked packet (only visible in the initial network namespace, where
//     the kernel logs netfilter messages by default).
// The table persists in the kernel across sensor restarts, not reboots: the sensor calls Apply with
// its policy at start (ActionExecutor::PolicyChanged).
class IndicatorBlocklist {
 public:
  // Replaces the blocked addresses and domains atomically. Entries that are not an IPv4/IPv6 address
  // or CIDR are skipped (and logged) rather than failing the whole policy. Domains are matched with
  // their subdomains ("evil.com" blocks "a.evil.com"); a leading "*." and a trailing dot are ignored.
  // Addresses learned from DNS stay while their domain is still blocked and their timeout has not run
  // out. The `dropped` counter keeps counting across calls.
  Status Apply(const std::vector<std::string>& ips_and_cidrs, const std::vector<std::string>& domains);
  // A DNS answer was seen (sensor::DnsCollector): when `queried_name` or one of its parent domains is
  // blocked, its addresses are blocked for max(ttl, 60) seconds (refreshed by later answers). Cheap
  // when the name is not blocked (no nft call). Does nothing before the first Apply.
  void OnDnsAnswer(std::string_view queried_name, const std::vector<std::string>& addresses, uint32_t ttl);
  // Removes the table (and forgets the policy). Success when it was not there.
  Status Clear();
  // Packets dropped since the table was created (the `dropped` counter). NotFound without the table.
  Result<uint64_t> DroppedPackets();

  // Whether a blocked domain covers `name` (exact or parent), under the current policy.
  bool DomainBlocked(std::string_view name) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Learned {
    std::string domain;  // the blocked domain that matched
    Clock::time_point expires;
  };
  // The blocked domain equal to `name` or a parent of it.
  std::optional<std::string> CoveringDomainLocked(std::string_view name) const;

  mutable std::mutex mu_;
  bool applied_ = false;
  std::unordered_set<std::string> domains_;
  std::unordered_map<std::string, Learned> learned_;  // address text -> why and until when
};

// An address or CIDR in canonical text ("10.0.0.0/8", "2001:db8::1"), host bits cleared, IPv4-mapped
// IPv6 turned into IPv4. nullopt when `text` is neither. Exposed for tests and for callers that
// validate indicators before applying them.
struct ParsedAddress {
  bool v6 = false;
  std::string text;
};
std::optional<ParsedAddress> ParseAddressOrCidr(std::string_view text);

}  // namespace ward::response
