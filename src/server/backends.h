#pragma once
// Which implementation backs each storage seam, from the configuration: the embedded defaults in the
// data directory (SQLite state, file event log, columnar event store), or, for several nodes,
// PostgreSQL (state), Kafka (event log) and ClickHouse (event store) named by URL in config.json.
#include <memory>
#include <string>

#include "common/status.h"
#include "events/event_log.h"
#include "events/event_store.h"
#include "server/config.h"
#include "state/state_store.h"

namespace ward::server {

// Embedded: <data-dir>/state.db, which must exist unless `create` (FailedPrecondition naming
// `ward init`). PostgreSQL: connects and applies migrations; the database must exist.
Result<std::unique_ptr<state::StateStore>> OpenStateStore(const std::string& data_dir, const Config& cfg, bool create);

// The event log: `file_options` (the data directory's) unless config.json's "log" names Kafka.
Result<std::unique_ptr<events::EventLog>> OpenEventLog(const Config& cfg, const events::FileEventLogOptions& file_options);

// The event store hunting reads: the columnar store in <data-dir>/events/store (retention from the
// config) unless config.json's "events" names ClickHouse (whose tables are created when missing).
Result<std::unique_ptr<events::EventStore>> OpenEventStore(const std::string& data_dir, const Config& cfg);

// Whether the store already holds an installation (at least one tenant).
Result<bool> HoldsInstallation(state::StateStore& store);

// Where files every node must see live (action uploads, the live-response library, the download-link
// key): config.json's sharedDir, or the data directory.
std::string SharedDir(const std::string& data_dir, const Config& cfg);

}  // namespace ward::server
