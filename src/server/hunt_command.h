#pragma once
// `ward hunt`: runs a KQL query from the command line, against a data directory (read-only, also
// while a server runs on it) or against a server's API, and prints a table, JSON or CSV.
#include <string>

namespace ward::server {

struct HuntArgs {
  std::string query;
  std::string data_dir;       // local mode
  std::string tenant;         // id or name; default: the only tenant (local) / required (server)
  std::string server_url;     // server mode: https://host:port
  std::string client_id, client_secret, ca_file;
  std::string format = "table";  // table | json | csv
};

// Returns the process exit code: 0, 1 (query or connection error, reason on stderr), 2 (usage).
int RunHunt(const HuntArgs& args);

}  // namespace ward::server
