#include "stream/destinations.h"

#include <set>

#include "common/strings.h"
#include "stream/blob_sink.h"
#include "stream/file_sink.h"
#include "stream/kafka_sink.h"
#include "stream/syslog_sink.h"

namespace ward::stream {

namespace {
constexpr std::string_view kRedacted = "***";

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

bool IsSecret(const DestinationType& kind, std::string_view key) {
  for (std::string_view secret : kind.secret_keys) {
    if (EqualsIgnoreCase(secret, key)) return true;
  }
  return false;
}

std::string TypeNames() {
  std::string out;
  for (const DestinationType* t : DestinationTypes()) out += (out.empty() ? "" : ", ") + std::string(t->name);
  return out;
}
}  // namespace

const std::vector<const DestinationType*>& DestinationTypes() {
  static const std::vector<const DestinationType*> types = {&BlobDestination(), &KafkaDestination(), &FileDestination(),
                                                            &SyslogDestination()};
  return types;
}

const DestinationType* FindDestinationType(std::string_view name) {
  for (const DestinationType* t : DestinationTypes()) {
    if (EqualsIgnoreCase(t->name, name)) return t;
  }
  return nullptr;
}

Status ValidateDestinations(const json::Value& destinations) {
  if (!destinations.is_array()) return InvalidArgument("destinations must be an array of destination objects");
  if (destinations.items().empty()) return InvalidArgument("destinations must name at least one destination");
  if (destinations.items().size() > 16) return InvalidArgument("destinations holds at most 16 destinations");
  std::set<std::string> names;
  for (size_t i = 0; i < destinations.items().size(); ++i) {
    const json::Value& d = destinations.items()[i];
    std::string at = "destinations[" + std::to_string(i) + "]";
    if (!d.is_object()) return InvalidArgument(at + " must be an object");
    auto name = d.GetString("name");
    if (!name || !ValidName(*name))
      return InvalidArgument(at + ".name must be 1 to 64 letters, digits, '-', '_' or '.'");
    if (!names.insert(AsciiLower(*name)).second) return InvalidArgument(at + ".name '" + *name + "' is used twice");
    auto type = d.GetString("type");
    const DestinationType* kind = type ? FindDestinationType(*type) : nullptr;
    if (!kind) return InvalidArgument(at + ".type must be one of " + TypeNames());
    if (Status st = kind->validate(d); !st.ok()) return InvalidArgument(at + "." + st.message());
  }
  return Status::Ok();
}

json::Value RedactDestinations(const json::Value& destinations) {
  json::Value out = destinations;
  for (json::Value& d : out.items()) {
    auto type = d.GetString("type");
    const DestinationType* kind = type ? FindDestinationType(*type) : nullptr;
    if (!kind) continue;
    // Settings are read case-insensitively, so secrets are found the same way.
    std::vector<std::string> secrets;
    for (const json::Member& m : d.members()) {
      if (IsSecret(*kind, m.key) && m.value.is_string() && !m.value.as_string().empty()) secrets.push_back(m.key);
    }
    for (const std::string& key : secrets) d.Set(key, json::Value(kRedacted));
  }
  return out;
}

json::Value RestoreRedactedSecrets(const json::Value& incoming, const json::Value& stored) {
  json::Value out = incoming;
  if (!out.is_array() || !stored.is_array()) return out;
  for (json::Value& d : out.items()) {
    if (!d.is_object()) continue;
    auto name = d.GetString("name");
    auto type = d.GetString("type");
    const DestinationType* kind = type ? FindDestinationType(*type) : nullptr;
    if (!name || !kind) continue;
    for (const json::Value& old : stored.items()) {
      if (old.GetString("name") != name) continue;
      std::vector<std::string> redacted;
      for (const json::Member& m : d.members()) {
        if (IsSecret(*kind, m.key) && m.value.is_string() && m.value.as_string() == kRedacted) redacted.push_back(m.key);
      }
      for (const std::string& key : redacted) {
        if (const json::Value* v = old.FindCaseInsensitive(key)) d.Set(key, *v);
      }
    }
  }
  return out;
}

Result<std::string> SettingsReader::String(std::string_view key, bool required, std::string fallback) const {
  const json::Value* v = settings_.FindCaseInsensitive(key);
  if (!v || v->is_null()) {
    if (required) return Err(InvalidArgument(std::string(key) + " is missing"));
    return fallback;
  }
  if (!v->is_string()) return Err(InvalidArgument(std::string(key) + " must be a string"));
  if (required && v->as_string().empty()) return Err(InvalidArgument(std::string(key) + " must not be empty"));
  return v->as_string();
}

Result<int64_t> SettingsReader::Int(std::string_view key, int64_t fallback, int64_t min, int64_t max) const {
  const json::Value* v = settings_.FindCaseInsensitive(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_int() || v->as_int() < min || v->as_int() > max) {
    return Err(InvalidArgument(std::string(key) + " must be an integer from " + std::to_string(min) + " to " +
                               std::to_string(max)));
  }
  return v->as_int();
}

Result<bool> SettingsReader::Bool(std::string_view key, bool fallback) const {
  const json::Value* v = settings_.FindCaseInsensitive(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) return Err(InvalidArgument(std::string(key) + " must be true or false"));
  return v->as_bool();
}

Result<std::string> SettingsReader::OneOf(std::string_view key, std::initializer_list<std::string_view> allowed,
                                          std::string_view fallback) const {
  WARD_ASSIGN_OR_RETURN(std::string value, String(key, false, std::string(fallback)));
  for (std::string_view a : allowed) {
    if (EqualsIgnoreCase(a, value)) return std::string(a);
  }
  std::string names;
  for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
  return Err(InvalidArgument(std::string(key) + " must be one of " + names));
}

}  // namespace ward::stream
