// DNS answer parsing, the address -> name cache, and live capture of answers on loopback (a UDP
// "resolver" of the test's own on a free port, which the collector is told to watch).
#include "sensor/dns_collector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "sensor/network_collector.h"

namespace ward::sensor {
namespace {

using namespace std::chrono_literals;

std::string Name(std::string_view dotted) {
  std::string out;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    out.push_back(static_cast<char>(dot - start));
    out.append(dotted.substr(start, dot - start));
    start = dot + 1;
  }
  out.push_back('\0');
  return out;
}

void Put16(std::string& m, uint16_t v) {
  m.push_back(static_cast<char>(v >> 8));
  m.push_back(static_cast<char>(v & 0xFF));
}

void Put32(std::string& m, uint32_t v) {
  Put16(m, static_cast<uint16_t>(v >> 16));
  Put16(m, static_cast<uint16_t>(v & 0xFFFF));
}

// A response for `query` whose answers are a CNAME to `alias` (when given) and then A records for the
// addresses, all names after the question written as compression pointers.
std::string Response(std::string_view query, std::string_view alias, const std::vector<std::string>& v4,
                     uint32_t ttl = 300) {
  std::string m;
  Put16(m, 0x1234);
  Put16(m, 0x8180);  // response, recursion desired and available, NOERROR
  Put16(m, 1);
  Put16(m, static_cast<uint16_t>(v4.size() + (alias.empty() ? 0 : 1)));
  Put16(m, 0);
  Put16(m, 0);
  m += Name(query);
  Put16(m, 1);
  Put16(m, 1);
  uint16_t owner = 0xC000 | 12;  // the question's name
  if (!alias.empty()) {
    Put16(m, owner);
    Put16(m, 5);
    Put16(m, 1);
    Put32(m, ttl);
    std::string target = Name(alias);
    Put16(m, static_cast<uint16_t>(target.size()));
    owner = static_cast<uint16_t>(0xC000 | m.size());
    m += target;
  }
  for (const std::string& ip : v4) {
    Put16(m, owner);
    Put16(m, 1);
    Put16(m, 1);
    Put32(m, ttl);
    Put16(m, 4);
    in_addr a{};
    inet_pton(AF_INET, ip.c_str(), &a);
    m.append(reinterpret_cast<const char*>(&a), 4);
  }
  return m;
}

TEST(ParseDnsResponseTest, ReadsQuestionCnameAndAddresses) {
  auto r = ParseDnsResponse(Response("WWW.Example.COM", "edge.cdn.example.net", {"192.0.2.1", "192.0.2.2"}, 42));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, 0x1234);
  EXPECT_EQ(r->rcode, 0);
  EXPECT_EQ(r->query, "www.example.com");
  EXPECT_EQ(r->query_type, "A");
  ASSERT_EQ(r->answers.size(), 3u);
  EXPECT_EQ(r->answers[0].type, "CNAME");
  EXPECT_EQ(r->answers[0].data, "edge.cdn.example.net");
  EXPECT_EQ(r->answers[1].name, "edge.cdn.example.net");
  EXPECT_EQ(r->answers[1].data, "192.0.2.1");
  EXPECT_EQ(r->answers[2].ttl, 42u);
}

TEST(ParseDnsResponseTest, RejectsQueriesTruncationAndPointerLoops) {
  std::string good = Response("a.example", "", {"192.0.2.9"});
  std::string query = good;
  query[2] = 0x01;  // QR bit clear
  EXPECT_FALSE(ParseDnsResponse(query).has_value());
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(ParseDnsResponse(good.substr(0, n)).has_value()) << n;
  std::string loop = good.substr(0, 12);
  Put16(loop, 0xC000 | 12);  // the question's name points at itself
  Put16(loop, 1);
  Put16(loop, 1);
  EXPECT_FALSE(ParseDnsResponse(loop).has_value());
  // Random corruption never reads out of bounds (run under the sanitizers in the fuzz build too).
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string m = good;
    for (int k = 0; k < 3; ++k) m[rng() % m.size()] = static_cast<char>(rng());
    (void)ParseDnsResponse(m);
  }
}

