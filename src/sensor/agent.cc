#include "sensor/agent.h"

#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <memory>

#include "common/log.h"
#include "sensor/batcher.h"
#include "sensor/action_channel.h"
#include "sensor/disk_queue.h"
#include "sensor/dns_collector.h"
#include "sensor/file_collector.h"
#include "sensor/host.h"
#include "sensor/inventory.h"
#include "sensor/logon_collector.h"
#include "sensor/network_collector.h"
#include "sensor/onboarding.h"
#include "sensor/process_collector.h"
#include "sensor/uploader.h"
#include "sensor/util.h"

namespace ward::sensor {

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

int RunSensor(const SensorOptions& options) {
  if (options.state_dir.empty()) {
    log::Error("--state-dir is required");
    return 2;
  }
  // Signals are taken synchronously by the main thread: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::optional<OnboardingInfo> onboarding;
  if (!options.onboarding_file.empty()) {
    auto info = LoadOnboardingFile(options.onboarding_file);
    if (!info) {
      log::Error("bad onboarding file", {{"error", info.error().message()}});
      return 2;
    }
    onboarding = std::move(*info);
  }
  if (Status st = MakeDirs(options.state_dir, 0700); !st.ok()) {
    log::Error("cannot create state dir", {{"error", st.message()}});
    return 1;
  }
  ::chmod(options.state_dir.c_str(), 0700);

  std::optional<Identity> identity;
  if (!options.reenroll) {
    auto loaded = LoadIdentity(options.state_dir);
    if (loaded) {
      identity = std::move(*loaded);
    } else if (loaded.error().code() != StatusCode::kNotFound) {
      log::Warn("ignoring unreadable identity", {{"error", loaded.error().message()}});
    }
  }
  if (identity && onboarding) {
    if (!identity->tenant_id.empty() && identity->tenant_id != onboarding->org_id) {
      log::Info("onboarding package is for another organization; enrolling again");
      identity.reset();
    } else if (identity->server_url != onboarding->server_url ||
               identity->server_cert_sha256 != onboarding->server_cert_sha256) {
      // Same tenant, moved server: keep the credential, follow the package.
      identity->server_url = onboarding->server_url;
      identity->server_cert_sha256 = onboarding->server_cert_sha256;
      if (Status st = SaveIdentity(options.state_dir, *identity); !st.ok()) {
        log::Warn("cannot save identity", {{"error", st.message()}});
      }
    }
  }
  if (!identity && !onboarding) {
    log::Error("no stored identity: --onboarding FILE is required for the first start");
    return 2;
  }

  DiskQueueOptions qopt;
  qopt.dir = JoinPath(options.state_dir, "queue");
  qopt.max_bytes = options.queue_max_bytes;
  auto queue = DiskQueue::Open(qopt);
  if (!queue) {
    log::Error("cannot open disk queue", {{"error", queue.error().message()}});
    return 1;
  }
  auto ids = ReportIdCounter::Open(JoinPath(options.state_dir, "report_id"));
  if (!ids) {
    log::Error("cannot open ReportId counter", {{"error", ids.error().message()}});
    return 1;
  }
  Batcher batcher(queue->get(), ids->get());
  batcher.Start();

  UploaderOptions uopt;
  uopt.state_dir = options.state_dir;
  uopt.onboarding = onboarding;
  std::vector<std::string> tags = options.tags;
  std::string state_dir = options.state_dir;
  uopt.device_facts = [state_dir, tags] {
    DeviceFacts f = LocalDeviceFacts(state_dir);
    f.tags = tags;
    return f;
  };
  uopt.ip_addresses = [] { return LocalIpAddresses(); };
  // New enforcement policies go to the action executor once it exists (set below).
  std::atomic<ActionExecutor*> policy_target{nullptr};
  uopt.on_policy = [&policy_target](const json::Value& policy) {
    if (ActionExecutor* e = policy_target.load()) e->PolicyChanged(policy);
  };
  Uploader uploader(queue->get(), uopt, identity);
  uploader.Start();

  HashCache hashes;
  ProcessTable processes(&hashes);

  ProcessCollectorOptions popt;
  popt.allow_netlink = options.allow_netlink;
  ProcessCollector process_collector(&batcher, &processes, popt);
  if (Status st = process_collector.Start(); !st.ok()) log::Error("process collector", {{"error", st.message()}});

  FileCollectorOptions fopt;
  fopt.paths = options.watch_paths.empty() ? std::vector<std::string>{"/etc", "/tmp", "/usr/bin"} : options.watch_paths;
  fopt.exclude_prefixes = {options.state_dir};
  fopt.allow_fanotify = options.allow_fanotify;
  FileCollector file_collector(&batcher, &processes, &hashes, fopt);
  if (Status st = file_collector.Start(); !st.ok()) log::Error("file collector", {{"error", st.message()}});

  // Response actions: the executor re-applies what must survive restarts before anything else runs.
  std::unique_ptr<ActionChannel> channel;
  std::unique_ptr<ActionExecutor> executor;
  if (options.make_executor) {
    ExecutorEnvironment env;
    env.sink = &batcher;
    env.processes = &processes;
    env.hashes = &hashes;
    env.state_dir = options.state_dir;
    env.host_enforcement = options.host_enforcement;
    env.fetch_library = [&channel](const std::string& name, const std::string& dir) -> Result<std::string> {
      if (!channel) return Err(Unavailable("the action channel is not running"));
      return channel->FetchLibraryFile(name, dir);
    };
    executor = options.make_executor(env);
    executor->Restore();
    policy_target = executor.get();
    if (auto text = ReadFile(JoinPath(options.state_dir, "policy.json"))) {
      if (auto policy = json::Value::Parse(*text)) executor->PolicyChanged(*policy);
    }
  }

  DnsCache dns_names;
  DnsCollectorOptions dopt;
  dopt.ports = options.dns_ports;
  if (executor) {
    dopt.on_answer = [ex = executor.get()](const DnsResponse& r) {
      std::vector<std::string> addresses;
      uint32_t ttl = 0;
      for (const DnsRecord& rec : r.answers) {
        if (rec.type == "A" || rec.type == "AAAA") {
          addresses.push_back(rec.data);
          ttl = std::max(ttl, rec.ttl);
        }
      }
      if (!addresses.empty()) ex->DnsAnswer(r.query, addresses, ttl);
    };
  }
  DnsCollector dns_collector(&batcher, &dns_names, dopt);
  if (Status st = dns_collector.Start(); !st.ok()) log::Warn("dns collector off", {{"error", st.message()}});

  NetworkCollectorOptions nopt;
  nopt.dns_names = &dns_names;
  NetworkCollector network_collector(&batcher, &processes, nopt);
  if (Status st = network_collector.Start(); !st.ok()) log::Error("network collector", {{"error", st.message()}});

  LogonCollectorOptions lopt;
  lopt.offsets_file = JoinPath(options.state_dir, "logon_offsets.json");
  LogonCollector logon_collector(&batcher, &processes, lopt);
  if (Status st = logon_collector.Start(); !st.ok()) log::Error("logon collector", {{"error", st.message()}});

  if (executor) {
    ActionChannelOptions copt;
    copt.work_dir = JoinPath(options.state_dir, "actions");
    copt.on_offboarded = [state_dir = options.state_dir] {
      // Offboarded: forget the identity (the server revoked it) and stop.
      ::unlink(JoinPath(state_dir, std::string(kIdentityFile)).c_str());
      ::kill(::getpid(), SIGTERM);
    };
    copt.on_policy_version = [&uploader](const std::string& version) {
      if (Status st = uploader.RefreshPolicy(version); !st.ok()) log::Warn("policy fetch failed", {{"error", st.message()}});
    };
    channel = std::make_unique<ActionChannel>([&uploader] { return uploader.identity(); }, executor.get(), copt);
    channel->Start();
  }

  InventoryOptions iopt;
  iopt.tags = options.tags;
  Inventory inventory(&batcher, iopt);
  inventory.Start();

  log::Info("sensor running", {{"stateDir", options.state_dir},
                               {"process", process_collector.mode()},
                               {"file", file_collector.mode()},
                               {"watch", Join(fopt.paths)},
                               {"network", network_collector.mode()},
                               {"dns", dns_collector.mode()}});

  // Wait for a signal or the --once-seconds deadline.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.once_seconds);
  while (true) {
    timespec ts{1, 0};
    if (options.once_seconds > 0) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      int64_t ms = std::min<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1, 1000);
      ts = {static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
    }
    int sig = ::sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      log::Info("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
      break;
    }
  }

  if (channel) channel->RequestStop();
  inventory.Stop();
  logon_collector.Stop();
  network_collector.Stop();
  dns_collector.Stop();
  file_collector.Stop();
  process_collector.Stop();
  batcher.Stop();
  if (channel) channel->Stop();
  // Give the uploader a moment to send what was just flushed; the rest stays queued on disk.
  bool drained = uploader.WaitDrained(std::chrono::seconds(options.once_seconds > 0 ? 15 : 5));
  uploader.Stop();
  (*queue)->Shutdown();
  QueueStats qs = (*queue)->Stats();
  UploaderStats us = uploader.stats();
  log::Info("sensor stopped", {{"emitted", std::to_string(batcher.emitted())},
                               {"accepted", std::to_string(us.events_accepted)},
                               {"rejected", std::to_string(us.events_rejected)},
                               {"pendingEvents", std::to_string(qs.pending_events)},
                               {"drained", drained ? "true" : "false"}});
  return 0;
}

}  // namespace ward::sensor
