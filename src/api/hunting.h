#pragma once
// Hunting results in MDE's API shape, shared by the HTTP routes and `ward hunt`:
// {"Stats"?: {...}, "Schema": [{"Name","Type"}], "Results": [{column: value}], "Render"?: "..."}.
#include <string>
#include <string_view>

#include "common/status.h"

#include "kql/engine.h"

namespace ward::api {

// Datetimes as ISO-8601 with 7 fractional digits, timespans as Kusto prints them
// ("[-][d.]hh:mm:ss[.fffffff]"), dynamic values as JSON.
std::string HuntingResultJson(const kql::QueryResult& result, bool with_stats);
// Microsoft Graph's huntingQueryResults: {"@odata.context", "schema": [{"name","type"}], "results": [...]}.
std::string GraphHuntingResultJson(const kql::QueryResult& result);

// Graph runHuntingQuery's "Timespan" (ISO 8601): a duration ending now ("P30D"), "start/end",
// "P30D/end", "start/P30D", or a start alone (until now). Ticks; InvalidArgument when malformed.
struct TimeWindow {
  int64_t start_ticks = 0, end_ticks = 0;
};
Result<TimeWindow> ParseGraphTimespan(std::string_view text, int64_t now_ticks);
std::string FormatTimespanTicks(int64_t ticks);

}  // namespace ward::api
