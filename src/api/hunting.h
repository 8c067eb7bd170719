#pragma once
// Hunting results in MDE's API shape, shared by the HTTP routes and `ward hunt`:
// {"Stats"?: {...}, "Schema": [{"Name","Type"}], "Results": [{column: value}], "Render"?: "..."}.
#include <string>

#include "kql/engine.h"

namespace ward::api {

// Datetimes as ISO-8601 with 7 fractional digits, timespans as Kusto prints them
// ("[-][d.]hh:mm:ss[.fffffff]"), dynamic values as JSON.
std::string HuntingResultJson(const kql::QueryResult& result, bool with_stats);
std::string FormatTimespanTicks(int64_t ticks);

}  // namespace ward::api
