#pragma once
// The File destination: NDJSON files on the server, one record per line, one file per table.
//
// Settings: "directory" (a name under <data-dir>/streaming/files, default the destination's name;
// no path separators, so the API cannot write elsewhere), "maxFileBytes" (rotate past this, default
// 64 MiB), "maxFiles" (rotated files kept per table, 0 = all, the default).
// Layout: <dir>/<Table>.ndjson is written; rotation renames it to <Table>-<YYYYMMDDTHHMMSS>-<n>.ndjson.
// A Deliver is confirmed once the lines are written and fdatasync'ed.
#include "stream/destinations.h"

namespace ward::stream {

const DestinationType& FileDestination();

}  // namespace ward::stream
