#include "ingest/telemetry.h"

#include <zlib.h>
#include <zstd.h>

#include <memory>

#include "common/time.h"
#include "json/json.h"

namespace ward::ingest {
namespace {

Result<std::string> Zstd(std::string_view in, size_t max_bytes) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> ds(ZSTD_createDStream(), ZSTD_freeDStream);
  if (!ds) return Err(Internal("zstd: out of memory"));
  ZSTD_initDStream(ds.get());
  std::string out;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  char buf[1 << 16];
  size_t ret = 0;
  for (;;) {
    ZSTD_outBuffer output{buf, sizeof buf, 0};
    ret = ZSTD_decompressStream(ds.get(), &output, &input);
    if (ZSTD_isError(ret)) return Err(InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(ret)));
    out.append(buf, output.pos);
    if (out.size() > max_bytes) return Err(ResourceExhausted("decompressed body exceeds the limit"));
    // Done when all input is consumed and the decoder did not fill the buffer (nothing left inside).
    if (input.pos == input.size && output.pos < output.size) break;
  }
  if (ret != 0) return Err(InvalidArgument("zstd: truncated frame"));
  return out;
}

Result<std::string> Gzip(std::string_view in, size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Err(Internal("zlib: init failed"));
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) return Err(InvalidArgument("gzip: corrupt data"));
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_bytes) return Err(ResourceExhausted("decompressed body exceeds the limit"));
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) return Err(InvalidArgument("gzip: truncated data"));
  }
  return out;
}

// Converts one JSON value to a cell of `type`; returns an error reason or "".
std::string ToCell(const json::FieldValue& v, events::ColumnType type, const TelemetryLimits& limits,
                   events::CellValue* out) {
  using events::ColumnType;
  using json::Type;
  if (v.type == Type::kNull) {
    *out = std::monostate{};
    return "";
  }
  switch (type) {
    case ColumnType::kDatetime: {
      if (v.type != Type::kString) return "must be an ISO-8601 datetime string";
      auto t = ParseIsoTicks(v.text);
      if (!t) return "is not a valid ISO-8601 datetime";
      *out = *t;
      return "";
    }
    case ColumnType::kLong:
      if (v.type != Type::kInt) return "must be an integer";
      *out = v.i;
      return "";
    case ColumnType::kInt:
      if (v.type != Type::kInt || v.i < INT32_MIN || v.i > INT32_MAX) return "must be a 32-bit integer";
      *out = v.i;
      return "";
    case ColumnType::kBool:
      if (v.type != Type::kBool) return "must be true or false";
      *out = int64_t{v.b ? 1 : 0};
      return "";
    case ColumnType::kReal:
      if (!v.is_number()) return "must be a number";
      *out = v.as_double();
      return "";
    case ColumnType::kString:
      // MDE keeps JSON in string columns (AdditionalFields, LoggedOnUsers, IPAddresses ...): an object
      // or array is accepted and stored as its JSON text.
      if (v.type != Type::kString && v.type != Type::kObject && v.type != Type::kArray) return "must be a string";
      if (v.text.size() > limits.max_string_bytes) return "is longer than the 32 KiB limit";
      *out = std::string(v.text);
      return "";
    case ColumnType::kDynamic: {
      // MDE keeps dynamic-looking columns as JSON text; a string is taken as that text, and scalars
      // as their JSON spelling.
      std::string text;
      if (v.type == Type::kString || v.type == Type::kObject || v.type == Type::kArray) {
        text = std::string(v.text);
      } else if (v.type == Type::kBool) {
        text = v.b ? "true" : "false";
      } else {
        text = v.type == Type::kInt ? json::Value(v.i).Serialize() : json::Value(v.d).Serialize();
      }
      if (text.size() > limits.max_string_bytes) return "is longer than the 32 KiB limit";
      *out = std::move(text);
      return "";
    }
  }
  return "has an unsupported type";
}

