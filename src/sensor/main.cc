// ward-sensor: the Linux endpoint sensor.
//
//   ward-sensor --onboarding FILE --state-dir DIR [--watch PATH]... [--once-seconds N]
//   ward-sensor simulate --onboarding FILE --devices N --rate EPS [--duration S] [--state-dir DIR]
//   ward-sensor --version
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/version.h"
#include "response/host_executor.h"
#include "sensor/agent.h"
#include "sensor/simulator.h"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  ward-sensor --onboarding FILE --state-dir DIR [--watch PATH]... [--once-seconds N]\n"
    "              [--tag TAG]... [--queue-max-mb N] [--reenroll] [--no-netlink] [--no-fanotify]\n"
    "              [--dns-port PORT]... [--no-dns] [--no-host-enforcement]\n"
    "              [--log-level debug|info|warn|error]\n"
    "  ward-sensor simulate --onboarding FILE --devices N --rate EPS [--duration S] [--state-dir DIR]\n"
    "              [--seed N] [--senders N] [--suspicious FRACTION] [--action-failures FRACTION]\n"
    "              [--offline FRACTION]\n"
    "  ward-sensor --version\n";

int Usage(const char* error = nullptr) {
  if (error) std::fprintf(stderr, "ward-sensor: %s\n", error);
  std::fputs(kUsage, stderr);
  return 2;
}

bool ParseLevel(std::string_view v) {
  using ward::log::Level;
  if (v == "debug") ward::log::SetLevel(Level::kDebug);
  else if (v == "info") ward::log::SetLevel(Level::kInfo);
  else if (v == "warn") ward::log::SetLevel(Level::kWarn);
  else if (v == "error") ward::log::SetLevel(Level::kError);
  else return false;
  return true;
}

bool ParseNumber(const char* text, double* out) {
  char* end = nullptr;
  *out = std::strtod(text, &end);
  return end && *end == '\0' && end != text;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (auto a : args) {
    if (a == "--version" || a == "version") {
      std::printf("ward-sensor %s\n", ward::kVersion);
      return 0;
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  bool simulate = !args.empty() && args[0] == "simulate";
  size_t i = simulate ? 1 : 0;
  ward::sensor::SensorOptions sensor;
  ward::sensor::SimulateOptions sim;
  auto value = [&](std::string_view flag) -> const char* {
    if (i + 1 >= args.size()) return nullptr;
    (void)flag;
    return argv[1 + ++i];
  };
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    const char* v = nullptr;
    double num = 0;
    if (a == "--onboarding") {
      if (!(v = value(a))) return Usage("--onboarding needs a file");
      sensor.onboarding_file = sim.onboarding_file = v;
    } else if (a == "--state-dir") {
      if (!(v = value(a))) return Usage("--state-dir needs a directory");
      sensor.state_dir = sim.state_dir = v;
    } else if (a == "--log-level") {
      if (!(v = value(a)) || !ParseLevel(v)) return Usage("--log-level needs debug|info|warn|error");
    } else if (!simulate && a == "--watch") {
      if (!(v = value(a))) return Usage("--watch needs a path");
      sensor.watch_paths.emplace_back(v);
    } else if (!simulate && a == "--once-seconds") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num <= 0) return Usage("--once-seconds needs a positive number");
      sensor.once_seconds = static_cast<int>(num);
    } else if (!simulate && a == "--tag") {
      if (!(v = value(a))) return Usage("--tag needs a value");
      sensor.tags.emplace_back(v);
    } else if (!simulate && a == "--queue-max-mb") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num < 1) return Usage("--queue-max-mb needs a number >= 1");
      sensor.queue_max_bytes = static_cast<uint64_t>(num * 1024 * 1024);
    } else if (!simulate && a == "--reenroll") {
      sensor.reenroll = true;
    } else if (!simulate && a == "--no-netlink") {
      sensor.allow_netlink = false;
    } else if (!simulate && a == "--no-fanotify") {
      sensor.allow_fanotify = false;
    } else if (!simulate && a == "--dns-port") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num < 1 || num > 65535) return Usage("--dns-port needs a port 1..65535");
      sensor.dns_ports.push_back(static_cast<uint16_t>(num));
    } else if (!simulate && a == "--no-host-enforcement") {
      sensor.host_enforcement = false;
    } else if (!simulate && a == "--no-dns") {
      sensor.dns_ports.clear();
    } else if (simulate && a == "--devices") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num < 1) return Usage("--devices needs a positive number");
      sim.devices = static_cast<int>(num);
    } else if (simulate && a == "--rate") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num <= 0) return Usage("--rate needs a positive number");
      sim.rate = num;
    } else if (simulate && a == "--duration") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num <= 0) return Usage("--duration needs a positive number");
      sim.duration_seconds = num;
    } else if (simulate && a == "--seed") {
      if (!(v = value(a)) || !ParseNumber(v, &num)) return Usage("--seed needs a number");
      sim.seed = static_cast<uint64_t>(num);
    } else if (simulate && a == "--senders") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num < 1) return Usage("--senders needs a positive number");
      sim.senders = static_cast<int>(num);
    } else if (simulate && a == "--action-failures") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num < 0 || num > 1) return Usage("--action-failures needs 0..1");
      sim.action_failure_fraction = num;
    } else if (simulate && a == "--offline") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num < 0 || num > 1) return Usage("--offline needs 0..1");
      sim.offline_fraction = num;
    } else if (simulate && a == "--suspicious") {
      if (!(v = value(a)) || !ParseNumber(v, &num) || num < 0 || num > 1) return Usage("--suspicious needs 0..1");
      sim.suspicious_fraction = num;
    } else {
      std::string msg = "unknown argument '" + std::string(a) + "'";
      return Usage(msg.c_str());
    }
  }
  sensor.make_executor = [](const ward::sensor::ExecutorEnvironment& env) -> std::unique_ptr<ward::sensor::ActionExecutor> {
    return std::make_unique<ward::response::HostExecutor>(env);
  };
  if (simulate) {
    if (sim.onboarding_file.empty()) return Usage("simulate needs --onboarding FILE");
    return ward::sensor::RunSimulator(sim);
  }
  if (sensor.state_dir.empty()) return Usage("--state-dir is required");
  return ward::sensor::RunSensor(sensor);
}
