#include "server/backends.h"

#include <filesystem>

#include "events/clickhouse_store.h"
#include "events/kafka_event_log.h"
#include "state/postgres_state_store.h"
#include "state/sqlite_state_store.h"

namespace ward::server {

Result<std::unique_ptr<state::StateStore>> OpenStateStore(const std::string& data_dir, const Config& cfg, bool create) {
  if (cfg.state_url.empty()) {
    const std::string path = data_dir + "/state.db";
    if (!create && !std::filesystem::exists(path)) {
      return Err(FailedPrecondition("no Ward data in " + data_dir + "; run `ward init --data-dir " + data_dir + "` first"));
    }
    WARD_ASSIGN_OR_RETURN(auto store, state::SqliteStateStore::Open(path));
    return std::unique_ptr<state::StateStore>(std::move(store));
  }
  WARD_ASSIGN_OR_RETURN(auto store, state::PostgresStateStore::Open(cfg.state_url));
  return std::unique_ptr<state::StateStore>(std::move(store));
}

Result<std::unique_ptr<events::EventLog>> OpenEventLog(const Config& cfg, const events::FileEventLogOptions& file_options) {
  if (cfg.log_url.empty()) {
    WARD_ASSIGN_OR_RETURN(auto log, events::FileEventLog::Open(file_options));
    return std::unique_ptr<events::EventLog>(std::move(log));
  }
  WARD_ASSIGN_OR_RETURN(events::KafkaEventLogOptions options, events::ParseKafkaUrl(cfg.log_url));
  WARD_ASSIGN_OR_RETURN(auto log, events::KafkaEventLog::Open(std::move(options)));
  return std::unique_ptr<events::EventLog>(std::move(log));
}

Result<std::unique_ptr<events::EventStore>> OpenEventStore(const std::string& data_dir, const Config& cfg) {
  const events::SchemaRegistry& schema = events::SchemaRegistry::Hunting();
  const auto retention = std::chrono::hours(24 * cfg.retention_days);
  if (cfg.events_url.empty()) {
    events::ColumnarStoreOptions options;
    options.dir = data_dir + "/events/store";
    options.retention = retention;
    WARD_ASSIGN_OR_RETURN(auto store, events::ColumnarStore::Open(options, schema));
    return std::unique_ptr<events::EventStore>(std::move(store));
  }
  events::ClickHouseStoreOptions options;
  options.url = cfg.events_url;
  options.retention = retention;
  WARD_ASSIGN_OR_RETURN(auto store, events::ClickHouseStore::Open(std::move(options), schema));
  return std::unique_ptr<events::EventStore>(std::move(store));
}

Result<bool> HoldsInstallation(state::StateStore& store) {
  WARD_ASSIGN_OR_RETURN(auto tenants, store.ListTenants());
  return !tenants.empty();
}

std::string SharedDir(const std::string& data_dir, const Config& cfg) {
  return cfg.shared_dir.empty() ? data_dir : cfg.shared_dir;
}

}  // namespace ward::server
