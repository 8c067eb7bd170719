#include "detect/sigma_detector.h"

#include "common/crypto.h"
#include "common/time.h"
#include "detect/builtin_rules.h"

namespace ward::detect {

Result<std::unique_ptr<SigmaDetector>> SigmaDetector::Create(const events::SchemaRegistry& registry,
                                                             const std::filesystem::path& folder,
                                                             std::vector<SigmaLoadOutcome>* outcomes) {
  std::unique_ptr<SigmaDetector> d(new SigmaDetector(registry));
  std::vector<SigmaLoadOutcome> all;
  for (const BuiltinRule& r : BuiltinSigmaRules()) all.push_back(d->set_.LoadRule(r.yaml, "builtin:" + std::string(r.file)));
  std::error_code ec;
  if (!folder.empty() && std::filesystem::is_directory(folder, ec)) {
    WARD_ASSIGN_OR_RETURN(std::vector<SigmaLoadOutcome> loaded, d->set_.LoadDirectory(folder));
    all.insert(all.end(), loaded.begin(), loaded.end());
  }
  WARD_RETURN_IF_ERROR(d->set_.Compile());
  if (outcomes) *outcomes = std::move(all);
  return d;
}

Status SigmaDetector::Detect(const events::RowBatch& batch, const state::Machine& machine, std::vector<AlertSpec>* out) {
  if (set_.size() == 0) return Status::Ok();
  hits_.clear();
  WARD_RETURN_IF_ERROR(set_.Match(batch, registry_, &hits_));
  for (const SigmaHit& hit : hits_) {
    const SigmaRuleInfo& rule = set_.rule(hit.rule);
    const events::Row& r = batch.rows[hit.row];
    RowView row(r, registry_.table(r.table));
    AlertSpec s;
    s.tenant_id = batch.tenant_id;
    s.machine_id = machine.id;
    s.computer_dns_name = machine.computer_dns_name;
    // Rules without an id are keyed by their title, so that de-duplication still works.
    s.detector_id = "sigma:" + (rule.id.empty() ? HexEncode(Sha1(rule.title)) : rule.id);
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
