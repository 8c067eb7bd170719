#include "response/host_executor.h"

#include <unistd.h>

#include <set>

#include "common/log.h"
#include "common/strings.h"
#include "response/investigation_package.h"
#include "response/live_response.h"
#include "sensor/util.h"

namespace ward::response {

namespace {

using sensor::ActionOutcome;

bool IsBlocking(std::string_view action) {
  return action == "Block" || action == "AlertAndBlock" || action == "BlockAndRemediate";
}

// The host of a URL indicator ("https://evil.example/x" → "evil.example").
std::string UrlHost(std::string url) {
  if (size_t scheme = url.find("://"); scheme != std::string::npos) url.erase(0, scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (size_t at = url.rfind('@'); at != std::string::npos) url.erase(0, at + 1);
  if (size_t colon = url.rfind(':'); colon != std::string::npos && url.find(':') == colon) url.erase(colon);
  return url;
}

ActionOutcome Outcome(Status status, json::Value details = json::Value::Object()) {
  ActionOutcome o;
  o.status = std::move(status);
  o.details = std::move(details);
  return o;
}

}  // namespace

HostExecutor::HostExecutor(sensor::ExecutorEnvironment env)
    : env_(std::move(env)), quarantine_(sensor::JoinPath(env_.state_dir, "quarantine")) {}

HostExecutor::~HostExecutor() {
  std::lock_guard lock(mu_);
  if (exec_) exec_->Stop();
}

Status HostExecutor::UpdateExecControlLocked() {
  const bool needed = restricted_ || !blocked_hashes_.empty();
  if (!needed) {
    if (exec_) {
      exec_->Stop();
      exec_.reset();
      log::Info("execution control stopped");
    }
    return Status::Ok();
  }
  if (!exec_) {
    ExecControlOptions o;
    o.mounts = LocalMounts();
    o.sink = env_.sink;
    o.processes = env_.processes;
    o.hashes = env_.hashes;
    auto control = std::make_unique<ExecControl>(std::move(o));
    control->SetBlockedHashes(blocked_hashes_);
    control->SetAllowedHashes(allowed_hashes_);
    control->SetRestricted(restricted_);
    WARD_RETURN_IF_ERROR(control->Start());
    exec_ = std::move(control);
    log::Info("execution control started", {{"restricted", restricted_ ? "true" : "false"}});
    return Status::Ok();
  }
  exec_->SetBlockedHashes(blocked_hashes_);
  exec_->SetAllowedHashes(allowed_hashes_);
  if (exec_->restricted() != restricted_) exec_->SetRestricted(restricted_);
  return Status::Ok();
}

void HostExecutor::Restore() {
  if (!env_.host_enforcement) return;
  if (Status st = isolation_.Restore(env_.state_dir); !st.ok()) log::Error("cannot restore isolation", {{"error", st.message()}});
  auto restriction = ExecControl::LoadState(env_.state_dir);
  std::lock_guard lock(mu_);
  if (restriction && *restriction) {
    restricted_ = true;
    if (Status st = UpdateExecControlLocked(); !st.ok()) {
      log::Error("cannot restore code execution restriction", {{"error", st.message()}});
    } else {
      exec_->SetRestricted(true, **restriction);
    }
  }
}

void HostExecutor::PolicyChanged(const json::Value& policy) {
  std::vector<std::string> ips, domains;
  std::set<std::string> allowed;
  HashSet blocked, allowed_hashes;
  const json::Value* list = policy.Find("indicators");
  if (!list || !list->is_array()) return;
  for (const json::Value& i : list->items()) {
    std::string type = i.GetString("indicatorType").value_or("");
    std::string value = sensor::AsciiLower(i.GetString("indicatorValue").value_or(""));
    std::string action = i.GetString("action").value_or("");
    if (action == "Allowed") {
      allowed.insert(value);
      if (type == "FileSha256") allowed_hashes.sha256.insert(value);
      if (type == "FileSha1") allowed_hashes.sha1.insert(value);
      continue;
    }
    if (!IsBlocking(action)) continue;
    if (type == "IpAddress") ips.push_back(value);
    else if (type == "DomainName") domains.push_back(value);
    else if (type == "Url") domains.push_back(UrlHost(value));
    else if (type == "FileSha256") blocked.sha256.insert(value);
    else if (type == "FileSha1") blocked.sha1.insert(value);
  }
  std::erase_if(ips, [&](const std::string& v) { return allowed.count(v) > 0; });
  std::erase_if(domains, [&](const std::string& v) { return v.empty() || allowed.count(v) > 0; });
  std::lock_guard lock(mu_);
  scan_hashes_ = HashIndicatorsFromPolicy(policy);
  if (!env_.host_enforcement) return;  // scans still use the hashes
  if (ips.empty() && domains.empty()) {
    if (Status st = blocklist_.Clear(); !st.ok()) log::Warn("cannot clear indicator blocks", {{"error", st.message()}});
  } else if (Status st = blocklist_.Apply(ips, domains); !st.ok()) {
    log::Error("cannot apply indicator blocks", {{"error", st.message()}});
  }
  blocked_hashes_ = std::move(blocked);
  allowed_hashes_ = std::move(allowed_hashes);
  if (Status st = UpdateExecControlLocked(); !st.ok()) log::Error("cannot enforce file indicators", {{"error", st.message()}});
  log::Info("indicator enforcement updated", {{"ips", std::to_string(ips.size())}, {"domains", std::to_string(domains.size())},
                                              {"hashes", std::to_string(blocked_hashes_.sha256.size() + blocked_hashes_.sha1.size())}});
}

void HostExecutor::DnsAnswer(const std::string& name, const std::vector<std::string>& addresses, uint32_t ttl) {
  if (!env_.host_enforcement) return;
  blocklist_.OnDnsAnswer(name, addresses, ttl);
}

ActionOutcome HostExecutor::Scan(const sensor::ActionRequest& request, sensor::ActionContext& context) {
  auto rules = YaraRuleSet::Load(sensor::JoinPath(env_.state_dir, "rules/yara"));
  if (!rules) return Outcome(rules.error());
  HashIndicators hashes;
  {
    std::lock_guard lock(mu_);
    hashes = scan_hashes_;
  }
  ScanOptions o;
  o.scan_type = request.scope == "Full" ? "Full" : "Quick";
  o.exclude = {env_.state_dir};
  o.cancelled = [&context] { return context.cancelled(); };
  o.progress = [&context](const json::Value& p) { context.Progress(p); };
  ScanResult result = RunScan(**rules, hashes, o, env_.sink);
  json::Value details = result.ToJson();
  // "Full remediation": what the scan found is quarantined without waiting for an analyst.
  const std::string level = request.params.GetString("RemediationLevel").value_or("");
  if (level == "Full remediation" && !result.detections.empty()) {
    json::Value remediated = json::Value::Array();
    for (const Detection& d : result.detections) {
      auto q = quarantine_.Quarantine(d.path, d.sha1);
      json::Value r = json::Value::Object();
      r.Set("path", d.path);
      r.Set(q ? "quarantineId" : "error", q ? q->id : q.error().message());
      remediated.Append(std::move(r));
    }
    details.Set("remediation", std::move(remediated));
  }
  if (result.cancelled) return Outcome(Unavailable("the scan was cancelled"), std::move(details));
  return Outcome(Status::Ok(), std::move(details));
}

ActionOutcome HostExecutor::Execute(const sensor::ActionRequest& request, sensor::ActionContext& context) {
  const std::string& type = request.type;
  const bool enforcing = type == "Isolate" || type == "Unisolate" || type == "RestrictCodeExecution" ||
                         type == "UnrestrictCodeExecution";
  if (enforcing && !env_.host_enforcement) {
    return Outcome(FailedPrecondition("host enforcement is off on this sensor (--no-host-enforcement)"));
  }
  if (type == "Isolate") {
    IsolationSpec spec;
    spec.selective = request.scope == "Selective";
    if (const json::Value* servers = request.params.Find("ServerAddresses"); servers && servers->is_array()) {
      for (const json::Value& s : servers->items()) {
        if (s.is_string()) spec.allowed_addresses.push_back(s.as_string());
      }
    }
    if (spec.allowed_addresses.empty()) return Outcome(FailedPrecondition("the Ward server's address is unknown; isolating would cut the device off for good"));
    Status st = isolation_.Isolate(spec);
    if (st.ok()) st = isolation_.SaveState(env_.state_dir);
    json::Value d = json::Value::Object();
    d.Set("table", "inet " + std::string(kIsolationTable));
    d.Set("isolationType", spec.selective ? "Selective" : "Full");
    return Outcome(st, std::move(d));
  }
  if (type == "Unisolate") {
    Status st = isolation_.Unisolate();
    if (st.ok()) st = isolation_.SaveState(env_.state_dir);
    return Outcome(st);
  }
  if (type == "RestrictCodeExecution" || type == "UnrestrictCodeExecution") {
    std::lock_guard lock(mu_);
    restricted_ = type == "RestrictCodeExecution";
    Status st = UpdateExecControlLocked();
    if (st.ok()) {
      if (exec_) {
        st = exec_->SaveState(env_.state_dir);
      } else {
        ::unlink(sensor::JoinPath(env_.state_dir, std::string(kRestrictionStateFile)).c_str());
      }
    }
    if (!st.ok() && restricted_) restricted_ = false;
    return Outcome(st);
  }
  if (type == "RunAntiVirusScan") return Scan(request, context);
  if (type == "StopAndQuarantineFile") {
    StopAndQuarantineRequest r;
    r.sha1 = request.params.GetString("Sha1").value_or("");
    // Where the server saw the file on this device, besides the processes running it now.
    if (const json::Value* paths = request.params.Find("Paths"); paths && paths->is_array()) {
      for (const json::Value& p : paths->items()) {
        if (p.is_string()) r.candidate_paths.push_back(p.as_string());
      }
    }
    auto result = StopAndQuarantineFile(r, quarantine_, env_.sink);
    if (!result) return Outcome(result.error());
    return Outcome(result->status(), result->ToJson());
  }
  if (type == "CollectInvestigationPackage") {
    InvestigationPackageOptions o;
    o.state_dir = env_.state_dir;
    o.sensor_log_path = env_.sensor_log;
    o.cancelled = [&context] { return context.cancelled(); };
    const std::string out = sensor::JoinPath(context.WorkDir(), "InvestigationPackage.tar.gz");
    auto package = CollectInvestigationPackage(o, out);
    if (!package) return Outcome(package.error());
    ActionOutcome outcome = Outcome(Status::Ok(), package->manifest);
    outcome.files.push_back({0, package->path, "application/gzip", true});
    return outcome;
  }
  if (type == "LiveResponse") {
    auto commands = ParseLiveResponseCommands(request.params);
    if (!commands) return Outcome(commands.error());
    LiveResponseOptions o;
    o.advanced = request.params.GetString("LiveResponseLevel").value_or("") == "Advanced";
    o.downloads_dir = sensor::JoinPath(env_.state_dir, "liveresponse/downloads");
    o.work_dir = context.WorkDir();
    o.fetch = env_.fetch_library;
    o.cancelled = [&context] { return context.cancelled(); };
    return RunLiveResponse(*commands, o).ToOutcome();
  }
  if (type == "Offboard") {
    if (!env_.host_enforcement) return Outcome(Status::Ok());
    // Leave the host as it was before the sensor: no isolation, no restriction, no blocks.
    Status st = isolation_.Unisolate();
    if (st.ok()) st = isolation_.SaveState(env_.state_dir);
    if (Status b = blocklist_.Clear(); st.ok()) st = b;
    std::lock_guard lock(mu_);
    restricted_ = false;
    blocked_hashes_ = {};
    ::unlink(sensor::JoinPath(env_.state_dir, std::string(kRestrictionStateFile)).c_str());
    if (Status e = UpdateExecControlLocked(); st.ok()) st = e;
    return Outcome(st);
  }
  return Outcome(InvalidArgument("unknown action type " + type));
}

}  // namespace ward::response
