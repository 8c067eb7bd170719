#pragma once
// The advanced-hunting schema registry: every MDE hunting table with its columns, in documented
// order, and their types. Declared once as data (src/events/hunting_schema.tsv, compiled in) and
// shared by ingest validation, the columnar store, the KQL binder and streaming.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ward::events {

// KQL scalar types used by the tables. `dynamic` columns are stored as JSON text, like MDE does.
enum class ColumnType : uint8_t { kDatetime, kString, kLong, kInt, kBool, kDynamic, kReal };
std::string_view ColumnTypeName(ColumnType t);  // "datetime", "string", ...
std::optional<ColumnType> ParseColumnType(std::string_view name);

struct ColumnDef {
  std::string name;
  ColumnType type;
};

struct TableDef {
  std::string name;
  uint16_t id = 0;  // stable index in the registry
  std::vector<ColumnDef> columns;
  // Index of a column by exact name, or -1.
  int Find(std::string_view column) const;
  // Columns every event must carry (Timestamp, and DeviceId/DeviceName for Device* tables).
  std::vector<int> required;
  int timestamp_column = -1;

 private:
  friend class SchemaRegistry;
  // Column name → index; ingest looks up every field of every event by name.
  std::unordered_map<std::string, int> index_;
};

class SchemaRegistry {
 public:
  // The built-in MDE hunting tables.
  static const SchemaRegistry& Hunting();
  const TableDef* Find(std::string_view table) const;  // exact, case-sensitive (KQL table names are)
  const TableDef& table(uint16_t id) const { return tables_[id]; }
  const std::vector<TableDef>& tables() const { return tables_; }

  // Builds a registry from TSV text with a header line "table\tcolumn\ttype".
  static std::optional<SchemaRegistry> FromTsv(std::string_view tsv, std::string* error);

 private:
  std::vector<TableDef> tables_;
};

// Datetime cells hold KQL ticks (100 ns) from the Unix epoch: see common/time.h.

}  // namespace ward::events
