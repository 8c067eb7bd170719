#pragma once
// DNS answers seen on the wire, for two uses:
//   - DeviceEvents rows with ActionType "DnsQueryResponse" (AdditionalFields DnsQueryString,
//     DnsQueryType, DnsQueryResult), as MDE reports them; the queried name is also RemoteUrl so
//     domain indicators and DestinationHostname Sigma rules match the lookup itself;
//   - a DnsCache (address -> the name it was looked up as) that the network collector consults to
//     fill RemoteUrl on the connections that follow.
//
// Capture is an AF_PACKET socket (cooked, all interfaces) with a classic BPF filter that passes only
// UDP datagrams from the DNS ports, so the kernel drops everything else before it reaches us. Needs
// CAP_NET_RAW; without it the collector reports mode "off" and connections carry no names. DNS over
// TCP, DoT and DoH are not seen (names then come only from simulated or imported telemetry).
#include <chrono>
#include <functional>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "sensor/event.h"
#include "sensor/util.h"

namespace ward::sensor {

struct DnsRecord {
  std::string name;   // owner name, lower case, no trailing dot
  std::string type;   // "A", "AAAA", "CNAME"
  std::string data;   // address text or the CNAME target
  uint32_t ttl = 0;
};

struct DnsResponse {
  uint16_t id = 0;
  int rcode = 0;
  std::string query;       // the question's name, lower case, no trailing dot
  std::string query_type;  // "A", "AAAA", ... or the number
  std::vector<DnsRecord> answers;  // A, AAAA and CNAME records of the answer section
};

// Parses a DNS message; nullopt unless it is a well-formed response with one question.
// Bounds-checked throughout (the input is whatever arrived on the wire).
std::optional<DnsResponse> ParseDnsResponse(std::string_view message);

// Address -> the name an application looked it up as (the question, not the CNAME target, since
// that is what users write indicators for). Entries live for their TTL, at least min_ttl so that
// connections made shortly after an answer with TTL 0 still get it; the oldest entries go first
// once capacity is reached. Thread-safe.
class DnsCache {
 public:
  explicit DnsCache(size_t capacity = 65536, std::chrono::seconds min_ttl = std::chrono::seconds(60),
                    std::chrono::seconds max_ttl = std::chrono::seconds(3600));
  void Record(const DnsResponse& response, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // "" when the address was not looked up recently.
  std::string NameOf(std::string_view ip, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) const;
  size_t size() const;

 private:
  struct Entry {
    std::string name;
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator age;  // position in order_
  };
  size_t capacity_;
  std::chrono::seconds min_ttl_, max_ttl_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_ip_;
  std::list<std::string> order_;  // oldest first
};

// The DeviceEvents row for one response (tests build it without capturing).
json::Value DnsResponseEvent(const DnsResponse& response, std::string_view server_ip, int64_t ticks = NowTicks());

struct DnsCollectorOptions {
  std::vector<uint16_t> ports{53};
  // A repeated identical answer (same name and addresses) within this window is not reported again;
  // the cache is still refreshed.
  std::chrono::seconds repeat_window{30};
  // Called for every answer (also repeated ones), on the collector's thread.
  std::function<void(const DnsResponse&)> on_answer;
};

class DnsCollector {
 public:
  DnsCollector(EventSink* sink, DnsCache* cache, DnsCollectorOptions options = {});
  ~DnsCollector();
  DnsCollector(const DnsCollector&) = delete;
  DnsCollector& operator=(const DnsCollector&) = delete;

  // Opens the capture socket; an error (e.g. no CAP_NET_RAW) leaves the collector off.
  Status Start();
  void Stop();
  std::string mode() const { return mode_; }
  // Handles one captured response (also the test entry point).
  void HandleResponse(const DnsResponse& response, std::string_view server_ip);

 private:
  void Run();
  void ReadPackets();

  EventSink* sink_;
  DnsCache* cache_;
  DnsCollectorOptions options_;
  std::string mode_ = "off";
  UniqueFd socket_;
  UniqueFd wake_fd_;
  std::thread thread_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> last_reported_;
};

}  // namespace ward::sensor
