#include "sensor/inventory.h"

#include <utmp.h>

#include <algorithm>
#include <cstring>

#include "common/version.h"

namespace ward::sensor {

std::string IpAddressesJson(const std::vector<IpAddress>& addresses) {
  json::Writer w;
  w.StartArray();
  for (const IpAddress& a : addresses) {
    w.StartObject();
    w.KV("IPAddress", a.address);
    w.KV("SubnetPrefix", static_cast<int64_t>(a.prefix));
    w.KV("AddressType", IpType(a.address));
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::vector<std::string> LoggedOnUsers(const std::string& utmp_path) {
  std::vector<std::string> users;
  auto data = ReadFile(utmp_path, 4 * 1024 * 1024);
  if (!data) return users;
  for (size_t off = 0; off + sizeof(utmp) <= data->size(); off += sizeof(utmp)) {
    utmp u;
    std::memcpy(&u, data->data() + off, sizeof(u));
    if (u.ut_type != USER_PROCESS) continue;
    std::string name(u.ut_user, strnlen(u.ut_user, sizeof(u.ut_user)));
    if (!name.empty() && std::find(users.begin(), users.end(), name) == users.end()) users.push_back(name);
  }
  return users;
}

json::Value DeviceInfoEvent(const OsFacts& os, const std::string& device_name, const std::vector<std::string>& logged_on,
                            const std::vector<std::string>& tags, const std::string& device_type, int64_t ticks) {
  json::Value ev = NewEvent(kInfoTable, "", ticks);
  ev.AppendMember("DeviceName", json::Value(device_name));
  ev.AppendMember("ClientVersion", json::Value(kVersion));
  SetIfNotEmpty(ev, "OSArchitecture", ArchitectureBits(os.machine));
  ev.AppendMember("OSPlatform", json::Value("Linux"));
  ev.AppendMember("OSBuild", json::Value(static_cast<int64_t>(0)));
  json::Writer users;
  users.StartArray();
  for (const auto& u : logged_on) {
    users.StartObject().KV("UserName", u).KV("DomainName", LocalDomain()).EndObject();
  }
  users.EndArray();
  ev.AppendMember("LoggedOnUsers", json::Value(users.Take()));
  SetIfNotEmpty(ev, "OSVersion", os.version);
  ev.AppendMember("OnboardingStatus", json::Value("Onboarded"));
  ev.AppendMember("DeviceCategory", json::Value("Endpoint"));
  ev.AppendMember("DeviceType", json::Value(device_type));
  if (auto v = ReadFile("/sys/class/dmi/id/product_name", 256)) SetIfNotEmpty(ev, "Model", Trim(*v));
  if (auto v = ReadFile("/sys/class/dmi/id/sys_vendor", 256)) SetIfNotEmpty(ev, "Vendor", Trim(*v));
  SetIfNotEmpty(ev, "OSDistribution", os.distribution);
  SetIfNotEmpty(ev, "OSVersionInfo", os.pretty_name);
  ev.AppendMember("SensorHealthState", json::Value("Active"));
  if (!tags.empty()) {
    json::Writer t;
    t.StartArray();
    for (const auto& tag : tags) t.String(tag);
    t.EndArray();
    ev.AppendMember("DeviceManualTags", json::Value(t.Take()));
  }
  json::Writer af;
  af.StartObject().KV("KernelVersion", os.kernel).KV("Machine", os.machine).EndObject();
  ev.AppendMember("AdditionalFields", json::Value(af.Take()));
  return ev;
}

json::Value DeviceNetworkInfoEvent(const Interface& itf, const std::vector<std::string>& dns,
                                   const std::vector<std::string>& gateways, int64_t ticks) {
  json::Value ev = NewEvent(kNetworkInfoTable, "", ticks);
  ev.AppendMember("NetworkAdapterName", json::Value(itf.name));
  SetIfNotEmpty(ev, "MacAddress", itf.mac);
  ev.AppendMember("NetworkAdapterType", json::Value(itf.type));
  ev.AppendMember("NetworkAdapterStatus", json::Value(itf.up ? "Up" : "Down"));
  SetIfNotEmpty(ev, "TunnelType", itf.tunnel_type);
  auto array = [](const std::vector<std::string>& items) {
    json::Writer w;
    w.StartArray();
    for (const auto& i : items) w.String(i);
    w.EndArray();
    return w.Take();
  };
  bool loopback = itf.type == "SoftwareLoopback";
  ev.AppendMember("DnsAddresses", json::Value(array(loopback ? std::vector<std::string>{} : dns)));
  ev.AppendMember("DefaultGateways", json::Value(array(loopback ? std::vector<std::string>{} : gateways)));
  ev.AppendMember("IPAddresses", json::Value(IpAddressesJson(itf.addresses)));
  return ev;
}

Inventory::Inventory(EventSink* sink, InventoryOptions options) : sink_(sink), options_(std::move(options)) {}

Inventory::~Inventory() { Stop(); }

Status Inventory::Start() {
  ReportOnce();
  stopper_.Reset();
  thread_ = std::thread([this] {
    SetThreadName("ward-inventory");
    while (stopper_.SleepFor(options_.interval)) ReportOnce();
  });
  return Status::Ok();
}

void Inventory::Stop() {
  stopper_.Stop();
  if (thread_.joinable()) thread_.join();
}

void Inventory::ReportOnce() {
  int64_t now = NowTicks();
  OsFacts os = LocalOsFacts();
  sink_->Emit(DeviceInfoEvent(os, HostName(), LoggedOnUsers(), options_.tags, options_.device_type, now));
  std::vector<std::string> dns = ParseResolvConf(ReadFile("/etc/resolv.conf", 64 * 1024).value_or(""));
  std::vector<std::string> gateways;
  if (auto routes = ReadFile("/proc/net/route", 1024 * 1024)) gateways = ParseDefaultGateways(*routes);
  for (const Interface& itf : LocalInterfaces()) sink_->Emit(DeviceNetworkInfoEvent(itf, dns, gateways, now));
}

}  // namespace ward::sensor