std::string ValidateEvent(const std::vector<json::Field>& fields, const state::Machine& device,
                          const events::SchemaRegistry& registry, int64_t now_ticks, const TelemetryLimits& limits,
                          events::Row* row) {
  const events::TableDef* table = nullptr;
  for (const json::Field& f : fields) {
    if (f.key != "$table") continue;
    if (f.value.type != json::Type::kString) return "\"$table\" must be a string";
    table = registry.Find(f.value.text);
    if (!table) return "unknown table '" + std::string(f.value.text) + "'";
  }
  if (!table) return "\"$table\" is missing";
  row->table = table->id;
  row->values.assign(table->columns.size(), std::monostate{});
  for (const json::Field& f : fields) {
    if (f.key == "$table") continue;
    int col = table->Find(f.key);
    if (col < 0) return "unknown column '" + std::string(f.key) + "' for table " + table->name;
    std::string why = ToCell(f.value, table->columns[col].type, limits, &row->values[col]);
    if (!why.empty()) return "column " + std::string(f.key) + " " + why;
  }
  // The server, not the device, decides which device an event belongs to.
  if (int col = table->Find("DeviceId"); col >= 0) {
    auto* claimed = std::get_if<std::string>(&row->values[col]);
    if (claimed && !claimed->empty() && *claimed != device.id) return "DeviceId does not match the authenticated device";
    row->values[col] = device.id;
  }
  if (int col = table->Find("DeviceName"); col >= 0 && std::holds_alternative<std::monostate>(row->values[col])) {
    row->values[col] = device.computer_dns_name;
  }
  for (int col : table->required) {
    if (std::holds_alternative<std::monostate>(row->values[col])) {
      return "required column " + table->columns[col].name + " is missing";
    }
  }
  if (table->timestamp_column >= 0) {
    int64_t ts = std::get<int64_t>(row->values[table->timestamp_column]);
    if (ts > now_ticks + limits.max_future_ticks) return "Timestamp is more than a day in the future";
  }
  return "";
}

}  // namespace

Result<std::string> Decompress(std::string_view body, std::string_view encoding, size_t max_bytes) {
  if (encoding.empty() || encoding == "identity") {
    if (body.size() > max_bytes) return Err(ResourceExhausted("body exceeds the limit"));
    return std::string(body);
  }
  if (encoding == "zstd") return Zstd(body, max_bytes);
  if (encoding == "gzip" || encoding == "x-gzip") return Gzip(body, max_bytes);
  return Err(InvalidArgument("unsupported Content-Encoding '" + std::string(encoding) + "'"));
}

Result<ParsedTelemetry> ParseTelemetry(std::string_view body, const state::Machine& device,
                                       const events::SchemaRegistry& registry, int64_t now_ticks,
                                       const TelemetryLimits& limits) {
  ParsedTelemetry out;
  out.batch.tenant_id = device.tenant_id;
  out.batch.device_id = device.id;
  out.batch.received_ticks = now_ticks;
  // One reader per thread: it reuses its buffers, and the hot path builds no DOM.
  thread_local json::FlatObjectReader reader;
  auto take = [&](size_t element) {
    events::Row row;
    auto fields = reader.Object(element);
    std::string why = fields ? ValidateEvent(**fields, device, registry, now_ticks, limits, &row) : fields.error().message();
    if (why.empty()) {
      out.batch.rows.push_back(std::move(row));
    } else {
      out.rejected.push_back(Rejection{out.total, std::move(why)});
    }
    ++out.total;
  };
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return out;
  if (body[first] == '[') {
    WARD_RETURN_IF_ERROR(reader.Read(body));
    if (!reader.is_array()) return Err(InvalidArgument("body must be NDJSON or a JSON array of events"));
    if (reader.size() > limits.max_events) return Err(ResourceExhausted("too many events in one batch"));
    for (size_t i = 0; i < reader.size(); ++i) take(i);
    return out;
  }
  size_t pos = 0;
  while (pos < body.size()) {
    size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos) eol = body.size();
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 1;
    size_t nonblank = line.find_first_not_of(" \t\r");
    if (nonblank == std::string_view::npos) continue;
    if (out.total >= limits.max_events) return Err(ResourceExhausted("too many events in one batch"));
    if (Status st = reader.Read(line); !st.ok()) {
      out.rejected.push_back(Rejection{out.total++, st.message()});
      continue;
    }
    if (reader.is_array()) {
      out.rejected.push_back(Rejection{out.total++, "event is not a JSON object"});
      continue;
    }
    take(0);
  }
  return out;
}

}  // namespace ward::ingest
