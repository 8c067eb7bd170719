#pragma once
// DeviceNetworkEvents for TCP: ConnectionSuccess (new outbound connection), InboundConnectionAccepted
// and ListeningConnectionCreated. Polls the socket table every `interval` through sock_diag netlink
// (falling back to /proc/net/tcp{,6}) and diffs it by socket inode; sockets alive before the first
// poll are the baseline and not reported. Connections opened and closed between two polls are not
// seen — the price of not hooking the kernel.
//
// RemoteUrl is the name the remote address was looked up as, when the DNS collector saw the answer.
//
// Owning processes come from /proc/<pid>/fd socket links: first among pids that owned sockets
// before, then (at most every full_scan_interval) a scan of all processes.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "sensor/event.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::sensor {

class DnsCache;

struct SocketEntry {
  uint64_t inode = 0;
  bool v6 = false;
  int state = 0;  // TCP_* from the kernel
  std::string local_ip;
  uint16_t local_port = 0;
  std::string remote_ip;
  uint16_t remote_port = 0;
  uint32_t uid = 0;
};

// Parses /proc/net/tcp or tcp6 content (exposed for tests).
std::vector<SocketEntry> ParseProcNetTcp(std::string_view content, bool v6);
// Dumps TCP sockets via NETLINK_SOCK_DIAG. nullopt when sock_diag is unavailable.
std::optional<std::vector<SocketEntry>> DumpTcpSockets();

struct NetworkCollectorOptions {
  std::chrono::milliseconds interval{500};
  std::chrono::milliseconds full_scan_interval{2000};
  bool report_loopback = true;
  bool ignore_self = true;  // the sensor's own uploads are not news
  // Names recently resolved to the remote address fill RemoteUrl (null: no names). Not owned.
  const DnsCache* dns_names = nullptr;
};

class NetworkCollector {
 public:
  NetworkCollector(EventSink* sink, ProcessTable* processes, NetworkCollectorOptions options = {});
  ~NetworkCollector();
  NetworkCollector(const NetworkCollector&) = delete;
  NetworkCollector& operator=(const NetworkCollector&) = delete;

  Status Start();
  void Stop();
  std::string mode() const { return mode_; }
  // One poll (also used by tests to avoid timing dependence).
  void PollOnce();

 private:
  struct Tracked {
    int state;
    bool reported;
  };
  struct NewSocket {
    SocketEntry entry;
    std::string action;
    int64_t ticks;
    int tries = 0;
  };

  std::vector<SocketEntry> Dump();
  void ResolveOwners(std::vector<NewSocket>& fresh);
  // Scans /proc/<pid>/fd of the given pids for the wanted inodes.
  void ScanPids(const std::vector<int>& pids, std::unordered_set<uint64_t>& wanted);
  void EmitConnection(const NewSocket& s, int pid);

  EventSink* sink_;
  ProcessTable* processes_;
  NetworkCollectorOptions options_;
  std::string mode_;
  bool use_diag_ = true;
  UniqueFd diag_fd_;  // kept open between polls
  bool baseline_done_ = false;
  std::unordered_map<uint64_t, Tracked> known_;     // inode -> state
  std::multiset<std::pair<bool, uint16_t>> listen_ports_;  // (v6, port) of listening sockets
  std::unordered_map<uint64_t, std::pair<bool, uint16_t>> listen_by_inode_;
  std::unordered_map<uint64_t, int> owner_;         // inode -> pid
  std::set<int> socket_pids_;                       // pids seen owning sockets
  std::chrono::steady_clock::time_point last_full_scan_{};
  std::vector<NewSocket> unresolved_;
  Stopper stopper_;
  std::thread thread_;
};

}  // namespace ward::sensor
