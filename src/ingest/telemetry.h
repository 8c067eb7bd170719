#pragma once
// Sensor telemetry: decompression, parsing and per-event validation against the hunting schema,
// producing the RowBatch the event log stores. One bad event never costs its neighbours: it is
// rejected with a reason and the rest are kept.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "events/rows.h"
#include "events/schema.h"
#include "state/records.h"

namespace ward::ingest {

struct TelemetryLimits {
  size_t max_decompressed_bytes = 64ull << 20;
  size_t max_events = 100000;
  size_t max_string_bytes = 32 * 1024;
  int64_t max_future_ticks = int64_t{24} * 3600 * 10'000'000;  // clocks may be off, not by days
};

// Decodes a body by Content-Encoding ("", "identity", "zstd", "gzip"). InvalidArgument for unknown
// encodings or corrupt data; ResourceExhausted when the output would exceed max_bytes.
Result<std::string> Decompress(std::string_view body, std::string_view content_encoding, size_t max_bytes);

struct Rejection {
  size_t index = 0;
  std::string reason;
};

struct ParsedTelemetry {
  events::RowBatch batch;
  std::vector<Rejection> rejected;
  size_t total = 0;
};

// Parses NDJSON or a JSON array of events for `device`. Fails as a whole only when the body is not
// NDJSON/JSON at all or exceeds the limits.
Result<ParsedTelemetry> ParseTelemetry(std::string_view body, const state::Machine& device,
                                       const events::SchemaRegistry& registry, int64_t now_ticks,
                                       const TelemetryLimits& limits = {});

}  // namespace ward::ingest
