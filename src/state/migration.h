#pragma once
// A numbered schema change. Each store keeps its history as a list of these, oldest first, applied
// in order inside a transaction at open and recorded in its schema_migrations table. Append only;
// never edit a released entry.
namespace ward::state {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

}  // namespace ward::state