TEST(DnsCacheTest, KeepsTheQueriedNameForItsTtlAndEvictsTheOldest) {
  DnsCache cache(2, 10s, 60s);
  auto t0 = std::chrono::steady_clock::now();
  cache.Record(*ParseDnsResponse(Response("one.example", "cdn.example.net", {"192.0.2.1"}, 0)), t0);
  EXPECT_EQ(cache.NameOf("192.0.2.1", t0 + 5s), "one.example");  // TTL 0 still lasts min_ttl
  EXPECT_EQ(cache.NameOf("192.0.2.1", t0 + 11s), "");
  cache.Record(*ParseDnsResponse(Response("two.example", "", {"192.0.2.2"}, 3600)), t0);
  EXPECT_EQ(cache.NameOf("192.0.2.2", t0 + 59s), "two.example");  // capped at max_ttl
  EXPECT_EQ(cache.NameOf("192.0.2.2", t0 + 61s), "");
  cache.Record(*ParseDnsResponse(Response("three.example", "", {"192.0.2.3"})), t0);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.NameOf("192.0.2.1", t0), "");
  EXPECT_EQ(cache.NameOf("192.0.2.3", t0), "three.example");
}

TEST(DnsResponseEventTest, IsAnMdeDnsQueryResponseRow) {
  json::Value ev = DnsResponseEvent(*ParseDnsResponse(Response("x.example", "", {"192.0.2.5"})), "127.0.0.53");
  EXPECT_EQ(ev.GetString("$table").value_or(""), "DeviceEvents");
  EXPECT_EQ(ev.GetString("ActionType").value_or(""), "DnsQueryResponse");
  EXPECT_EQ(ev.GetString("RemoteUrl").value_or(""), "x.example");
  auto fields = json::Value::Parse(ev.GetString("AdditionalFields").value_or(""));
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->GetString("DnsQueryString").value_or(""), "x.example");
  EXPECT_EQ(fields->GetString("DnsServer").value_or(""), "127.0.0.53");
  const json::Value* result = fields->Find("DnsQueryResult");
  ASSERT_TRUE(result && result->is_array() && result->items().size() == 1);
  EXPECT_EQ(result->items()[0].GetString("DnsQueryResultRecord").value_or(""), "192.0.2.5");
}

int BoundUdp(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// Live capture: needs CAP_NET_RAW, which the test runs (as CI) have.
TEST(DnsCollectorTest, CapturesAnswersAndNamesTheConnectionsThatFollow) {
  if (::geteuid() != 0) GTEST_SKIP() << "AF_PACKET capture needs root";
  uint16_t resolver_port = 0, client_port = 0;
  int resolver = BoundUdp(&resolver_port);
  int client = BoundUdp(&client_port);
  ASSERT_GE(resolver, 0);
  ASSERT_GE(client, 0);

  CollectingSink sink;
  DnsCache cache;
  DnsCollectorOptions o;
  o.ports = {resolver_port};
  DnsCollector collector(&sink, &cache, o);
  ASSERT_TRUE(collector.Start().ok());
  EXPECT_EQ(collector.mode(), "af_packet");

  // A datagram from another port is filtered out in the kernel; the resolver's answer is read.
  std::string noise = Response("noise.example", "", {"127.0.0.1"});
  std::string answer = Response("ward-dns-test.example", "", {"127.0.0.1"});
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(resolver_port);
  ASSERT_EQ(::sendto(client, noise.data(), noise.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(noise.size()));
  to.sin_port = htons(client_port);
  for (int i = 0; i < 2; ++i) {  // the repeat is folded into the first report
    ASSERT_EQ(::sendto(resolver, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(answer.size()));
  }
  auto ev = sink.WaitFor([](const json::Value& e) { return e.GetString("RemoteUrl").value_or("") == "ward-dns-test.example"; }, 3s);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(cache.NameOf("127.0.0.1"), "ward-dns-test.example");

  // A connection to the answered address carries the name.
  HashCache hashes;
  ProcessTable table(&hashes);
  NetworkCollectorOptions no;
  no.interval = 100ms;
  no.ignore_self = false;
  no.dns_names = &cache;
  NetworkCollector network(&sink, &table, no);
  ASSERT_TRUE(network.Start().ok());
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int conn = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(conn, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int64_t port = ntohs(addr.sin_port);
  auto connected = sink.WaitFor([&](const json::Value& e) {
    return e.GetString("ActionType").value_or("") == "ConnectionSuccess" && e.GetInt("RemotePort").value_or(0) == port;
  }, 3s);
  network.Stop();
  collector.Stop();
  ::close(conn);
  ::close(listener);
  ::close(client);
  ::close(resolver);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ(connected->GetString("RemoteUrl").value_or(""), "ward-dns-test.example");

  int reports = 0, noise_reports = 0;
  for (const auto& e : sink.Events()) {
    reports += e.GetString("RemoteUrl").value_or("") == "ward-dns-test.example" && e.GetString("ActionType").value_or("") == "DnsQueryResponse";
    noise_reports += e.GetString("RemoteUrl").value_or("") == "noise.example";
  }
  EXPECT_EQ(reports, 1);
  EXPECT_EQ(noise_reports, 0);
}

}  // namespace
}  // namespace ward::sensor
