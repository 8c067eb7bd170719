#include "detect/alert_rows.h"

#include "common/time.h"
#include "json/json.h"

namespace ward::detect {
namespace {

constexpr const char* kServiceSource = "Microsoft Defender for Endpoint";

// MDE's AlertEvidence EntityType values ("Process", "File", "User", "Ip", "Url", "Machine").
const char* EntityTypeOf(const state::AlertEvidence& e) {
  if (e.entity_type == "Ip") return "Ip";
  if (e.entity_type == "Url") return "Url";
  if (e.entity_type == "User") return "User";
  if (e.entity_type == "File") return "File";
  if (e.entity_type == "Process") return "Process";
  return "Machine";
}

class RowBuilder {
 public:
  RowBuilder(const events::TableDef& table) : table_(table) {
    row_.table = table.id;
    row_.values.resize(table.columns.size());
  }
  RowBuilder& Set(std::string_view column, events::CellValue v) {
    int i = table_.Find(column);
    bool empty_string = std::holds_alternative<std::string>(v) && std::get<std::string>(v).empty();
    if (i >= 0 && !empty_string) row_.values[static_cast<size_t>(i)] = std::move(v);
    return *this;
  }
  events::Row Take() { return std::move(row_); }

 private:
  const events::TableDef& table_;
  events::Row row_;
};

std::string JsonArray(const std::vector<std::string>& items) {
  json::Writer w;
  w.StartArray();
  for (const std::string& s : items) w.Val(json::Value(s));
  w.EndArray();
  return w.Take();
}

}  // namespace

events::RowBatch AlertRows(const state::Alert& a, const events::SchemaRegistry& registry, int64_t now_ticks,
                           size_t first_evidence, bool with_info) {
  events::RowBatch batch;
  batch.tenant_id = a.tenant_id;
  batch.batch_id = "alert:" + a.id + ":" + std::to_string(first_evidence);
  batch.received_ticks = now_ticks;
  const int64_t ts = (a.alert_creation_ms ? a.alert_creation_ms * kTicksPerMillisecond : now_ticks);
  const std::string techniques = JsonArray(a.mitre_techniques);
  const events::TableDef* info = registry.Find("AlertInfo");
  const events::TableDef* evidence = registry.Find("AlertEvidence");
  if (with_info && info) {
    batch.rows.push_back(RowBuilder(*info)
                             .Set("Timestamp", ts)
                             .Set("AlertId", a.id)
                             .Set("Title", a.title)
                             .Set("Category", a.category)
                             .Set("Severity", a.severity)
                             .Set("ServiceSource", std::string(kServiceSource))
                             .Set("DetectionSource", a.detection_source)
                             .Set("AttackTechniques", techniques)
                             .Take());
  }
  if (!evidence) return batch;
  auto base = [&](RowBuilder b) {
    return b.Set("Timestamp", ts)
        .Set("AlertId", a.id)
        .Set("Title", a.title)
        .Set("Categories", JsonArray({a.category}))
        .Set("AttackTechniques", techniques)
        .Set("ServiceSource", std::string(kServiceSource))
        .Set("DetectionSource", a.detection_source)
        .Set("Severity", a.severity)
        .Set("DeviceId", a.machine_id)
        .Set("DeviceName", a.computer_dns_name);
  };
  if (with_info && !a.machine_id.empty()) {
    batch.rows.push_back(base(RowBuilder(*evidence)).Set("EntityType", std::string("Machine")).Set("EvidenceRole", std::string("Impacted")).Take());
  }
  for (size_t i = first_evidence; i < a.evidence.size(); ++i) {
    const state::AlertEvidence& e = a.evidence[i];
    RowBuilder b = base(RowBuilder(*evidence));
    b.Set("EntityType", std::string(EntityTypeOf(e)))
        .Set("EvidenceRole", std::string("Related"))
        .Set("FileName", e.file_name)
        .Set("FolderPath", e.file_path)
        .Set("SHA1", e.sha1)
        .Set("SHA256", e.sha256)
        .Set("RemoteIP", e.ip_address)
        .Set("RemoteUrl", e.url)
        .Set("AccountName", e.account_name)
        .Set("AccountDomain", e.domain_name)
        .Set("AccountSid", e.user_sid)
        .Set("AccountUpn", e.user_principal_name)
        .Set("ProcessCommandLine", e.process_command_line)
        .Set("RegistryKey", e.registry_key)
        .Set("RegistryValueData", e.registry_value);
    batch.rows.push_back(b.Take());
  }
  return batch;
}

}  // namespace ward::detect
