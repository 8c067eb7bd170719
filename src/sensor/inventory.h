#pragma once
// DeviceInfo and DeviceNetworkInfo snapshots, at start and every `interval` (15 minutes by default).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "sensor/event.h"
#include "sensor/host.h"
#include "sensor/util.h"

namespace ward::sensor {

struct InventoryOptions {
  std::chrono::milliseconds interval{std::chrono::minutes(15)};
  std::string device_type = "Server";  // MDE DeviceType: "Server" or "Workstation"
  std::vector<std::string> tags;
};

// Builders (exposed for tests and the simulator's shapes).
json::Value DeviceInfoEvent(const OsFacts& os, const std::string& device_name, const std::vector<std::string>& logged_on,
                            const std::vector<std::string>& tags, const std::string& device_type, int64_t ticks);
json::Value DeviceNetworkInfoEvent(const Interface& itf, const std::vector<std::string>& dns,
                                   const std::vector<std::string>& gateways, int64_t ticks);
// {"IPAddress","SubnetPrefix","AddressType"} objects as MDE writes them, as JSON text.
std::string IpAddressesJson(const std::vector<IpAddress>& addresses);
// Users with a current session (utmp USER_PROCESS), de-duplicated.
std::vector<std::string> LoggedOnUsers(const std::string& utmp_path = "/var/run/utmp");

class Inventory {
 public:
  Inventory(EventSink* sink, InventoryOptions options);
  ~Inventory();
  Inventory(const Inventory&) = delete;
  Inventory& operator=(const Inventory&) = delete;

  Status Start();  // reports once immediately
  void Stop();
  void ReportOnce();

 private:
  EventSink* sink_;
  InventoryOptions options_;
  Stopper stopper_;
  std::thread thread_;
};

}  // namespace ward::sensor
