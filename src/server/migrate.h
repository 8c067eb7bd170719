#pragma once
// `ward admin migrate`: copies an installation from one set of backends to another — in practice an
// embedded data directory into PostgreSQL and ClickHouse when a single node grows into several.
//
// Both copies are idempotent, so an interrupted migration is simply run again:
// - state: tenants, every document kind (inserted, or overwritten when the id exists), the
//   per-tenant sequences (raised, never lowered), signing keys, and the audit entries newer than
//   the target's newest one;
// - events: per tenant and hunting table, every row; a table that already holds rows for the
//   tenant in the target is skipped (it was copied before, or the target is already in use).
// The event log is not copied: its records are in the event store already (the snapshot replays
// the log's tail), and streaming destinations start at the new log's end.
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "events/event_store.h"
#include "state/state_store.h"

namespace ward::server {

struct StateCopyStats {
  int64_t tenants = 0, documents = 0, sequences = 0, signing_keys = 0, audit_entries = 0;
};
Result<StateCopyStats> CopyState(state::StateStore& source, state::StateStore& target);

struct EventCopyStats {
  int64_t tables_copied = 0, tables_skipped = 0, rows = 0;
};
// Copies `tenants`' rows of every table of `registry`, `batch_rows` rows per target Append.
Result<EventCopyStats> CopyEvents(events::EventStore& source, events::EventStore& target,
                                  const events::SchemaRegistry& registry, const std::vector<std::string>& tenants,
                                  size_t batch_rows = 8192);

}  // namespace ward::server
