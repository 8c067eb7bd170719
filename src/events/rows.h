#pragma once
// Validated telemetry rows and their binary encoding, which is what the event log stores.
//
// A RowBatch is one sensor upload after validation: rows of one or more tables for one device of
// one tenant. Values are typed per the schema (null allowed everywhere). The encoding is
// little-endian and self-delimiting; see docs/storage-format.md ("Event log record").
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "events/schema.h"

namespace ward::events {

// null | long/int/datetime(ticks)/bool(0/1) | real | string/dynamic(JSON text)
using CellValue = std::variant<std::monostate, int64_t, double, std::string>;

struct Row {
  uint16_t table = 0;               // SchemaRegistry table id
  std::vector<CellValue> values;    // one per column of the table, in schema order
};

struct RowBatch {
  std::string tenant_id;
  std::string device_id;            // 40 hex chars
  std::string batch_id;             // sensor-chosen, for idempotent retries
  int64_t received_ticks = 0;       // server time when accepted
  std::vector<Row> rows;
};

std::string EncodeBatch(const RowBatch& batch);
// Rejects truncated or malformed input (InvalidArgument); never reads out of bounds.
Result<RowBatch> DecodeBatch(std::string_view bytes, const SchemaRegistry& registry);

}  // namespace ward::events
