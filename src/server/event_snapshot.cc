#include "server/event_snapshot.h"

#include "events/event_log.h"
#include "events/rows.h"

namespace ward::server {

Result<std::unique_ptr<events::ColumnarStore>> OpenEventSnapshot(const std::string& data_dir) {
  const events::SchemaRegistry& schema = events::SchemaRegistry::Hunting();
  events::FileEventLogOptions lo;
  lo.dir = data_dir + "/events/log";
  lo.cursor_dir = data_dir + "/events/cursors";
  WARD_ASSIGN_OR_RETURN(auto log, events::FileEventLog::Open(lo));
  events::ColumnarStoreOptions so;
  so.dir = data_dir + "/events/store";
  so.seal_rows = SIZE_MAX;  // never seal: the server owns the store's files
  so.seal_age = std::chrono::hours(24 * 365);
  WARD_ASSIGN_OR_RETURN(auto store, events::ColumnarStore::Open(so, schema));
  // A reader of the store's own group that never commits: the server's writer owns that position.
  WARD_ASSIGN_OR_RETURN(auto consumer, log->OpenConsumer("store"));
  WARD_RETURN_IF_ERROR(consumer->Seek({store->durable_log_offset()}));
  while (true) {
    WARD_ASSIGN_OR_RETURN(auto records, consumer->Poll(4096, 64ull << 20, std::chrono::milliseconds(0)));
    if (records.empty()) break;
    for (const auto& r : records) {
      if (auto batch = events::DecodeBatch(r.data, schema)) WARD_RETURN_IF_ERROR(store->Append(*batch));
    }
  }
  return store;
}

}  // namespace ward::server
