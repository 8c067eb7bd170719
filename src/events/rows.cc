#include "events/rows.h"

#include "events/column_bytes.h"

namespace ward::events {
namespace {

// Format (docs/storage-format.md, "Row batch encoding"):
//   u8 version = 1
//   varint-prefixed tenant_id, device_id, batch_id; i64 received_ticks; varint row count
//   per row: u16 table id, varint value count, then per value a tag byte and its payload:
//     0 null | 1 integer (zigzag varint) | 2 real (f64) | 3 string (varint length + bytes)
constexpr uint8_t kVersion = 1;
enum Tag : uint8_t { kTagNull = 0, kTagInt = 1, kTagReal = 2, kTagString = 3 };

bool TagFitsType(uint8_t tag, ColumnType type) {
  if (tag == kTagNull) return true;
  switch (type) {
    case ColumnType::kDatetime:
    case ColumnType::kLong:
    case ColumnType::kInt:
    case ColumnType::kBool:
      return tag == kTagInt;
    case ColumnType::kReal:
      return tag == kTagReal;
    case ColumnType::kString:
    case ColumnType::kDynamic:
      return tag == kTagString;
  }
  return false;
}

Status Malformed(std::string what) { return InvalidArgument("malformed row batch: " + std::move(what)); }

}  // namespace

std::string EncodeBatch(const RowBatch& batch) {
  std::string out;
  out.reserve(64 + batch.rows.size() * 256);
  ByteWriter w(&out);
  w.U8(kVersion);
  w.Str(batch.tenant_id);
  w.Str(batch.device_id);
  w.Str(batch.batch_id);
  w.I64(batch.received_ticks);
  w.Varint(batch.rows.size());
  for (const Row& row : batch.rows) {
    w.U16(row.table);
    w.Varint(row.values.size());
    for (const CellValue& v : row.values) {
      switch (v.index()) {
        case 0:
          w.U8(kTagNull);
          break;
        case 1:
          w.U8(kTagInt);
          w.SignedVarint(std::get<int64_t>(v));
          break;
        case 2:
          w.U8(kTagReal);
          w.F64(std::get<double>(v));
          break;
        default:
          w.U8(kTagString);
          w.Str(std::get<std::string>(v));
          break;
      }
    }
  }
  return out;
}

Result<RowBatch> DecodeBatch(std::string_view bytes, const SchemaRegistry& registry) {
  ByteReader r(bytes);
  uint8_t version;
  if (!r.U8(&version)) return Err(Malformed("empty input"));
  if (version != kVersion) return Err(Malformed("unknown version " + std::to_string(version)));
  RowBatch batch;
  std::string_view tenant, device, batch_id;
  if (!r.Str(&tenant) || !r.Str(&device) || !r.Str(&batch_id)) return Err(Malformed("truncated header"));
  batch.tenant_id = tenant;
  batch.device_id = device;
  batch.batch_id = batch_id;
  uint64_t row_count;
  if (!r.I64(&batch.received_ticks) || !r.Varint(&row_count)) return Err(Malformed("truncated header"));
  // Every row takes at least 3 bytes: bounds the reservation by the input, not by a claimed count.
  if (row_count > r.remaining() / 3) return Err(Malformed("row count exceeds input"));
  batch.rows.reserve(static_cast<size_t>(row_count));
  const auto& tables = registry.tables();
  for (uint64_t i = 0; i < row_count; ++i) {
    Row row;
    uint64_t value_count;
    if (!r.U16(&row.table) || !r.Varint(&value_count)) return Err(Malformed("truncated row " + std::to_string(i)));
    if (row.table >= tables.size()) return Err(Malformed("row " + std::to_string(i) + ": unknown table id " + std::to_string(row.table)));
    const TableDef& table = tables[row.table];
    if (value_count != table.columns.size()) {
      return Err(Malformed("row " + std::to_string(i) + ": " + std::to_string(value_count) + " values for " + table.name + ", which has " +
                           std::to_string(table.columns.size()) + " columns"));
    }
    row.values.resize(table.columns.size());
    for (size_t c = 0; c < table.columns.size(); ++c) {
      uint8_t tag;
      if (!r.U8(&tag)) return Err(Malformed("truncated row " + std::to_string(i)));
      if (tag > kTagString) return Err(Malformed("row " + std::to_string(i) + ": unknown value tag " + std::to_string(tag)));
      if (!TagFitsType(tag, table.columns[c].type)) {
        return Err(Malformed("row " + std::to_string(i) + ": value of the wrong kind for " + table.name + "." + table.columns[c].name + " (" +
                             std::string(ColumnTypeName(table.columns[c].type)) + ")"));
      }
      bool ok = true;
      switch (tag) {
        case kTagNull:
          break;
        case kTagInt: {
          int64_t v = 0;
          ok = r.SignedVarint(&v);
          row.values[c] = v;
          break;
        }
        case kTagReal: {
          double v = 0;
          ok = r.F64(&v);
          row.values[c] = v;
          break;
        }
        default: {
          std::string_view s;
          ok = r.Str(&s);
          row.values[c] = std::string(s);
          break;
        }
      }
      if (!ok) return Err(Malformed("truncated row " + std::to_string(i)));
    }
    batch.rows.push_back(std::move(row));
  }
  if (r.remaining() != 0) return Err(Malformed(std::to_string(r.remaining()) + " trailing bytes"));
  return batch;
}

}  // namespace ward::events
