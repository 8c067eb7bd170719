#include "events/schema.h"

#include <cstdio>


namespace ward::events {

extern const char kHuntingSchemaTsv[];

std::string_view ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kDatetime: return "datetime";
    case ColumnType::kString: return "string";
    case ColumnType::kLong: return "long";
    case ColumnType::kInt: return "int";
    case ColumnType::kBool: return "bool";
    case ColumnType::kDynamic: return "dynamic";
    case ColumnType::kReal: return "real";
  }
  return "string";
}

std::optional<ColumnType> ParseColumnType(std::string_view name) {
  if (name == "datetime") return ColumnType::kDatetime;
  if (name == "string") return ColumnType::kString;
  if (name == "long") return ColumnType::kLong;
  if (name == "int") return ColumnType::kInt;
  if (name == "bool" || name == "boolean") return ColumnType::kBool;
  if (name == "dynamic") return ColumnType::kDynamic;
  if (name == "real" || name == "double") return ColumnType::kReal;
  return std::nullopt;
}

int TableDef::Find(std::string_view column) const {
  if (index_.empty()) {  // tables built by hand (tests) have no index
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == column) return static_cast<int>(i);
    }
    return -1;
  }
  auto it = index_.find(std::string(column));
  return it == index_.end() ? -1 : it->second;
}

std::optional<SchemaRegistry> SchemaRegistry::FromTsv(std::string_view tsv, std::string* error) {
  SchemaRegistry reg;
  size_t pos = 0;
  int line_no = 0;
  while (pos < tsv.size()) {
    size_t eol = tsv.find('\n', pos);
    if (eol == std::string_view::npos) eol = tsv.size();
    std::string_view line = tsv.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line_no == 1) continue;  // header
    size_t t1 = line.find('\t');
    size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) {
      if (error) *error = "line " + std::to_string(line_no) + ": expected three tab-separated fields";
      return std::nullopt;
    }
    std::string_view table = line.substr(0, t1), column = line.substr(t1 + 1, t2 - t1 - 1), type = line.substr(t2 + 1);
    auto parsed = ParseColumnType(type);
    if (!parsed) {
      if (error) *error = "line " + std::to_string(line_no) + ": unknown type '" + std::string(type) + "'";
      return std::nullopt;
    }
    if (reg.tables_.empty() || reg.tables_.back().name != table) {
      if (reg.Find(table) != nullptr) {
        if (error) *error = "table " + std::string(table) + " is not contiguous";
        return std::nullopt;
      }
      TableDef def;
      def.name = std::string(table);
      def.id = static_cast<uint16_t>(reg.tables_.size());
      reg.tables_.push_back(std::move(def));
    }
    reg.tables_.back().columns.push_back(ColumnDef{std::string(column), *parsed});
  }
  for (TableDef& t : reg.tables_) {
    for (size_t i = 0; i < t.columns.size(); ++i) t.index_.emplace(t.columns[i].name, static_cast<int>(i));
    t.timestamp_column = t.Find("Timestamp");
    if (t.timestamp_column >= 0) t.required.push_back(t.timestamp_column);
    for (const char* c : {"DeviceId", "DeviceName"}) {
      int i = t.Find(c);
      if (i >= 0 && t.name.rfind("Device", 0) == 0) t.required.push_back(i);
    }
  }
  return reg;
}

const SchemaRegistry& SchemaRegistry::Hunting() {
  static const SchemaRegistry registry = [] {
    std::string error;
    auto r = FromTsv(kHuntingSchemaTsv, &error);
    if (!r) {
      std::fprintf(stderr, "built-in hunting schema is invalid: %s\n", error.c_str());
      std::abort();
    }
    return std::move(*r);
  }();
  return registry;
}

const TableDef* SchemaRegistry::Find(std::string_view table) const {
  for (const TableDef& t : tables_) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

}  // namespace ward::events
