// The Syslog destination against real receivers on 127.0.0.1 (UDP, TCP with both framings, TLS with a
// certificate made here): messages are RFC 5424 and carry the records; oversize records are rejected
// while the rest flow; a receiver that goes away is an error and one that comes back takes the retry;
// a TLS pin or name mismatch is an error.
#include "stream/syslog_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "common/temp_dir.h"
#include "common/time.h"
#include "http/client.h"
#include "http/server.h"
#include "stream/cef.h"
#include "stream/stream_record.h"

namespace ward::stream {
namespace {

using namespace std::chrono_literals;

const int64_t kTime = *ParseIsoTicks("2024-05-17T13:04:05.1234567Z");

StreamRecord Event(int n, size_t pad = 0) {
  StreamRecord r;
  r.table_name = "DeviceProcessEvents";
  r.tenant_id = "tenant-1";
  r.device_id = "device-1";
  r.time_ticks = kTime;
  r.json = R"({"time":"2024-05-17T13:04:05.1234567Z","tenantId":"tenant-1","category":"AdvancedHunting-DeviceProcessEvents",)"
           R"("properties":{"ReportId":)" + std::to_string(n) + R"(,"Pad":")" + std::string(pad, 'x') + R"("}})";
  return r;
}

json::Value Settings(const std::string& json) { return *json::Value::Parse(json); }

std::unique_ptr<Sink> MakeSink(const std::string& json) {
  auto sink = SyslogDestination().make(Settings(json), SinkContext{});
  EXPECT_TRUE(sink.has_value()) << sink.error().message();
  return sink ? std::move(*sink) : nullptr;
}

struct Syslog5424 {
  int pri = 0;
  std::string timestamp, hostname, app_name, procid, msgid, sd, msg;
};

// The header is checked field by field (std::regex recurses per character and cannot take a 60 kB MSG).
std::optional<Syslog5424> Parse5424(const std::string& m) {
  Syslog5424 out;
  size_t at = 0;
  auto token = [&](size_t max) -> std::optional<std::string> {
    size_t sp = m.find(' ', at);
    if (sp == std::string::npos || sp == at || sp - at > max) return std::nullopt;
    std::string t = m.substr(at, sp - at);
    for (char c : t) {
      if (c < 33 || c > 126) return std::nullopt;
    }
    at = sp + 1;
    return t;
  };
  std::smatch g;
  auto head = token(10);
  static const std::regex pri(R"(<(\d{1,3})>1)");
  if (!head || !std::regex_match(*head, g, pri)) return std::nullopt;
  out.pri = std::stoi(g[1]);
  auto time = token(32);
  static const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z)");
  if (!time || !std::regex_match(*time, rfc3339)) return std::nullopt;
  out.timestamp = *time;
  auto host = token(255), app = token(48), procid = token(128), msgid = token(32);
  if (!host || !app || !procid || !msgid) return std::nullopt;
  out.hostname = *host, out.app_name = *app, out.procid = *procid, out.msgid = *msgid;
  size_t sd_start = at;
  if (m.compare(at, 2, "- ") == 0) {
    at += 1;
  } else {
    if (at >= m.size() || m[at] != '[') return std::nullopt;
    while (at < m.size() && m[at] == '[') {  // one or more SD-ELEMENTs; '\' escapes inside values
      for (++at; at < m.size() && m[at] != ']'; ++at) {
        if (m[at] == '\\') ++at;
      }
      if (at >= m.size()) return std::nullopt;
      ++at;
    }
  }
  out.sd = m.substr(sd_start, at - sd_start);
  if (at >= m.size() || m[at] != ' ') return std::nullopt;
  out.msg = m.substr(at + 1);
  return out;
}

// RFC 6587 octet counting: "LEN SP MSG" repeated; an incomplete last frame is left out.
std::vector<std::string> SplitOctetCounted(const std::string& wire) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < wire.size()) {
    size_t sp = wire.find(' ', at);
    if (sp == std::string::npos) break;
    size_t len = std::stoul(wire.substr(at, sp - at));
    if (sp + 1 + len > wire.size()) break;
    out.push_back(wire.substr(sp + 1, len));
    at = sp + 1 + len;
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& wire) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t nl; (nl = wire.find('\n', at)) != std::string::npos; at = nl + 1) out.push_back(wire.substr(at, nl - at));
  return out;
}

