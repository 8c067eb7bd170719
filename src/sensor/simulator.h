#pragma once
// `ward-sensor simulate`: enrolls N virtual Linux devices and streams realistic telemetry for all six
// tables at a given total rate, for load tests and demos. Each device keeps a consistent process tree
// (pids, parents, creation times, hashes per distribution), so Initiating* columns line up with the
// ProcessCreated events of the parents. About `suspicious_fraction` of activities are attack-like
// (curl | sh, nc -e, base64-decoded commands, cron persistence, password guessing, shadow copies).
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "json/json.h"
#include "sensor/onboarding.h"

namespace ward::sensor {

struct SimulateOptions {
  std::string onboarding_file;
  int devices = 10;
  double rate = 100;            // total events per second over all devices
  double duration_seconds = 0;  // 0 = until SIGINT/SIGTERM
  std::string state_dir;        // optional: keeps the virtual devices' credentials between runs
  uint64_t seed = 1;
  int senders = 0;              // upload threads; 0 = min(devices, 4)
  double suspicious_fraction = 0.01;
  size_t max_batch_events = 1000;
  double action_failure_fraction = 0.02;  // machine actions answered Failed
  double offline_fraction = 0.0;          // devices that never pick actions up
};

// One virtual device and its activity model (exposed for tests).
class SimDevice {
 public:
  // `now_ticks` anchors the device's boot time (0 = the clock); with a fixed value and seed the
  // device's activity is fully reproducible.
  SimDevice(int index, uint64_t seed, int64_t now_ticks = 0);
  ~SimDevice();
  SimDevice(SimDevice&&) noexcept;
  SimDevice& operator=(SimDevice&&) noexcept;

  const std::string& name() const;
  DeviceFacts Facts() const;
  // Appends the events of one activity (1..n events) at time `now` (KQL ticks).
  void Activity(std::mt19937_64& rng, int64_t now, bool suspicious, std::vector<json::Value>& out);
  // DeviceInfo + DeviceNetworkInfo rows.
  void Inventory(int64_t now, std::vector<json::Value>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the simulation and prints the JSON summary on stdout. Returns the exit code.
int RunSimulator(const SimulateOptions& options);

}  // namespace ward::sensor
