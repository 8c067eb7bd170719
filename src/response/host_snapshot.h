#pragma once
// Point-in-time listings of the host's processes and network sockets from /proc, shared by the
// investigation package (as text and JSON) and live response's `processes` and `connections`.
// `proc_root` is overridable for tests. Processes or sockets that vanish while being read are
// left out. Thread-safe (no shared state).
#include <cstdint>
#include <string>
#include <vector>

#include "json/json.h"

namespace ward::response {

struct ProcessRow {
  int pid = 0;
  int ppid = 0;
  uint32_t uid = 0;
  std::string user;
  char state = '?';
  std::string start_time;  // ISO 8601
  std::string comm;
  std::string exe;         // "" for kernel threads or when unreadable
  std::string command_line;
};
std::vector<ProcessRow> ListProcesses(const std::string& proc_root = "/proc");

struct ConnectionRow {
  std::string protocol;  // tcp, tcp6, udp, udp6
  std::string local_ip;
  uint16_t local_port = 0;
  std::string remote_ip;
  uint16_t remote_port = 0;
  std::string state;     // ESTABLISHED, LISTEN, ... ; UNCONN for unconnected UDP
  uint32_t uid = 0;
  uint64_t inode = 0;
  int pid = 0;           // 0 when no process holds the socket (or it is not visible)
  std::string process;   // comm of pid
};
std::vector<ConnectionRow> ListConnections(const std::string& proc_root = "/proc");

// [{"pid","ppid","user","uid","state","startTime","name","path","commandLine"}]
json::Value ProcessesJson(const std::vector<ProcessRow>& rows);
// [{"protocol","localAddress","localPort","remoteAddress","remotePort","state","uid","pid","processName"}]
json::Value ConnectionsJson(const std::vector<ConnectionRow>& rows);
// ps- and ss-like aligned text tables.
std::string ProcessesText(const std::vector<ProcessRow>& rows);
std::string ConnectionsText(const std::vector<ConnectionRow>& rows);

}  // namespace ward::response
