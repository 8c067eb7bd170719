#include "stream/stream_record.h"

#include <cstdio>

#include "common/strings.h"
#include "common/time.h"
#include "json/json.h"

namespace ward::stream {

namespace {
constexpr std::string_view kCategoryPrefix = "AdvancedHunting-";

// `cell` is not null (the caller writes nulls).
void WriteCell(json::Writer& w, events::ColumnType type, const events::CellValue& cell) {
  switch (type) {
    case events::ColumnType::kBool: w.Bool(std::get<int64_t>(cell) != 0); return;
    case events::ColumnType::kInt:
    case events::ColumnType::kLong: w.Int(std::get<int64_t>(cell)); return;
    case events::ColumnType::kReal: w.Double(std::get<double>(cell)); return;
    case events::ColumnType::kDatetime: w.String(FormatIsoTicks(std::get<int64_t>(cell))); return;
    case events::ColumnType::kDynamic: {
      // Stored as JSON text; a sensor may have sent a plain string, which stays a string.
      const std::string& text = std::get<std::string>(cell);
      if (!text.empty() && (text[0] == '{' || text[0] == '[') && json::IsValidJson(text)) w.Raw(text);
      else w.String(text);
      return;
    }
    case events::ColumnType::kString: w.String(std::get<std::string>(cell)); return;
  }
}
}  // namespace

std::string CategoryOf(std::string_view table) { return std::string(kCategoryPrefix) + std::string(table); }

const events::TableDef* TableOfCategory(const events::SchemaRegistry& registry, std::string_view category) {
  if (category.size() <= kCategoryPrefix.size() || !EqualsIgnoreCase(category.substr(0, kCategoryPrefix.size()), kCategoryPrefix))
    return nullptr;
  std::string_view name = category.substr(kCategoryPrefix.size());
  for (const events::TableDef& t : registry.tables()) {
    if (EqualsIgnoreCase(t.name, name)) return &t;
  }
  return nullptr;
}

std::string ContainerOf(std::string_view table) { return "insights-logs-advancedhunting-" + AsciiLower(table); }

std::string BlobPathOf(std::string_view tenant_id, int64_t time_ticks) {
  // FormatIsoTicks gives "YYYY-MM-DDTHH:..." without locale or TZ.
  std::string iso = FormatIsoTicks(time_ticks);
  return "tenantId=" + std::string(tenant_id) + "/y=" + iso.substr(0, 4) + "/m=" + iso.substr(5, 2) +
         "/d=" + iso.substr(8, 2) + "/h=" + iso.substr(11, 2) + "/m=00/PT1H.json";
}

StreamRecord RenderRecord(const events::RowBatch& batch, size_t row, const events::TableDef& table,
                          std::string_view machine_group) {
  const events::Row& r = batch.rows[row];
  StreamRecord out;
  out.table = table.id;
  out.table_name = table.name;
  out.tenant_id = batch.tenant_id;
  out.device_id = batch.device_id;
  out.time_ticks = batch.received_ticks;
  std::string received = FormatIsoTicks(batch.received_ticks);
  json::Writer w;
  w.StartObject();
  w.KV("time", received);
  w.KV("tenantId", batch.tenant_id);
  w.KV("operationName", "Publish");
  w.KV("category", CategoryOf(table.name));
  w.KV("_TimeReceivedBySvc", received);
  w.Key("properties").StartObject();
  // DeviceInfo has a MachineGroup column of its own: it is filled in place, not repeated.
  const int group_column = table.Find("MachineGroup");
  for (size_t c = 0; c < table.columns.size(); ++c) {
    w.Key(table.columns[c].name);
    bool present = c < r.values.size() && !std::holds_alternative<std::monostate>(r.values[c]);
    if (static_cast<int>(c) == group_column && !present) w.String(machine_group);
    else if (present) WriteCell(w, table.columns[c].type, r.values[c]);
    else w.Null();
  }
  if (group_column < 0) w.KV("MachineGroup", machine_group);
  w.EndObject();
  w.EndObject();
  out.json = w.Take();
  return out;
}

std::string WrapRecords(std::span<const StreamRecord* const> records) {
  size_t size = 16;
  for (const StreamRecord* r : records) size += r->json.size() + 1;
  std::string out;
  out.reserve(size);
  out += "{\"records\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) out += ',';
    out += records[i]->json;
  }
  out += "]}";
  return out;
}

}  // namespace ward::stream
