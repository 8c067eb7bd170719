#include "sensor/host.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/crypto.h"
#include "sensor/util.h"

namespace ward::sensor {

std::map<std::string, std::string> ParseOsRelease(std::string_view content) {
  std::map<std::string, std::string> out;
  for (std::string_view line : SplitLines(content)) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::string v;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      v.push_back(value[i]);
    }
    out[std::string(line.substr(0, eq))] = std::move(v);
  }
  return out;
}

std::string DistributionName(const std::map<std::string, std::string>& os) {
  static const std::map<std::string, std::string, std::less<>> kNames = {
      {"debian", "Debian"},   {"ubuntu", "Ubuntu"},       {"rhel", "RHEL"},         {"centos", "CentOS"},
      {"fedora", "Fedora"},   {"amzn", "AmazonLinux"},    {"sles", "SLES"},         {"opensuse-leap", "openSUSE"},
      {"ol", "OracleLinux"},  {"rocky", "Rocky"},         {"almalinux", "AlmaLinux"}, {"mariner", "Mariner"},
      {"azurelinux", "AzureLinux"}, {"alpine", "Alpine"}, {"arch", "Arch"},
  };
  if (auto it = os.find("ID"); it != os.end()) {
    if (auto n = kNames.find(it->second); n != kNames.end()) return n->second;
  }
  if (auto it = os.find("NAME"); it != os.end()) return it->second;
  return "Linux";
}

OsFacts LocalOsFacts() {
  OsFacts f;
  auto content = ReadFile("/etc/os-release");
  if (!content) content = ReadFile("/usr/lib/os-release");
  auto os = ParseOsRelease(content.value_or(""));
  f.distribution = DistributionName(os);
  f.version = os.count("VERSION_ID") ? os["VERSION_ID"] : "";
  f.pretty_name = os.count("PRETTY_NAME") ? os["PRETTY_NAME"] : f.distribution;
  utsname u{};
  if (::uname(&u) == 0) {
    f.kernel = u.release;
    f.machine = u.machine;
  }
  return f;
}

std::string ArchitectureBits(std::string_view machine) {
  if (machine == "x86_64" || machine == "aarch64" || machine == "ppc64le" || machine == "s390x" ||
      machine == "riscv64" || machine == "arm64") {
    return "64-bit";
  }
  if (machine.empty()) return "";
  return "32-bit";
}

std::string MachineHostId() {
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    if (auto id = ReadFile(path, 4096)) {
      std::string_view t = Trim(*id);
      if (!t.empty()) return HexEncode(Sha256(t));
    }
  }
  return "";
}

namespace {

std::string AdapterType(const std::string& name, unsigned flags, std::string* tunnel) {
  if (flags & IFF_LOOPBACK) return "SoftwareLoopback";
  if (auto wireless = ReadFile("/sys/class/net/" + name + "/wireless", 16); wireless) return "Wireless80211";
  auto type = ReadFile("/sys/class/net/" + name + "/type", 32);
  int t = type ? std::atoi(type->c_str()) : -1;
  switch (t) {
    case ARPHRD_ETHER:
      return "Ethernet";
    case ARPHRD_TUNNEL:
    case ARPHRD_TUNNEL6:
    case ARPHRD_SIT:
    case ARPHRD_IPGRE:
    case ARPHRD_NONE:
      *tunnel = t == ARPHRD_SIT ? "6to4" : t == ARPHRD_IPGRE ? "Gre" : "Other";
      return "Tunnel";
    case ARPHRD_IEEE80211:
      return "Wireless80211";
    default:
      return "Other";
  }
}

int PrefixLength(const sockaddr* mask) {
  if (!mask) return 0;
  int bits = 0;
  const uint8_t* b = nullptr;
  size_t n = 0;
  if (mask->sa_family == AF_INET) {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  for (size_t i = 0; i < n; ++i) bits += __builtin_popcount(b[i]);
  return bits;
}

}  // namespace

std::vector<Interface> LocalInterfaces() {
  std::vector<Interface> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  auto find = [&](const char* name, unsigned flags) -> Interface& {
    for (auto& i : out) {
      if (i.name == name) return i;
    }
    Interface i;
    i.name = name;
    i.up = (flags & IFF_UP) && (flags & IFF_RUNNING);
    i.type = AdapterType(i.name, flags, &i.tunnel_type);
    out.push_back(std::move(i));
    return out.back();
  };
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_name) continue;
    Interface& itf = find(a->ifa_name, a->ifa_flags);
    if (!a->ifa_addr) continue;
    int family = a->ifa_addr->sa_family;
    if (family == AF_PACKET) {
      auto* ll = reinterpret_cast<const sockaddr_ll*>(a->ifa_addr);
      if (ll->sll_halen == 6) {
        char mac[18];
        std::snprintf(mac, sizeof(mac), "%02X:%02X:%02X:%02X:%02X:%02X", ll->sll_addr[0], ll->sll_addr[1],
                      ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
        itf.mac = mac;
      }
    } else if (family == AF_INET || family == AF_INET6) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* src = family == AF_INET
                            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr)
                            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr);
      if (!inet_ntop(family, src, text, sizeof(text))) continue;
      itf.addresses.push_back(IpAddress{text, PrefixLength(a->ifa_netmask), family == AF_INET6});
    }
  }
  ::freeifaddrs(list);
  return out;
}

std::vector<std::string> LocalIpAddresses() {
  std::vector<std::string> out;
  for (const Interface& i : LocalInterfaces()) {
    if (!i.up || i.type == "SoftwareLoopback") continue;
    for (const IpAddress& a : i.addresses) {
      if (a.v6 && StartsWith(a.address, "fe80")) continue;
      out.push_back(a.address);
    }
  }
  return out;
}

std::vector<std::string> ParseResolvConf(std::string_view content) {
  std::vector<std::string> out;
  for (std::string_view line : SplitLines(content)) {
    line = Trim(line);
    if (!StartsWith(line, "nameserver")) continue;
    std::string_view rest = Trim(line.substr(10));
    rest = rest.substr(0, rest.find_first_of(" \t#"));
    if (!rest.empty()) out.emplace_back(rest);
  }
  return out;
}

std::vector<std::string> ParseDefaultGateways(std::string_view content) {
  std::vector<std::string> out;
  bool header = true;
  for (std::string_view line : SplitLines(content)) {
    if (header) {
      header = false;
      continue;
    }
    // Iface Destination Gateway Flags ...
    std::vector<std::string_view> f = SplitFields(line, 4);
    if (f.size() < 3 || f[1] != "00000000") continue;
    uint32_t gw = static_cast<uint32_t>(std::strtoul(std::string(f[2]).c_str(), nullptr, 16));
    if (gw == 0) continue;
    in_addr a{};
    a.s_addr = gw;  // the file holds the address in host order of a little-endian dump: it is s_addr as-is
    char text[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &a, text, sizeof(text))) {
      if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
    }
  }
  return out;
}

}  // namespace ward::sensor
