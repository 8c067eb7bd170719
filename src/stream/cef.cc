#include "stream/cef.h"

#include "common/strings.h"
#include "common/time.h"
#include "common/version.h"
#include "json/json.h"

namespace ward::stream::cef {

namespace {

// A column's text: strings as they are, numbers and booleans serialized, null/absent as "".
std::string Text(const json::Value& properties, std::string_view column) {
  const json::Value* v = properties.Find(column);
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->as_string();
  return v->Serialize();
}

// AttackTechniques is a JSON array in a string column; SIEM users read "T1059, T1003" better.
std::string TechniquesText(const std::string& text) {
  if (text.empty() || text[0] != '[') return text;
  auto parsed = json::Value::Parse(text);
  if (!parsed || !parsed->is_array()) return text;
  std::string out;
  for (const json::Value& item : parsed->items()) {
    if (!item.is_string()) return text;
    if (!out.empty()) out += ", ";
    out += item.as_string();
  }
  return out;
}

class Extensions {
 public:
  void Add(std::string_view key, std::string_view value) {
    if (value.empty()) return;
    if (!text_.empty()) text_ += ' ';
    text_ += key;
    text_ += '=';
    text_ += EscapeExtension(value);
  }
  // A custom field and its label, together or not at all.
  void AddLabelled(std::string_view key, std::string_view label, std::string_view value) {
    if (value.empty()) return;
    Add(std::string(key) + "Label", label);
    Add(key, value);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace

std::string EscapeHeader(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '|') out += '\\';
    out += (c == '\r' || c == '\n') ? ' ' : c;
  }
  return out;
}

std::string EscapeExtension(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '=': out += "\\="; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

AlertSeverity ParseAlertSeverity(std::string_view mde_severity) {
  if (EqualsIgnoreCase(mde_severity, "Informational")) return AlertSeverity::kInformational;
  if (EqualsIgnoreCase(mde_severity, "Low")) return AlertSeverity::kLow;
  if (EqualsIgnoreCase(mde_severity, "Medium")) return AlertSeverity::kMedium;
  if (EqualsIgnoreCase(mde_severity, "High")) return AlertSeverity::kHigh;
  return AlertSeverity::kUnknown;
}

int SeverityOf(std::string_view mde_severity) {
  constexpr int kScale[] = {5, 1, 3, 5, 8};  // by AlertSeverity
  return kScale[static_cast<int>(ParseAlertSeverity(mde_severity))];
}

Result<std::string> FormatAlert(const StreamRecord& record) {
  auto parsed = json::Value::Parse(record.json);
  if (!parsed) return Err(InvalidArgument("record is not JSON: " + parsed.error().message()));
  const json::Value* properties = parsed->Find("properties");
  if (!properties || !properties->is_object()) return Err(InvalidArgument("record has no properties object"));

  const std::string title = Text(*properties, "Title");
  int64_t ticks = record.time_ticks;
  if (auto t = ParseIsoTicks(Text(*properties, "Timestamp"))) ticks = *t;

  Extensions ext;
  ext.Add("rt", std::to_string(ticks / kTicksPerMillisecond));
  ext.Add("externalId", Text(*properties, "AlertId"));
  ext.Add("cat", Text(*properties, "Category"));
  ext.Add("sourceServiceName", Text(*properties, "DetectionSource"));
  ext.AddLabelled("flexString2", "ServiceSource", Text(*properties, "ServiceSource"));
  ext.AddLabelled("cs2", "MachineGroup", Text(*properties, "MachineGroup"));
  ext.AddLabelled("cs3", "AttackTechniques", TechniquesText(Text(*properties, "AttackTechniques")));

  std::string out = "CEF:0|Ward|Ward EDR|";
  out += EscapeHeader(kVersion);
  out += '|';
  out += EscapeHeader(title);
  out += '|';
  out += EscapeHeader(title);
  out += '|';
  out += std::to_string(SeverityOf(Text(*properties, "Severity")));
  out += '|';
  out += ext.text();
  return out;
}

}  // namespace ward::stream::cef
