#pragma once
// Rows of every hunting table from the simulator's activity model, in process (no enrolment, no
// HTTP): for the KQL corpus test and the advanced-hunting benchmark. The six tables `ward-sensor
// simulate` produces come from SimDevice; DeviceEvents, DeviceRegistryEvents,
// DeviceImageLoadEvents, DeviceFileCertificateInfo, AlertInfo and AlertEvidence rows are derived
// from the simulated processes, so their Initiating* columns, hashes and device names line up for
// joins. Conversions from the simulator's JSON events are the ones ingest applies
// (src/ingest/telemetry.cc), minus the limits: the simulator's output is trusted.
//
// Deterministic: the same devices (index, seed, anchor time) and rng give the same rows.
// Not thread-safe; use one SimTelemetry per thread (the registry is shared read-only).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "events/rows.h"
#include "events/schema.h"
#include "json/json.h"
#include "sensor/simulator.h"

namespace ward::sensor {

class SimTelemetry {
 public:
  explicit SimTelemetry(const events::SchemaRegistry& registry) : reg_(registry) {}

  // The DeviceId the fleet uses for device `index` (40 hex digits).
  static std::string DeviceIdFor(int index);

  // A small fleet: `devices` devices (seeds 1000 + i), each with inventory and
  // `activities_per_device` activities spread evenly over the `hours` hours before `now`, oldest
  // first, 1 in 20 suspicious; one RowBatch per device, tenant "tenant-a". One rng (seed 42) runs
  // through all devices in order.
  std::vector<events::RowBatch> Generate(int devices, int activities_per_device, int hours, int64_t now);

  // Appends the rows of one activity of `dev` at `t` (KQL ticks), derived rows included.
  void Activity(SimDevice& dev, const std::string& device_id, std::mt19937_64& rng, int64_t t, bool suspicious,
                std::vector<events::Row>& out);
  // Appends the device's DeviceInfo and DeviceNetworkInfo rows at `t`.
  void Inventory(SimDevice& dev, const std::string& device_id, int64_t t, std::vector<events::Row>& out);

 private:
  void AppendRows(const SimDevice& dev, const std::string& device_id, std::vector<json::Value>& events,
                  std::vector<events::Row>& out) const;
  bool Has(const json::Value& ev, std::string_view column) const;
  bool ToRow(const json::Value& ev, events::Row& row) const;
  json::Value Copy(const json::Value& src, const char* table, std::initializer_list<std::pair<const char*, json::Value>> extra) const;
  void Derive(std::mt19937_64& rng, const json::Value& ev, std::vector<json::Value>& out) const;

  const events::SchemaRegistry& reg_;
  std::vector<json::Value> scratch_, derived_;
};

}  // namespace ward::sensor
