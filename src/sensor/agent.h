#pragma once
// The real sensor: identity, disk queue, uploader and the collectors, wired together.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "sensor/actions.h"

namespace ward::sensor {

struct SensorOptions {
  std::string onboarding_file;  // optional once an identity is stored
  std::string state_dir;
  std::vector<std::string> watch_paths;  // empty = /etc /tmp /usr/bin
  int once_seconds = 0;                  // > 0: run that long, upload what was collected, exit
  bool reenroll = false;                 // ignore the stored identity and enroll again
  uint64_t queue_max_bytes = 128ull * 1024 * 1024;
  bool allow_netlink = true;
  bool allow_fanotify = true;
  bool host_enforcement = true;  // --no-host-enforcement: no nftables, no exec gating
  // UDP source ports whose datagrams are read as DNS answers (empty: no DNS capture).
  std::vector<uint16_t> dns_ports{53};
  std::vector<std::string> tags;
  // What runs machine actions on this host (src/response); null: the sensor takes no actions.
  std::function<std::unique_ptr<ActionExecutor>(const ExecutorEnvironment&)> make_executor;
};

// Runs until SIGINT/SIGTERM (or once_seconds). Returns the process exit code.
int RunSensor(const SensorOptions& options);

}  // namespace ward::sensor
