#pragma once
// The kinds of streaming destination, as data: each names its settings' secrets (never returned by
// the API), checks settings without connecting anywhere, and builds its Sink.
//
// A destination is a JSON object {"name": "...", "type": "<kind>", <the kind's settings>}. Errors of
// a validator are InvalidArgument whose message starts with the offending key ("connectionString is
// missing"); the API prefixes it with the destination's position ("destinations[0].").
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "stream/sink.h"

namespace ward::stream {

// What a sink may need from the server beyond its settings.
struct SinkContext {
  std::string files_dir;  // File destinations write under here (<data-dir>/streaming/files)
};

struct DestinationType {
  std::string_view name;                     // "AzureBlob" | "Kafka" | "File" | "Syslog"
  std::vector<std::string_view> secret_keys;  // settings keys the API redacts
  Status (*validate)(const json::Value& settings);
  // Builds the sink; `settings` passed validate. Connecting may happen lazily in Deliver, so that an
  // unreachable destination is a delivery error (retried, visible) rather than a start-up failure.
  Result<std::unique_ptr<Sink>> (*make)(const json::Value& settings, const SinkContext& context);
};

const std::vector<const DestinationType*>& DestinationTypes();
const DestinationType* FindDestinationType(std::string_view name);  // case-insensitive

// Checks a destinations array as the API receives it: each an object with a unique non-empty
// "name" (letters, digits, '-', '_', '.'; at most 64) and a known "type" whose settings validate.
// Messages name the field: "destinations[1].type must be one of AzureBlob, Kafka, File, Syslog".
Status ValidateDestinations(const json::Value& destinations);
// The destinations with every secret replaced by "***" (for responses).
json::Value RedactDestinations(const json::Value& destinations);
// PATCH semantics for secrets: a destination sent back with "***" keeps the stored secret of the
// destination of the same name.
json::Value RestoreRedactedSecrets(const json::Value& incoming, const json::Value& stored);

// Reads a destination's settings, naming the key in errors.
class SettingsReader {
 public:
  explicit SettingsReader(const json::Value& settings) : settings_(settings) {}
  Result<std::string> String(std::string_view key, bool required, std::string fallback = "") const;
  Result<int64_t> Int(std::string_view key, int64_t fallback, int64_t min, int64_t max) const;
  Result<bool> Bool(std::string_view key, bool fallback) const;
  // One of `allowed` (case-insensitive); returns the allowed spelling.
  Result<std::string> OneOf(std::string_view key, std::initializer_list<std::string_view> allowed,
                            std::string_view fallback) const;

 private:
  const json::Value& settings_;
};

}  // namespace ward::stream
