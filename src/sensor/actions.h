#pragma once
// The seam between the sensor's action channel (which fetches machine actions from the server,
// acknowledges them and reports their outcome; docs/sensor-protocol.md) and what executes them on
// the host (src/response: nftables isolation, fanotify execution control, YARA scans, quarantine,
// investigation packages, live response). The simulator has its own executor with plausible
// outcomes, so the same channel serves real and simulated devices.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "json/json.h"

namespace ward::sensor {

// One action as the server sends it (GET /sensor/v1/actions).
struct ActionRequest {
  std::string id;
  std::string type;   // MDE MachineAction type: Isolate, Unisolate, RestrictCodeExecution, ...
  std::string scope;  // Full | Selective (isolation), Quick | Full (scan), or ""
  // Type-specific parameters: StopAndQuarantineFile {"Sha1"}; LiveResponse {"Commands":[...]} in MDE's
  // shape; Isolate also gets {"ServerAddresses":[...]} (what isolation must keep reachable).
  json::Value params = json::Value::Object();
};

// A file produced by an action, uploaded to the server after the action ends: the investigation
// package, a live-response GetFile, a RunScript's output. `index` is the live-response command index
// (0 for a package).
struct ActionFile {
  int index = 0;
  std::string path;          // local file, removed after upload when `temporary`
  std::string content_type;  // e.g. application/gzip, application/json, application/octet-stream
  bool temporary = true;
};

struct ActionOutcome {
  Status status;  // ok: Succeeded; otherwise Failed, with the message reported to the server
  // What was done, reported as is (e.g. {"killedProcesses":[...],"quarantinedFiles":[...]}); for live
  // response {"commands":[{index, commandStatus, errors, ...}]}.
  json::Value details = json::Value::Object();
  std::vector<ActionFile> files;
};

// Lets a long action report progress and notice cancellation.
class ActionContext {
 public:
  virtual ~ActionContext() = default;
  virtual bool cancelled() const = 0;
  // Free-form progress (e.g. {"scannedFiles":1200}); rate-limited by the channel.
  virtual void Progress(const json::Value& progress) = 0;
  // Where an action may write files it will return in ActionOutcome::files.
  virtual std::string WorkDir() const = 0;
};

class EventSink;
class ProcessTable;
class HashCache;

// What an executor may use of the running sensor. Pointers outlive the executor.
struct ExecutorEnvironment {
  EventSink* sink = nullptr;         // for the events actions produce (blocks, detections)
  ProcessTable* processes = nullptr;
  HashCache* hashes = nullptr;
  std::string state_dir;
  std::string sensor_log;            // the sensor's own log file, for packages ("" = none)
  // false: never touch the host's firewall or exec path (isolation, restriction and indicator blocks
  // are refused); for sensors sharing a host with things they must not gate, such as test runners.
  bool host_enforcement = true;
  // Downloads a live-response library file into dest_dir and returns its path.
  std::function<Result<std::string>(const std::string& file_name, const std::string& dest_dir)> fetch_library;
};

class ActionExecutor {
 public:
  virtual ~ActionExecutor() = default;
  // Runs one action to completion (the channel calls it on its own thread, one action at a time per
  // type family). Must not throw.
  virtual ActionOutcome Execute(const ActionRequest& request, ActionContext& context) = 0;
  // Called once at sensor start, before any action: re-applies state that must survive restarts and
  // reboots (isolation, code-execution restriction, indicator blocks).
  virtual void Restore() {}
  // The sensor's enforcement policy changed (state/policy.json: blocking indicators of its group).
  virtual void PolicyChanged(const json::Value& policy) { (void)policy; }
  // Every DNS answer the sensor saw (for blocking domains by the addresses they resolve to).
  virtual void DnsAnswer(const std::string& name, const std::vector<std::string>& addresses, uint32_t ttl) {
    (void)name, (void)addresses, (void)ttl;
  }
};

}  // namespace ward::sensor