// A TCP (or TLS) syslog receiver on 127.0.0.1 that keeps every byte of every connection.
class Listener {
 public:
  struct Tls {
    std::string cert, key;
  };
  explicit Listener(int port = 0, std::optional<Tls> tls = std::nullopt) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on port " << port;
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (tls) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      if (SSL_CTX_use_certificate_file(ctx_, tls->cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx_, tls->key.c_str(), SSL_FILETYPE_PEM) != 1) {
        ADD_FAILURE() << "cannot load the test certificate";
      }
    }
    if (::pipe(wake_) != 0) ADD_FAILURE() << "pipe";
    thread_ = std::thread([this] { Run(); });
  }
  ~Listener() {
    Stop();
    if (ctx_) SSL_CTX_free(ctx_);
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Closes the listening socket and every connection.
  void Stop() {
    if (!thread_.joinable()) return;
    char c = 0;
    (void)!::write(wake_[1], &c, 1);
    thread_.join();
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  size_t connections() {
    std::lock_guard lock(mu_);
    return received_.size();
  }

  // Waits (at most 10 s) until `done` holds for the bytes received so far, all connections in order.
  bool WaitFor(const std::function<bool(const std::string&)>& done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return done(AllLocked()); });
  }
  std::vector<std::string> WaitForFrames(size_t n) {
    WaitFor([&](const std::string& s) { return SplitOctetCounted(s).size() >= n; });
    std::lock_guard lock(mu_);
    return SplitOctetCounted(AllLocked());
  }

 private:
  struct Conn {
    int fd;
    SSL* ssl;
    size_t index;
  };

  std::string AllLocked() const {
    std::string all;
    for (const std::string& r : received_) all += r;
    return all;
  }

  void Run() {
    // OpenSSL writes (session tickets) to clients that already left; SIGPIPE stays pending here.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::vector<Conn> conns;
    for (;;) {
      std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
      for (const Conn& c : conns) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents) break;
      if (fds[1].revents & POLLIN) Accept(conns);
      for (size_t i = fds.size(); i-- > 2;) {
        if (!fds[i].revents) continue;
        Conn& c = conns[i - 2];
        char buf[65536];
        int n = c.ssl ? SSL_read(c.ssl, buf, sizeof buf) : static_cast<int>(::recv(c.fd, buf, sizeof buf, 0));
        if (n > 0) {
          std::lock_guard lock(mu_);
          received_[c.index].append(buf, static_cast<size_t>(n));
          cv_.notify_all();
        } else if (!c.ssl || SSL_get_error(c.ssl, n) != SSL_ERROR_WANT_READ) {
          Close(c);
          conns.erase(conns.begin() + static_cast<long>(i - 2));
        }
      }
    }
    for (Conn& c : conns) Close(c);
    ::close(fd_);
  }

  void Accept(std::vector<Conn>& conns) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    timeval five{5, 0};  // a client that stalls mid-handshake cannot hang the test
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    SSL* ssl = nullptr;
    if (ctx_) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ::close(fd);
        return;
      }
    }
    std::lock_guard lock(mu_);
    received_.emplace_back();
    conns.push_back({fd, ssl, received_.size() - 1});
  }

  static void Close(Conn& c) {
    if (c.ssl) SSL_free(c.ssl);
    ::close(c.fd);
  }

  int fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  SSL_CTX* ctx_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> received_;  // per accepted connection
};

