#pragma once
// Machine actions for simulated devices (`ward-sensor simulate`): the same channel as the real
// sensor (GET /sensor/v1/actions, status reports, file uploads), answered with plausible outcomes
// after a plausible delay, so that the API, bulk fan-out and the portal can be exercised at fleet
// scale. A share of devices is offline (never polls: their actions time out on the server) and a
// share of actions fails. Packages and live-response outputs are small but well-formed (a gzip'd tar
// with a manifest, MDE's RunScript JSON).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sensor/onboarding.h"
#include "sensor/util.h"

namespace ward::sensor {

struct SimActionOptions {
  double failure_fraction = 0.02;
  double offline_fraction = 0.0;
  int threads = 4;
  std::chrono::milliseconds min_delay{200}, max_delay{1500};
};

struct SimActionStats {
  uint64_t received = 0, succeeded = 0, failed = 0;
};

class SimActionResponder {
 public:
  // `ids` are the devices' identities (nullopt: not enrolled); they must outlive the responder.
  SimActionResponder(const std::vector<std::optional<Identity>>* ids, SimActionOptions options, uint64_t seed);
  ~SimActionResponder();
  SimActionResponder(const SimActionResponder&) = delete;
  SimActionResponder& operator=(const SimActionResponder&) = delete;

  void Start();
  void Stop();
  SimActionStats stats() const;
  // Whether device `index` plays an offline device (never takes actions, sends no heartbeats).
  bool offline(size_t index) const { return index < offline_.size() && offline_[index]; }

 private:
  void Worker(int index);

  const std::vector<std::optional<Identity>>* ids_;
  SimActionOptions options_;
  uint64_t seed_;
  std::vector<bool> offline_;
  size_t stride_ = 1;
  Stopper stopper_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> received_{0}, succeeded_{0}, failed_{0};
};

// A minimal but valid .tar.gz holding one file (ustar, for simulated investigation packages).
std::string TarGzOneFile(const std::string& name, const std::string& content);

}  // namespace ward::sensor
