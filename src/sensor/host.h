#pragma once
// Facts about the local host: OS release, kernel, machine id, network interfaces.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ward::sensor {

// KEY=value lines of /etc/os-release (quotes removed).
std::map<std::string, std::string> ParseOsRelease(std::string_view content);
// "debian" -> "Debian", "ubuntu" -> "Ubuntu", "rhel" -> "RHEL", ...; falls back to NAME.
std::string DistributionName(const std::map<std::string, std::string>& os_release);

struct OsFacts {
  std::string distribution;  // "Debian"
  std::string version;       // "12"
  std::string pretty_name;   // "Debian GNU/Linux 12 (bookworm)"
  std::string kernel;        // uname release
  std::string machine;       // uname machine, e.g. "x86_64"
};
OsFacts LocalOsFacts();

// "64-bit" / "32-bit" as MDE's OSArchitecture column, from a uname machine string.
std::string ArchitectureBits(std::string_view machine);

// Stable host identity: SHA-256 hex of /etc/machine-id (or the dbus copy); "" when neither exists.
std::string MachineHostId();

struct IpAddress {
  std::string address;
  int prefix = 0;
  bool v6 = false;
};

struct Interface {
  std::string name;
  std::string mac;          // "00:11:22:AA:BB:CC" or ""
  std::string type;         // "Ethernet", "SoftwareLoopback", "Wireless80211", "Tunnel", "Other"
  std::string tunnel_type;  // "" unless a tunnel
  bool up = false;
  std::vector<IpAddress> addresses;
};
std::vector<Interface> LocalInterfaces();
// Addresses of interfaces that are up, without loopback and IPv6 link-local (for enrollment).
std::vector<std::string> LocalIpAddresses();

// Name servers from resolv.conf content.
std::vector<std::string> ParseResolvConf(std::string_view content);
// Default IPv4 gateways from /proc/net/route content (hex little-endian fields).
std::vector<std::string> ParseDefaultGateways(std::string_view proc_net_route);

}  // namespace ward::sensor