void ExpectCarries(const std::string& message, const StreamRecord& record) {
  auto m = Parse5424(message);
  ASSERT_TRUE(m.has_value()) << "not RFC 5424: " << message.substr(0, 200);
  EXPECT_EQ(m->pri, 16 * 8 + 6);
  EXPECT_EQ(m->timestamp, "2024-05-17T13:04:05.123456Z");
  EXPECT_EQ(m->app_name, "ward");
  EXPECT_EQ(m->msgid, "DeviceProcessEvents");
  EXPECT_EQ(m->sd, R"([ward@32473 tenantId="tenant-1" deviceId="device-1"])");
  EXPECT_EQ(m->msg, record.json);
}

// Delivers a batch, restarts the receiver on the same port and expects the next batch to go
// through at once: the closed connection is noticed before writing, not by a failed delivery.
void ExpectReconnectsAfterRestart(Sink& sink, std::unique_ptr<Listener>& listener, std::optional<Listener::Tls> tls) {
  std::vector<StreamRecord> first = {Event(0)}, second = {Event(1)};
  std::vector<Rejection> rejected;
  ASSERT_TRUE(sink.Deliver(first, &rejected).ok());
  const int port = listener->port();
  listener.reset();  // closes its connection
  listener = std::make_unique<Listener>(port, tls);
  Status st = sink.Deliver(second, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  auto frames = listener->WaitForFrames(1);
  ASSERT_EQ(frames.size(), 1u);
  ExpectCarries(frames[0], second[0]);
}

// --- Settings ------------------------------------------------------------------------------------

Status Check(const std::string& json) { return SyslogDestination().validate(Settings(json)); }

TEST(SyslogSettingsTest, NamesTheOffendingKey) {
  auto error = [](const std::string& json) { return Check(json).message(); };
  EXPECT_EQ(error(R"({"name":"s"})"), "address is missing");
  EXPECT_EQ(error(R"({"address":"::1:514"})"), "address: an IPv6 address goes in brackets, [::1]:6514");
  EXPECT_EQ(error(R"({"address":"[::1"})"), "address must be host:port or [ipv6]:port");
  EXPECT_EQ(error(R"({"address":"siem:70000"})"), "address port must be 1 to 65535");
  EXPECT_EQ(error(R"({"address":"siem:5x"})"), "address must be host:port or [ipv6]:port");
  EXPECT_EQ(error(R"({"address":"siem:514","protocol":"sctp"})"), "protocol must be one of udp, tcp, tls");
  EXPECT_EQ(error(R"({"address":"siem:514","framing":"lf"})"), "framing must be one of octet-counting, newline");
  EXPECT_EQ(error(R"({"address":"siem:514","format":"leef"})"), "format must be one of json, cef");
  EXPECT_EQ(error(R"({"address":"siem:514","facility":24})"), "facility must be an integer from 0 to 23");
  EXPECT_EQ(error(R"({"address":"siem:514","appName":"my app"})"), "appName must be 1 to 48 printable ASCII characters, no spaces");
  EXPECT_EQ(error(R"({"address":"siem:514","hostname":"a b"})"), "hostname must be 1 to 255 printable ASCII characters, no spaces");
  EXPECT_EQ(error(R"({"address":"siem:6514","protocol":"tls","pinSha256":"abc"})"), "pinSha256 must be the 64 hex digits of a SHA-256");
  EXPECT_EQ(error(R"({"address":"siem:514","timeoutMs":5})"), "timeoutMs must be an integer from 100 to 600000");
  EXPECT_EQ(error(R"({"address":"siem:514","protocol":"udp","maxMessageBytes":70000})"),
            "maxMessageBytes must be an integer from 480 to 65507");
}

TEST(SyslogSettingsTest, AcceptsFullSettingsAndIsRegistered) {
  EXPECT_TRUE(Check(R"({"address":"[::1]:6514","protocol":"TLS","framing":"newline","format":"cef","facility":0,)"
                    R"("appName":"ward-eu","hostname":"ward01.example","caFile":"/etc/ssl/siem.pem",)"
                    R"("pinSha256":")" + std::string(64, 'A') + R"(","serverName":"siem.example","timeoutMs":2000})")
                  .ok());
  EXPECT_TRUE(Check(R"({"address":"siem.example","protocol":"tcp","maxMessageBytes":70000})").ok());
  ASSERT_EQ(FindDestinationType("syslog"), &SyslogDestination());
  EXPECT_EQ(ValidateDestinations(Settings(R"([{"name":"siem","type":"Syslog"}])")).message(),
            "destinations[0].address is missing");
  // Building a sink connects nowhere: an unreachable receiver is a delivery error, later.
  EXPECT_NE(MakeSink(R"({"address":"192.0.2.1:514"})"), nullptr);
}

// --- Messages ------------------------------------------------------------------------------------

TEST(SyslogMessageTest, EventIsInformationalWithTableAndIds) {
  StreamRecord r = Event(1);
  SyslogFormat f;
  f.hostname = "web01";
  auto m = FormatSyslogMessage(r, f);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, R"(<134>1 2024-05-17T13:04:05.123456Z web01 ward - DeviceProcessEvents [ward@32473 tenantId="tenant-1" deviceId="device-1"] )" + r.json);
}

TEST(SyslogMessageTest, EscapesStructuredDataAndLeavesOutEmptyParams) {
  StreamRecord r = Event(1);
  r.tenant_id = R"(a"b]c\d)";
  r.device_id = "";
  SyslogFormat f;
  f.facility = 1;
  f.app_name = "w";
  auto m = FormatSyslogMessage(r, f);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, R"(<14>1 2024-05-17T13:04:05.123456Z - w - DeviceProcessEvents [ward@32473 tenantId="a\"b\]c\\d"] )" + r.json);
  r.tenant_id = "";
  EXPECT_EQ(*FormatSyslogMessage(r, f), "<14>1 2024-05-17T13:04:05.123456Z - w - DeviceProcessEvents - " + r.json);
}

