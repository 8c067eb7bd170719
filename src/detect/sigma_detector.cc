#include "detect/sigma_detector.h"

#include <algorithm>
#include <tuple>

#include "common/crypto.h"
#include "common/time.h"
#include "detect/builtin_rules.h"

namespace ward::detect {

// One compiled rule set and what went into it; immutable once published.
struct SigmaDetector::Snapshot {
  explicit Snapshot(const events::SchemaRegistry& registry) : set(registry) {}
  SigmaRuleSet set;
  std::vector<std::string> rule_tenant;  // per loaded rule: "" for every tenant, else the API rule's tenant
  std::vector<SigmaRuleStatus> statuses;
};

namespace {

const char* StateName(SigmaLoadState s) {
  switch (s) {
    case SigmaLoadState::kLoaded: return "loaded";
    case SigmaLoadState::kNotApplicable: return "notApplicable";
    case SigmaLoadState::kFailed: return "failed";
  }
  return "failed";
}

constexpr std::string_view kBuiltinPrefix = "builtin:";
constexpr std::string_view kApiPrefix = "api:";

}  // namespace

std::string SigmaDetector::RuleId(const SigmaRuleInfo& rule) {
  return rule.id.empty() ? HexEncode(Sha1(rule.title)) : rule.id;
}

Result<std::unique_ptr<SigmaDetector>> SigmaDetector::Create(const events::SchemaRegistry& registry,
                                                             const std::filesystem::path& folder,
                                                             std::vector<ApiSigmaRule> api_rules,
                                                             std::vector<SigmaLoadOutcome>* outcomes) {
  std::unique_ptr<SigmaDetector> d(new SigmaDetector(registry, folder));
  WARD_ASSIGN_OR_RETURN(d->current_, d->Build(api_rules, outcomes));
  d->api_rules_ = std::move(api_rules);
  return d;
}

Result<std::shared_ptr<const SigmaDetector::Snapshot>> SigmaDetector::Build(const std::vector<ApiSigmaRule>& api_rules,
                                                                            std::vector<SigmaLoadOutcome>* outcomes) const {
  auto snap = std::make_shared<Snapshot>(registry_);
  std::vector<SigmaLoadOutcome> all;
  std::vector<std::string> outcome_tenant;
  for (const BuiltinRule& r : BuiltinSigmaRules()) {
    all.push_back(snap->set.LoadRule(r.yaml, std::string(kBuiltinPrefix) + std::string(r.file)));
    outcome_tenant.emplace_back();
  }
  std::error_code ec;
  if (!folder_.empty() && std::filesystem::is_directory(folder_, ec)) {
    WARD_ASSIGN_OR_RETURN(std::vector<SigmaLoadOutcome> loaded, snap->set.LoadDirectory(folder_));
    for (auto& o : loaded) {
      all.push_back(std::move(o));
      outcome_tenant.emplace_back();
    }
  }
  for (const ApiSigmaRule& r : api_rules) {
    all.push_back(snap->set.LoadRule(r.yaml, std::string(kApiPrefix) + r.id));
    outcome_tenant.push_back(r.tenant_id);
  }
  WARD_RETURN_IF_ERROR(snap->set.Compile());
  snap->rule_tenant.resize(snap->set.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const SigmaLoadOutcome& o = all[i];
    SigmaRuleStatus s;
    s.origin = o.source;
    s.source = o.source.starts_with(kBuiltinPrefix) ? "builtin" : o.source.starts_with(kApiPrefix) ? "api" : "folder";
    s.state = StateName(o.state);
    s.reason = o.reason;
    s.tenant_id = outcome_tenant[i];
    if (o.rule_index >= 0) {
      const SigmaRuleInfo& info = snap->set.rule(o.rule_index);
      s.id = RuleId(info);
      s.title = info.title;
      s.level = info.level;
      snap->rule_tenant[o.rule_index] = outcome_tenant[i];
    } else {
      s.id = s.source == "api" ? o.source.substr(kApiPrefix.size()) : o.source;
    }
    snap->statuses.push_back(std::move(s));
  }
  if (outcomes) *outcomes = std::move(all);
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

std::shared_ptr<const SigmaDetector::Snapshot> SigmaDetector::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

size_t SigmaDetector::rules() const { return Current()->set.size(); }

std::vector<SigmaRuleStatus> SigmaDetector::Rules(std::string_view tenant_id) const {
  std::vector<SigmaRuleStatus> out;
  for (const SigmaRuleStatus& s : Current()->statuses) {
    if (s.tenant_id.empty() || s.tenant_id == tenant_id) out.push_back(s);
  }
  return out;
}

Result<SigmaRuleInfo> SigmaDetector::CheckRule(std::string_view yaml) const {
  SigmaRuleSet scratch(registry_);
  SigmaLoadOutcome o = scratch.LoadRule(yaml, "rule");
  if (o.state != SigmaLoadState::kLoaded) {
    // A rule for another product or an unmapped field would be stored and never fire: refuse it too.
    std::string why = o.reason.empty() ? "the rule does not apply to Ward's Linux events" : o.reason;
    if (why.starts_with("rule: ")) why.erase(0, 6);  // the origin LoadRule prefixes means nothing to the caller
    return Err(InvalidArgument(o.state == SigmaLoadState::kNotApplicable ? "not applicable: " + why : why));
  }
  // Compile as well, so a pattern Hyperscan/RE2 refuses is a 400 now rather than a failed swap later.
  WARD_RETURN_IF_ERROR(scratch.Compile());
  return scratch.rule(o.rule_index);
}

Status SigmaDetector::PutApiRule(ApiSigmaRule rule) {
  std::lock_guard change(change_mu_);
  std::vector<ApiSigmaRule> next = api_rules_;
  auto it = std::find_if(next.begin(), next.end(),
                         [&](const ApiSigmaRule& r) { return r.tenant_id == rule.tenant_id && r.id == rule.id; });
  if (it != next.end()) *it = rule;
  else next.push_back(rule);
  WARD_ASSIGN_OR_RETURN(auto snap, Build(next, nullptr));
  {
    std::lock_guard lock(mu_);
    current_ = std::move(snap);
  }
  api_rules_ = std::move(next);
  return Status::Ok();
}

Status SigmaDetector::ReplaceApiRules(std::vector<ApiSigmaRule> rules) {
  std::lock_guard change(change_mu_);
  auto key = [](const ApiSigmaRule& r) { return std::tie(r.tenant_id, r.id, r.yaml); };
  auto by_key = [&](const ApiSigmaRule& a, const ApiSigmaRule& b) { return key(a) < key(b); };
  std::sort(rules.begin(), rules.end(), by_key);
  std::vector<ApiSigmaRule> active = api_rules_;
  std::sort(active.begin(), active.end(), by_key);
  if (std::equal(rules.begin(), rules.end(), active.begin(), active.end(),
                 [&](const ApiSigmaRule& a, const ApiSigmaRule& b) { return key(a) == key(b); })) {
    return Status::Ok();
  }
  WARD_ASSIGN_OR_RETURN(auto snap, Build(rules, nullptr));
  {
    std::lock_guard lock(mu_);
    current_ = std::move(snap);
  }
  api_rules_ = std::move(rules);
  return Status::Ok();
}

Status SigmaDetector::RemoveApiRule(std::string_view tenant_id, std::string_view id) {
  std::lock_guard change(change_mu_);
  std::vector<ApiSigmaRule> next = api_rules_;
  auto it = std::find_if(next.begin(), next.end(),
                         [&](const ApiSigmaRule& r) { return r.tenant_id == tenant_id && r.id == id; });
  if (it == next.end()) return NotFound("Detection rule " + std::string(id) + " was not found");
  next.erase(it);
  WARD_ASSIGN_OR_RETURN(auto snap, Build(next, nullptr));
  {
    std::lock_guard lock(mu_);
    current_ = std::move(snap);
  }
  api_rules_ = std::move(next);
  return Status::Ok();
}

Status SigmaDetector::Detect(const events::RowBatch& batch, const state::Machine& machine, std::vector<AlertSpec>* out) {
  // Hold the snapshot for the whole batch: a swap meanwhile takes effect from the next batch.
  std::shared_ptr<const Snapshot> snap = Current();
  const SigmaRuleSet& set = snap->set;
  if (set.size() == 0) return Status::Ok();
  hits_.clear();
  WARD_RETURN_IF_ERROR(set.Match(batch, registry_, &hits_));
  for (const SigmaHit& hit : hits_) {
    const std::string& owner = snap->rule_tenant[hit.rule];
    if (!owner.empty() && owner != batch.tenant_id) continue;  // another tenant's API rule
    const SigmaRuleInfo& rule = set.rule(hit.rule);
    const events::Row& r = batch.rows[hit.row];
    RowView row(r, registry_.table(r.table));
    AlertSpec s;
    s.tenant_id = batch.tenant_id;
    s.machine_id = machine.id;
    s.computer_dns_name = machine.computer_dns_name;
    // Rules without an id are keyed by their title, so that de-duplication still works.
    s.detector_id = "sigma:" + RuleId(rule);
    s.title = rule.title;
    s.description = rule.description.empty() ? "Sigma rule " + rule.title + " matched." : rule.description;
    s.category = std::string(rule.AlertCategory());
    s.severity = std::string(rule.Severity());
    s.detection_source = "WardEdr";
    s.mitre_techniques = rule.mitre_techniques;
    s.event_ms = row.TimeMs("Timestamp");
    auto report = row.Int("ReportId");
    s.event_key = batch.device_id + ":" + row.table().name + ":" + std::to_string(report.value_or(row.Int("Timestamp").value_or(0)));
    s.evidence = EvidenceFromRow(row, NowMs());
    s.row = hit.row;
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace ward::detect
