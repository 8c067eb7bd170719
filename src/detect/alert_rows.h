#pragma once
// Alerts as hunting rows: every alert is appended to the event log as one AlertInfo row and one
// AlertEvidence row per piece of evidence (plus one for the device), so alerts are huntable and
// streamable like any event (DESIGN.md, data flow). The rows carry no device batch identity: they
// are the server's, not a sensor's.
#include <vector>

#include "events/rows.h"
#include "events/schema.h"
#include "state/records.h"

namespace ward::detect {

// The rows for `alert`. With `only_new_evidence` set (an alert that merged new evidence), only the
// evidence from that index on is emitted, and no AlertInfo row.
events::RowBatch AlertRows(const state::Alert& alert, const events::SchemaRegistry& registry, int64_t now_ticks,
                           size_t first_evidence = 0, bool with_info = true);

}  // namespace ward::detect