TEST(SyslogMessageTest, AlertsTakeTheirSeverityAndBecomeCefWhenAsked) {
  StreamRecord r;
  r.table_name = "AlertInfo";
  r.tenant_id = "tenant-1";
  r.time_ticks = kTime;
  r.json = R"({"time":"2024-05-17T13:04:05.1234567Z","properties":{"AlertId":"wa1","Title":"Shell","Severity":"High"}})";
  SyslogFormat f;
  f.facility = 23;
  f.hostname = "ward01";
  const std::string head = R"(<186>1 2024-05-17T13:04:05.123456Z ward01 ward - AlertInfo [ward@32473 tenantId="tenant-1"] )";
  EXPECT_EQ(*FormatSyslogMessage(r, f), head + r.json);
  f.cef = true;
  EXPECT_EQ(*FormatSyslogMessage(r, f), head + *cef::FormatAlert(r));
  EXPECT_TRUE(FormatSyslogMessage(r, f)->ends_with("|Shell|Shell|8|rt=1715951045123 externalId=wa1"));
  // Other tables stay JSON under format cef.
  StreamRecord e = Event(2);
  EXPECT_TRUE(FormatSyslogMessage(e, f)->ends_with(" " + e.json));
  r.json = "{";
  EXPECT_EQ(FormatSyslogMessage(r, f).error().code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(SyslogSeverityOf("High"), 2);
  EXPECT_EQ(SyslogSeverityOf("medium"), 3);
  EXPECT_EQ(SyslogSeverityOf("Low"), 4);
  EXPECT_EQ(SyslogSeverityOf("Informational"), 5);
  EXPECT_EQ(SyslogSeverityOf(""), 4);
}

// --- UDP -----------------------------------------------------------------------------------------

TEST(SyslogUdpTest, OneDatagramPerRecordAndOversizeRejected) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int big = 1 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  timeval five{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);

  auto sink = MakeSink(R"({"address":"127.0.0.1:)" + std::to_string(ntohs(a.sin_port)) + R"(","protocol":"udp"})");
  ASSERT_NE(sink, nullptr);
  // 66,000 bytes of padding is over the default maxMessageBytes (65,000).
  std::vector<StreamRecord> batch = {Event(0), Event(1, 66'000), Event(2), Event(3, 60'000)};
  std::vector<Rejection> rejected;
  ASSERT_TRUE(sink->Deliver(batch, &rejected).ok());
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].index, 1u);
  EXPECT_NE(rejected[0].reason.find("exceeds maxMessageBytes (65000)"), std::string::npos) << rejected[0].reason;

  std::vector<char> buf(70'000);
  for (int n : {0, 2, 3}) {
    ssize_t got = ::recv(fd, buf.data(), buf.size(), 0);
    ASSERT_GT(got, 0) << "datagram for record " << n;
    ExpectCarries(std::string(buf.data(), static_cast<size_t>(got)), batch[static_cast<size_t>(n)]);
  }
  ::close(fd);
}

