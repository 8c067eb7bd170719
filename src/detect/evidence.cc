#include "detect/evidence.h"

#include "common/time.h"

namespace ward::detect {

std::string_view RowView::Str(std::string_view column) const {
  int i = table_.Find(column);
  if (i < 0) return {};
  const auto* s = std::get_if<std::string>(&row_.values[static_cast<size_t>(i)]);
  return s ? std::string_view(*s) : std::string_view();
}

std::optional<int64_t> RowView::Int(std::string_view column) const {
  int i = table_.Find(column);
  if (i < 0) return std::nullopt;
  const auto* v = std::get_if<int64_t>(&row_.values[static_cast<size_t>(i)]);
  return v ? std::optional<int64_t>(*v) : std::nullopt;
}

int64_t RowView::TimeMs(std::string_view column) const {
  auto t = Int(column);
  return t ? *t / kTicksPerMillisecond : 0;
}

std::vector<state::AlertEvidence> EvidenceFromRow(const RowView& row, int64_t now_ms) {
  std::vector<state::AlertEvidence> out;
  auto base = [&](const char* type) {
    state::AlertEvidence e;
    e.entity_type = type;
    e.evidence_creation_ms = now_ms;
    return e;
  };
  const std::string& table = row.table().name;
  const bool process_event = table == "DeviceProcessEvents";
  const std::string prefix = process_event ? "" : "InitiatingProcess";
  auto s = [&](std::string_view column) { return std::string(row.Str(column)); };
  state::AlertEvidence p = base("Process");
  p.file_name = s(prefix + "FileName");
  p.file_path = s(prefix + "FolderPath");
  p.sha1 = s(prefix + "SHA1");
  p.sha256 = s(prefix + "SHA256");
  p.process_id = row.Int(process_event ? "ProcessId" : "InitiatingProcessId");
  p.process_command_line = s(process_event ? "ProcessCommandLine" : "InitiatingProcessCommandLine");
  p.process_creation_ms = row.TimeMs(process_event ? "ProcessCreationTime" : "InitiatingProcessCreationTime");
  p.parent_process_id = row.Int(process_event ? "InitiatingProcessId" : "InitiatingProcessParentId");
  p.parent_process_creation_ms =
      row.TimeMs(process_event ? "InitiatingProcessCreationTime" : "InitiatingProcessParentCreationTime");
  p.parent_process_file_name = s(process_event ? "InitiatingProcessFileName" : "InitiatingProcessParentFileName");
  p.account_name = s(process_event ? "AccountName" : "InitiatingProcessAccountName");
  p.domain_name = s(process_event ? "AccountDomain" : "InitiatingProcessAccountDomain");
  if (!p.file_name.empty() || p.process_id) out.push_back(p);
  if (!p.file_name.empty()) {
    state::AlertEvidence f = base("File");
    f.file_name = p.file_name;
    f.file_path = p.file_path;
    f.sha1 = p.sha1;
    f.sha256 = p.sha256;
    out.push_back(f);
  }
  if (table == "DeviceFileEvents") {
    state::AlertEvidence f = base("File");
    f.file_name = s("FileName");
    f.file_path = s("FolderPath");
    f.sha1 = s("SHA1");
    f.sha256 = s("SHA256");
    if (!f.file_name.empty()) out.push_back(f);
  }
  if (table == "DeviceNetworkEvents") {
    if (std::string ip = s("RemoteIP"); !ip.empty()) {
      state::AlertEvidence e = base("Ip");
      e.ip_address = ip;
      out.push_back(e);
    }
    if (std::string url = s("RemoteUrl"); !url.empty()) {
      state::AlertEvidence e = base("Url");
      e.url = url;
      out.push_back(e);
    }
  }
  std::string account = s("AccountName");
  const bool own_account = !account.empty();
  if (!own_account) account = s("InitiatingProcessAccountName");
  if (!account.empty()) {
    state::AlertEvidence u = base("User");
    u.account_name = account;
    u.domain_name = own_account ? s("AccountDomain") : s("InitiatingProcessAccountDomain");
    u.user_sid = own_account ? s("AccountSid") : s("InitiatingProcessAccountSid");
    u.user_principal_name = own_account ? s("AccountUpn") : s("InitiatingProcessAccountUpn");
    out.push_back(u);
  }
  return out;
}

}  // namespace ward::detect
