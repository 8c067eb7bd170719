#include "response/host_snapshot.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "common/time.h"
#include "response/fs.h"
#include "sensor/network_collector.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::response {

namespace {

std::vector<int> NumericEntries(const std::string& dir) {
  std::vector<int> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && v > 0) out.push_back(static_cast<int>(v));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

const char* TcpStateName(int state) {
  static const char* kNames[] = {"UNKNOWN",   "ESTABLISHED", "SYN_SENT", "SYN_RECV",   "FIN_WAIT1", "FIN_WAIT2",
                                 "TIME_WAIT", "CLOSE",       "CLOSE_WAIT", "LAST_ACK", "LISTEN",    "CLOSING"};
  return state > 0 && state < 12 ? kNames[state] : "UNKNOWN";
}

// Pads each column of `rows` to its widest cell.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], std::min<size_t>(r[i].size(), 48));
  }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size() && r[i].size() < width[i]) out.append(width[i] - r[i].size(), ' ');
      if (i + 1 < r.size()) out += "  ";
    }
    out += '\n';
  }
  return out;
}

}  // namespace

std::vector<ProcessRow> ListProcesses(const std::string& proc_root) {
  std::vector<ProcessRow> rows;
  for (int pid : NumericEntries(proc_root)) {
    const std::string dir = proc_root + "/" + std::to_string(pid);
    auto stat_text = sensor::ReadFile(dir + "/stat", 64 * 1024);
    if (!stat_text) continue;
    auto st = sensor::ParseProcStat(*stat_text);
    if (!st) continue;
    ProcessRow r;
    r.pid = pid;
    r.ppid = st->ppid;
    r.state = st->state;
    r.comm = st->comm;
    r.start_time = FormatIsoTicks(sensor::StartTicksToKql(st->start_ticks));
    if (auto status = sensor::ReadFile(dir + "/status", 64 * 1024)) {
      if (auto ps = sensor::ParseProcStatus(*status)) r.uid = ps->uid;
    }
    r.user = sensor::UserName(r.uid);
    r.exe = ReadLink(dir + "/exe");
    r.command_line = sensor::JoinCmdline(sensor::ReadFile(dir + "/cmdline", 64 * 1024).value_or(""));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<ConnectionRow> ListConnections(const std::string& proc_root) {
  // Socket inode -> owning process, from the fd links of every process we can read.
  std::unordered_map<uint64_t, std::pair<int, std::string>> owners;
  for (int pid : NumericEntries(proc_root)) {
    const std::string fd_dir = proc_root + "/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(fd_dir.c_str());
    if (d == nullptr) continue;
    std::string comm;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      uint64_t inode = sensor::ParseSocketInode(ReadLink(fd_dir + "/" + e->d_name));
      if (inode == 0) continue;
      if (comm.empty()) {
        comm = std::string(sensor::Trim(sensor::ReadFile(proc_root + "/" + std::to_string(pid) + "/comm", 256).value_or("")));
      }
      owners.emplace(inode, std::make_pair(pid, comm));
    }
    ::closedir(d);
  }
  std::vector<ConnectionRow> rows;
  for (const char* proto : {"tcp", "tcp6", "udp", "udp6"}) {
    auto text = sensor::ReadFile(proc_root + "/net/" + proto, 16 * 1024 * 1024);
    if (!text) continue;
    const bool v6 = proto[3] == '6';
    const bool tcp = proto[0] == 't';
    // /proc/net/udp has the same leading columns as /proc/net/tcp, so one parser serves both.
    for (const sensor::SocketEntry& s : sensor::ParseProcNetTcp(*text, v6)) {
      ConnectionRow r;
      r.protocol = proto;
      r.local_ip = s.local_ip;
      r.local_port = s.local_port;
      r.remote_ip = s.remote_ip;
      r.remote_port = s.remote_port;
      r.state = tcp ? TcpStateName(s.state) : (s.state == 1 ? "ESTABLISHED" : "UNCONN");
      r.uid = s.uid;
      r.inode = s.inode;
      if (auto it = owners.find(s.inode); it != owners.end()) {
        r.pid = it->second.first;
        r.process = it->second.second;
      }
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

json::Value ProcessesJson(const std::vector<ProcessRow>& rows) {
  json::Value out = json::Value::Array();
  for (const ProcessRow& r : rows) {
    json::Value v = json::Value::Object();
    v.AppendMember("pid", json::Value(r.pid));
    v.AppendMember("ppid", json::Value(r.ppid));
    v.AppendMember("user", json::Value(r.user));
    v.AppendMember("uid", json::Value(r.uid));
    v.AppendMember("state", json::Value(std::string(1, r.state)));
    v.AppendMember("startTime", json::Value(r.start_time));
    v.AppendMember("name", json::Value(r.comm));
    v.AppendMember("path", json::Value(r.exe));
    v.AppendMember("commandLine", json::Value(r.command_line));
    out.Append(std::move(v));
  }
  return out;
}

json::Value ConnectionsJson(const std::vector<ConnectionRow>& rows) {
  json::Value out = json::Value::Array();
  for (const ConnectionRow& r : rows) {
    json::Value v = json::Value::Object();
    v.AppendMember("protocol", json::Value(r.protocol));
    v.AppendMember("localAddress", json::Value(r.local_ip));
    v.AppendMember("localPort", json::Value(static_cast<int>(r.local_port)));
    v.AppendMember("remoteAddress", json::Value(r.remote_ip));
    v.AppendMember("remotePort", json::Value(static_cast<int>(r.remote_port)));
    v.AppendMember("state", json::Value(r.state));
    v.AppendMember("uid", json::Value(r.uid));
    v.AppendMember("pid", json::Value(r.pid));
    v.AppendMember("processName", json::Value(r.process));
    out.Append(std::move(v));
  }
  return out;
}

std::string ProcessesText(const std::vector<ProcessRow>& rows) {
  std::vector<std::vector<std::string>> t = {{"PID", "PPID", "USER", "S", "STARTED", "EXE", "COMMAND"}};
  for (const ProcessRow& r : rows) {
    t.push_back({std::to_string(r.pid), std::to_string(r.ppid), r.user, std::string(1, r.state), r.start_time,
                 r.exe.empty() ? "[" + r.comm + "]" : r.exe, r.command_line});
  }
  return Table(t);
}

std::string ConnectionsText(const std::vector<ConnectionRow>& rows) {
  auto endpoint = [](const std::string& ip, uint16_t port) {
    return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
  };
  std::vector<std::vector<std::string>> t = {{"PROTO", "LOCAL", "REMOTE", "STATE", "UID", "PID", "PROCESS"}};
  for (const ConnectionRow& r : rows) {
    t.push_back({r.protocol, endpoint(r.local_ip, r.local_port), endpoint(r.remote_ip, r.remote_port), r.state,
                 std::to_string(r.uid), r.pid ? std::to_string(r.pid) : "-", r.process});
  }
  return Table(t);
}

}  // namespace ward::response
