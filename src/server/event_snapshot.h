#pragma once
// A read-only view of a data directory's telemetry for command-line tools (`ward admin events stats`,
// `ward hunt`): the columnar store's sealed segments plus the event-log tail replayed in memory.
// Nothing is sealed or written, so it is safe while a server runs on the same directory.
#include <memory>
#include <string>

#include "common/status.h"
#include "events/event_store.h"

namespace ward::server {

Result<std::unique_ptr<events::ColumnarStore>> OpenEventSnapshot(const std::string& data_dir);

}  // namespace ward::server
