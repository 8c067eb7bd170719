#pragma once
// Telemetry events are JSON objects with "$table" and MDE column names (docs/sensor-protocol.md).
// Collectors build them with these helpers and hand them to an EventSink, which numbers them
// (ReportId) and batches them for upload.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "json/json.h"
#include "sensor/proc.h"

namespace ward::sensor {

inline constexpr std::string_view kProcessTable = "DeviceProcessEvents";
inline constexpr std::string_view kFileTable = "DeviceFileEvents";
inline constexpr std::string_view kNetworkTable = "DeviceNetworkEvents";
inline constexpr std::string_view kLogonTable = "DeviceLogonEvents";
inline constexpr std::string_view kInfoTable = "DeviceInfo";
inline constexpr std::string_view kNetworkInfoTable = "DeviceNetworkInfo";

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Takes an event built with NewEvent; the sink adds ReportId. Thread-safe.
  virtual void Emit(json::Value event) = 0;
  // Events lost before reaching the sink (collector overflow etc.), reported in heartbeats.
  virtual void CountDropped(std::string_view reason, uint64_t events) = 0;
};

// {"$table": table, "Timestamp": ..., "ActionType": action} (ActionType omitted when empty).
json::Value NewEvent(std::string_view table, std::string_view action_type, int64_t ticks = NowTicks());

// Adds a string member unless empty (absent columns are null on the server).
void SetIfNotEmpty(json::Value& ev, std::string_view key, std::string_view value);

// File name of a process image: the executable's base name, or comm when the path is unknown.
std::string ProcessFileName(const ProcessInfo& p);

// The InitiatingProcess* columns (and InitiatingProcessParent* from `parent`) shared by the
// process, file, network and logon tables.
void AddInitiatingProcess(json::Value& ev, const ProcessInfo* proc, const ProcessInfo* parent);
// Looks the process and its parent up in the table and adds their columns.
void AddInitiatingProcess(json::Value& ev, ProcessTable& table, int pid);

// MDE's IP address classification: "Public", "Private", "Loopback", "LinkLocal", "Multicast",
// "Broadcast", "FourToSixMapping", "Reserved" (and "" for unparsable input).
std::string IpType(std::string_view ip);
// "::ffff:1.2.3.4" -> "1.2.3.4"; other addresses unchanged.
std::string UnmapIpv4(std::string_view ip);

// Host name without domain, used as AccountDomain for local accounts (as MDE does on Linux).
const std::string& LocalDomain();

// A sink that keeps events in memory: for tests and diagnostics.
class CollectingSink : public EventSink {
 public:
  void Emit(json::Value event) override;
  void CountDropped(std::string_view reason, uint64_t events) override;
  // Waits until some event satisfies `pred`; returns a copy of it.
  std::optional<json::Value> WaitFor(const std::function<bool(const json::Value&)>& pred,
                                     std::chrono::milliseconds timeout);
  std::vector<json::Value> Events() const;
  std::map<std::string, uint64_t> Dropped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json::Value> events_;
  std::map<std::string, uint64_t> dropped_;
};

}  // namespace ward::sensor