// --- TCP -----------------------------------------------------------------------------------------

TEST(SyslogTcpTest, OctetCountedOnOneKeptConnection) {
  Listener listener;
  auto sink = MakeSink(R"({"address":")" + listener.address() + R"("})");
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> first = {Event(0), Event(1)}, second = {Event(2, 10'000)};
  std::vector<Rejection> rejected;
  ASSERT_TRUE(sink->Deliver(first, &rejected).ok());
  ASSERT_TRUE(sink->Deliver(second, &rejected).ok());
  EXPECT_TRUE(rejected.empty());
  auto frames = listener.WaitForFrames(3);
  ASSERT_EQ(frames.size(), 3u);
  ExpectCarries(frames[0], first[0]);
  ExpectCarries(frames[1], first[1]);
  ExpectCarries(frames[2], second[0]);
  EXPECT_EQ(listener.connections(), 1u);
}

TEST(SyslogTcpTest, NewlineFraming) {
  Listener listener;
  auto sink = MakeSink(R"({"address":")" + listener.address() + R"(","protocol":"tcp","framing":"newline"})");
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> batch = {Event(0), Event(1), Event(2)};
  std::vector<Rejection> rejected;
  ASSERT_TRUE(sink->Deliver(batch, &rejected).ok());
  std::vector<std::string> lines;
  listener.WaitFor([&](const std::string& s) { return (lines = SplitLines(s)).size() >= 3; });
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 0; i < 3; ++i) ExpectCarries(lines[i], batch[i]);
}

TEST(SyslogTcpTest, ReceiverGoneIsAnErrorAndTheRetryReachesItWhenBack) {
  auto listener = std::make_unique<Listener>();
  const int port = listener->port();
  auto sink = MakeSink(R"({"address":")" + listener->address() + R"(","timeoutMs":2000})");
  ASSERT_NE(sink, nullptr);
  std::vector<Rejection> rejected;
  std::vector<StreamRecord> first = {Event(0)}, second = {Event(1), Event(2)};
  ASSERT_TRUE(sink->Deliver(first, &rejected).ok());
  ASSERT_EQ(listener->WaitForFrames(1).size(), 1u);

  listener.reset();  // the listening socket and the connection are closed
  Status down = sink->Deliver(second, &rejected);
  EXPECT_FALSE(down.ok());
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.message();

  Listener back(port);
  ASSERT_EQ(back.port(), port);
  Status retried = sink->Deliver(second, &rejected);
  ASSERT_TRUE(retried.ok()) << retried.message();
  auto frames = back.WaitForFrames(2);
  ASSERT_EQ(frames.size(), 2u);
  ExpectCarries(frames[0], second[0]);
  ExpectCarries(frames[1], second[1]);
  EXPECT_TRUE(rejected.empty());
}

TEST(SyslogTcpTest, ReceiverRestartedBetweenBatchesIsReconnected) {
  auto listener = std::make_unique<Listener>();
  auto sink = MakeSink(R"({"address":")" + listener->address() + R"("})");
  ASSERT_NE(sink, nullptr);
  ExpectReconnectsAfterRestart(*sink, listener, std::nullopt);
}

TEST(SyslogTcpTest, ReceiverThatStopsReadingTimesOut) {
  // Accepts connections (the kernel does) but never reads, with a tiny window: the bytes are never
  // all acknowledged, so Deliver must fail rather than report them delivered.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto sink = MakeSink(R"({"address":"127.0.0.1:)" + std::to_string(ntohs(a.sin_port)) + R"(","timeoutMs":300})");
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> batch;
  // 300 kB fit in this side's socket buffer, so the write completes and only the missing
  // acknowledgements can tell that the receiver does not have them.
  for (int i = 0; i < 5; ++i) batch.push_back(Event(i, 60000));
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(batch, &rejected);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("timed out"), std::string::npos) << st.message();
  ::close(fd);
}

