#pragma once
// The real sensor's ActionExecutor: MDE's machine actions carried out on this Linux host.
//
//   Isolate / Unisolate           nftables table inet ward_isolation (isolation.h), kept in
//                                 <state-dir>/isolation.json and re-applied at start
//   (Un)RestrictCodeExecution     fanotify exec permission events (exec_control.h), restriction.json
//   RunAntiVirusScan              YARA (built-in pack + <state-dir>/rules/yara) and the policy's file
//                                 hashes (scanner.h); with the group's "Full remediation" level the
//                                 detections are quarantined on the spot
//   StopAndQuarantineFile         kill + quarantine store (quarantine.h)
//   CollectInvestigationPackage   .tar.gz (investigation_package.h), uploaded as file 0
//   LiveResponse                  GetFile / PutFile / RunScript and basic commands (live_response.h)
//   Offboard                      releases the host (isolation, restriction, blocks) before the
//                                 channel deletes the identity and stops the sensor
//
// Indicators with blocking actions (the sensor policy) are enforced continuously: IPs and domains in
// nftables table inet ward_block (domains through the addresses their DNS answers name), file hashes
// through the same fanotify hook. The fanotify hook runs only while something needs it (a blocked
// hash or a restriction), so an idle sensor adds nothing to the host's exec path.
#include <memory>
#include <mutex>

#include "response/exec_control.h"
#include "response/isolation.h"
#include "response/quarantine.h"
#include "response/scanner.h"
#include "sensor/actions.h"

namespace ward::response {

class HostExecutor : public sensor::ActionExecutor {
 public:
  explicit HostExecutor(sensor::ExecutorEnvironment env);
  ~HostExecutor() override;

  sensor::ActionOutcome Execute(const sensor::ActionRequest& request, sensor::ActionContext& context) override;
  void Restore() override;
  void PolicyChanged(const json::Value& policy) override;
  void DnsAnswer(const std::string& name, const std::vector<std::string>& addresses, uint32_t ttl) override;

 private:
  sensor::ActionOutcome Scan(const sensor::ActionRequest& request, sensor::ActionContext& context);
  // Starts or stops the fanotify hook to match what is enforced. Caller holds mu_.
  Status UpdateExecControlLocked();

  sensor::ExecutorEnvironment env_;
  NetworkIsolation isolation_;
  IndicatorBlocklist blocklist_;
  QuarantineStore quarantine_;
  std::mutex mu_;  // guards what follows
  std::unique_ptr<ExecControl> exec_;
  bool restricted_ = false;
  HashSet blocked_hashes_, allowed_hashes_;
  HashIndicators scan_hashes_;
};

}  // namespace ward::response
