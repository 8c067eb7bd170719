#pragma once
// The sensor's side of machine actions (docs/sensor-protocol.md, "Actions"): long-polls
// GET /sensor/v1/actions, runs each action with an ActionExecutor, one at a time, in creation order,
// reports InProgress, then uploads the action's files (PUT .../files/{index}) and reports Succeeded or
// Failed with details. Progress reports double as the cancellation check: a reply saying Cancelled
// (or TimeOut) makes ActionContext::cancelled() true. Reports are retried with backoff until the
// server takes them or the channel stops; an action the server still lists as open after a restart
// runs again (the executors' actions are idempotent: isolation replaces its table, a scan rescans).
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/status.h"
#include "sensor/actions.h"
#include "sensor/onboarding.h"
#include "sensor/util.h"

namespace ward::sensor {

struct ActionChannelOptions {
  std::string work_dir;  // where actions write their files (<state-dir>/actions)
  // Also bounds how long Stop() can take (a poll in flight is not interrupted); actions still arrive
  // at once, since the server answers a waiting poll as soon as one is created.
  std::chrono::seconds long_poll{10};
  std::chrono::milliseconds retry{2000};
  std::chrono::milliseconds progress_interval{2000};
  // Called after an Offboard action was reported Succeeded: the sensor must stop.
  std::function<void()> on_offboarded;
  // Called with the enforcement policy version each poll reply names (the sensor refetches on change).
  std::function<void(const std::string& version)> on_policy_version;
};

class ActionChannel {
 public:
  // `identity` returns the device's identity once enrolled (nullopt until then).
  ActionChannel(std::function<std::optional<Identity>()> identity, ActionExecutor* executor, ActionChannelOptions options);
  ~ActionChannel();
  ActionChannel(const ActionChannel&) = delete;
  ActionChannel& operator=(const ActionChannel&) = delete;

  void Start();
  // Asks the channel to stop without waiting (so its last poll ends while other parts shut down).
  void RequestStop() { stopper_.Stop(); }
  void Stop();
  uint64_t completed() const { return completed_; }

  // Downloads a live-response library file into dest_dir; returns its path. For executors.
  Result<std::string> FetchLibraryFile(const std::string& file_name, const std::string& dest_dir);

 private:
  void Loop();
  void Run(const Identity& id, const ActionRequest& request);
  // POSTs a status report; the server's view of the action's status, or an error.
  Result<std::string> Report(const Identity& id, const std::string& action_id, const json::Value& body);

  std::function<std::optional<Identity>()> identity_;
  ActionExecutor* executor_;
  ActionChannelOptions options_;
  Stopper stopper_;
  std::thread thread_;
  std::atomic<uint64_t> completed_{0};
  std::set<std::string> finished_;  // ids reported final in this run (the poll may list them once more)
};

// The Ward server's addresses as this host reaches them (resolved from the identity's URL), which
// isolation must keep reachable.
std::vector<std::string> ServerAddresses(const std::string& server_url);

}  // namespace ward::sensor
