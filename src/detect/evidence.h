#pragma once
// Alert evidence from one telemetry row, in MDE's shape: the acting process (the created process for
// process events, else the initiating one), its image file, the file an event is about, remote
// address and URL, and the account.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/rows.h"
#include "events/schema.h"
#include "state/records.h"

namespace ward::detect {

// Typed access to a row's cells by column name; absent columns and nulls read as empty.
class RowView {
 public:
  RowView(const events::Row& row, const events::TableDef& table) : row_(row), table_(table) {}
  const events::TableDef& table() const { return table_; }
  std::string_view Str(std::string_view column) const;
  std::optional<int64_t> Int(std::string_view column) const;
  int64_t TimeMs(std::string_view column) const;  // datetime columns; 0 when null

 private:
  const events::Row& row_;
  const events::TableDef& table_;
};

std::vector<state::AlertEvidence> EvidenceFromRow(const RowView& row, int64_t now_ms);

}  // namespace ward::detect
