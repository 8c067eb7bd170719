#include "api/hunting.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "common/time.h"
#include "json/json.h"

namespace ward::api {
namespace {

// One cell as MDE writes it: datetimes in ISO-8601 with 7 digits, dynamic values as JSON.
void WriteCell(json::Writer& w, const kql::Column& c, size_t row) {
  if (c.nulls[row]) {
    w.Val(json::Value());
    return;
  }
  switch (c.type) {
    case kql::Type::kBool: w.Bool(c.ints[row] != 0); break;
    case kql::Type::kInt:
    case kql::Type::kLong: w.Int(c.ints[row]); break;
    case kql::Type::kReal:
    case kql::Type::kDecimal: w.Val(json::Value(c.reals[row])); break;
    case kql::Type::kDateTime: w.String(FormatIsoTicks(c.ints[row])); break;
    case kql::Type::kTimespan: w.String(FormatTimespanTicks(c.ints[row])); break;
    case kql::Type::kDynamic: {
      auto parsed = json::Value::Parse(c.strings[row]);
      w.Val(parsed ? *parsed : json::Value(c.strings[row]));
      break;
    }
    default: w.String(c.strings[row]);
  }
}

}  // namespace

std::string FormatTimespanTicks(int64_t ticks) {
  std::string sign = ticks < 0 ? "-" : "";
  uint64_t t = ticks < 0 ? static_cast<uint64_t>(-(ticks + 1)) + 1 : static_cast<uint64_t>(ticks);
  uint64_t frac = t % kTicksPerSecond, secs = t / kTicksPerSecond;
  uint64_t days = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;
  char buf[64];
  if (days) std::snprintf(buf, sizeof(buf), "%llu.%02llu:%02llu:%02llu", (unsigned long long)days, (unsigned long long)h, (unsigned long long)m, (unsigned long long)s);
  else std::snprintf(buf, sizeof(buf), "%02llu:%02llu:%02llu", (unsigned long long)h, (unsigned long long)m, (unsigned long long)s);
  std::string out = sign + buf;
  if (frac) {
    std::snprintf(buf, sizeof(buf), ".%07llu", (unsigned long long)frac);
    out += buf;
  }
  return out;
}

namespace {

// The rows as [{column: value}], shared by MDE's and Graph's shapes.
void WriteResults(json::Writer& w, const kql::QueryResult& result) {
  w.StartArray();
  for (size_t r = 0; r < result.rows; ++r) {
    w.StartObject();
    for (const kql::Column& c : result.columns) {
      w.Key(c.name);
      WriteCell(w, c, r);
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

Result<TimeWindow> ParseGraphTimespan(std::string_view text, int64_t now_ticks) {
  auto bad = [&] { return Err(InvalidArgument("Timespan '" + std::string(text) + "' is not an ISO 8601 duration or interval")); };
  TimeWindow w;
  size_t slash = text.find('/');
  std::string_view a = text.substr(0, slash), b = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
  if (slash == std::string_view::npos) {
    if (auto d = ParseIsoDurationTicks(a)) return TimeWindow{now_ticks - *d, now_ticks};
    auto start = ParseIsoTicks(a);
    if (!start) return bad();
    w = {*start, now_ticks};
  } else if (auto d = ParseIsoDurationTicks(a)) {
    auto end = ParseIsoTicks(b);
    if (!end) return bad();
    w = {*end - *d, *end};
  } else if (auto start = ParseIsoTicks(a)) {
    if (auto d2 = ParseIsoDurationTicks(b)) {
      w = {*start, *start + *d2};
    } else if (auto end = ParseIsoTicks(b)) {
      w = {*start, *end};
    } else {
      return bad();
    }
  } else {
    return bad();
  }
  if (w.end_ticks < w.start_ticks) return Err(InvalidArgument("Timespan '" + std::string(text) + "' ends before it starts"));
  return w;
}

std::string GraphHuntingResultJson(const kql::QueryResult& result) {
  json::Writer w;
  w.StartObject();
  w.KV("@odata.context", "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults");
  w.Key("schema").StartArray();
  for (const kql::Column& c : result.columns) w.StartObject().KV("name", c.name).KV("type", kql::MdeTypeName(c.type)).EndObject();
  w.EndArray();
  w.Key("results");
  WriteResults(w, result);
  w.EndObject();
  return w.Take();
}

std::string HuntingResultJson(const kql::QueryResult& result, bool with_stats) {
  json::Writer w;
  w.StartObject();
  if (with_stats) {
    w.Key("Stats").StartObject();
    w.Key("ExecutionTime").Val(json::Value(result.stats.execution_seconds));
    w.Key("resource_usage").StartObject().Key("cache").StartObject().EndObject().EndObject();
    w.Key("dataset_statistics").StartArray().StartObject();
    w.KV("table_row_count", static_cast<int64_t>(result.stats.rows_scanned));
    w.KV("table_size", static_cast<int64_t>(result.stats.bytes_read));
    w.EndObject().EndArray();
    w.EndObject();
  }
  w.Key("Schema").StartArray();
  for (const kql::Column& c : result.columns) w.StartObject().KV("Name", c.name).KV("Type", kql::MdeTypeName(c.type)).EndObject();
  w.EndArray();
  w.Key("Results");
  WriteResults(w, result);
  if (!result.render.empty()) w.KV("Render", result.render);  // Ward extension: the chart the query asked for
  w.EndObject();
  return w.Take();
}

}  // namespace ward::api