// --- TLS -----------------------------------------------------------------------------------------

class SyslogTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(http::GenerateSelfSignedCertificate(cert_, key_, {"localhost", "127.0.0.1"}).ok());
    listener_ = std::make_unique<Listener>(0, Listener::Tls{cert_, key_});
  }
  std::string Settings(const std::string& extra) const {
    return R"({"address":")" + listener_->address() + R"(","protocol":"tls","timeoutMs":5000,)" + extra + "}";
  }

  test::TempDir dir_{"ward-syslog-tls"};
  std::string cert_ = dir_.File("cert.pem"), key_ = dir_.File("key.pem");
  std::unique_ptr<Listener> listener_;
};

TEST_F(SyslogTlsTest, PinnedCertificateDelivers) {
  auto sink = MakeSink(Settings(R"("pinSha256":")" + http::PemCertificateSha256(cert_) + R"(")"));
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> first = {Event(0), Event(1)}, second = {Event(2)};
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(first, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  st = sink->Deliver(second, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  auto frames = listener_->WaitForFrames(3);
  ASSERT_EQ(frames.size(), 3u);
  ExpectCarries(frames[0], first[0]);
  ExpectCarries(frames[1], first[1]);
  ExpectCarries(frames[2], second[0]);
  EXPECT_EQ(listener_->connections(), 1u);
}

TEST_F(SyslogTlsTest, ReceiverRestartedBetweenBatchesIsReconnected) {
  auto sink = MakeSink(Settings(R"("pinSha256":")" + http::PemCertificateSha256(cert_) + R"(")"));
  ASSERT_NE(sink, nullptr);
  ExpectReconnectsAfterRestart(*sink, listener_, Listener::Tls{cert_, key_});
}

TEST_F(SyslogTlsTest, PinMismatchIsAnError) {
  auto sink = MakeSink(Settings(R"("pinSha256":")" + std::string(64, '0') + R"(")"));
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> batch = {Event(0)};
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(batch, &rejected);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("does not match pinSha256"), std::string::npos) << st.message();
  EXPECT_TRUE(rejected.empty());
}

TEST_F(SyslogTlsTest, CaFileAndServerNameAreVerified) {
  std::vector<StreamRecord> batch = {Event(0)};
  std::vector<Rejection> rejected;
  auto good = MakeSink(Settings(R"("caFile":")" + cert_ + R"(","serverName":"localhost")"));
  ASSERT_NE(good, nullptr);
  Status st = good->Deliver(batch, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  ExpectCarries(listener_->WaitForFrames(1).at(0), batch[0]);

  auto wrong_name = MakeSink(Settings(R"("caFile":")" + cert_ + R"(","serverName":"siem.example")"));
  ASSERT_NE(wrong_name, nullptr);
  st = wrong_name->Deliver(batch, &rejected);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("TLS handshake"), std::string::npos) << st.message();

  // Without caFile the system CAs do not know a self-signed certificate.
  auto untrusted = MakeSink(Settings(R"("serverName":"localhost")"));
  ASSERT_NE(untrusted, nullptr);
  EXPECT_FALSE(untrusted->Deliver(batch, &rejected).ok());
}

}  // namespace
}  // namespace ward::stream
