// Uploader and HTTP client against the fake server on 127.0.0.1.
#include "sensor/uploader.h"

#include <gtest/gtest.h>

#include <set>

#include "http/client.h"
#include "sensor/batcher.h"
#include "sensor/fake_server.h"

namespace ward::sensor {
namespace {

using namespace std::chrono_literals;
using testing::FakeServer;
using testing::TempDir;

std::unique_ptr<DiskQueue> OpenQueue(const std::string& dir) {
  DiskQueueOptions o;
  o.dir = dir;
  o.fsync = false;
  return std::move(*DiskQueue::Open(o));
}

std::string Ndjson(int first, int n, const std::string& extra = "") {
  std::string out;
  for (int i = first; i < first + n; ++i) {
    json::Value ev = NewEvent(kProcessTable, "ProcessCreated");
    ev.AppendMember("ProcessId", json::Value(static_cast<int64_t>(i)));
    if (!extra.empty()) ev.AppendMember("ProcessCommandLine", json::Value(extra));
    out += ev.Serialize() + "\n";
  }
  return out;
}

UploaderOptions FastOptions(const std::string& state_dir, const FakeServer& server) {
  UploaderOptions o;
  o.state_dir = state_dir;
  o.onboarding = *ParseOnboarding(server.OnboardingScript());
  o.device_facts = [] {
    DeviceFacts f;
    f.host_id = "0123456789abcdef0123";
    f.computer_dns_name = "test-01.corp.local";
    return f;
  };
  o.initial_backoff = 20ms;
  o.max_backoff = 200ms;
  o.peek_wait = 50ms;
  o.rotate_every = std::chrono::seconds(0);
  return o;
}

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(UploaderTest, RetriesServerErrorsWithTheSameBatchIdAndLosesNothing) {
  FakeServer server;
  server.Start();
  TempDir dir;
  auto queue = OpenQueue(dir.File("queue"));
  for (int b = 0; b < 5; ++b) {
    ASSERT_TRUE(queue->Append("batch-" + std::to_string(b), 100, ZstdCompress(Ndjson(b * 100, 100))).ok());
  }
  server.fail_events_next = 3;
  Uploader up(queue.get(), FastOptions(dir.path(), server), std::nullopt);
  up.Start();
  ASSERT_TRUE(up.WaitDrained(10s));
  up.Stop();

  EXPECT_EQ(server.enrollments(), 1);
  auto attempts = server.EventBatchAttempts();
  // The first batch was tried 4 times (3 failures + success), always with the same id.
  ASSERT_GE(attempts.size(), 8u);
  EXPECT_EQ(attempts[0], "batch-0");
  EXPECT_EQ(attempts[1], "batch-0");
  EXPECT_EQ(attempts[2], "batch-0");
  EXPECT_EQ(attempts[3], "batch-0");
  EXPECT_EQ(attempts[4], "batch-1");
  auto batches = server.Batches();
  ASSERT_EQ(batches.size(), 5u);
  std::set<int64_t> pids;
  for (const auto& b : batches) {
    EXPECT_EQ(b.encoding, "zstd");
    for (const auto& e : b.events) pids.insert(e.GetInt("ProcessId").value_or(-1));
  }
  EXPECT_EQ(pids.size(), 500u);  // everything arrived, once
  UploaderStats s = up.stats();
  EXPECT_EQ(s.events_accepted, 500u);
  EXPECT_EQ(s.retries, 3u);
  EXPECT_EQ(queue->Stats().pending_events, 0u);
  // The identity was persisted for the next start.
  auto id = LoadIdentity(dir.path());
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->credential, server.Credential(id->device_id));
}

TEST(UploaderTest, ZstdBodyDecodesToNdjson) {
  FakeServer server;
  server.Start();
  TempDir dir;
  auto queue = OpenQueue(dir.File("queue"));
  std::string body = Ndjson(1, 3, "echo \"quoted\" \u00e9");
  ASSERT_TRUE(queue->Append("one", 3, ZstdCompress(body)).ok());
  Uploader up(queue.get(), FastOptions(dir.path(), server), std::nullopt);
  up.Start();
  ASSERT_TRUE(up.WaitDrained(10s));
  up.Stop();
  auto batches = server.Batches();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].body, body);
  EXPECT_EQ(batches[0].events.size(), 3u);
}

TEST(UploaderTest, RejectedEventsAreCountedNotRetried) {
  FakeServer server;
  server.Start();
  TempDir dir;
  auto queue = OpenQueue(dir.File("queue"));
  std::string body = Ndjson(1, 4) + Ndjson(5, 2, "reject-me");
  ASSERT_TRUE(queue->Append("mixed", 6, ZstdCompress(body)).ok());
  Uploader up(queue.get(), FastOptions(dir.path(), server), std::nullopt);
  up.Start();
  ASSERT_TRUE(up.WaitDrained(10s));
  up.Stop();
  EXPECT_EQ(server.EventBatchAttempts().size(), 1u);
  EXPECT_EQ(up.stats().events_accepted, 4u);
  EXPECT_EQ(up.stats().events_rejected, 2u);
  EXPECT_EQ(queue->Stats().dropped["rejected_by_server"], 2u);
}

TEST(UploaderTest, UnauthorizedKeepsQueueingAndDoesNotReenroll) {
  FakeServer server;
  server.Start();
  TempDir dir;
  auto queue = OpenQueue(dir.File("queue"));
  Identity id;
  id.device_id = "00000000000000000000000000000000deadbeef";
  id.credential = "revoked";
  id.server_url = server.Url();
  id.tenant_id = "org-test";
  Uploader up(queue.get(), FastOptions(dir.path(), server), id);
  up.Start();
  ASSERT_TRUE(queue->Append("b", 2, ZstdCompress(Ndjson(1, 2))).ok());
  ASSERT_TRUE(WaitUntil([&] { return up.stats().auth_failures >= 2; }));
  ASSERT_TRUE(queue->Append("c", 2, ZstdCompress(Ndjson(3, 2))).ok());
  up.Stop();
  EXPECT_EQ(server.enrollments(), 0);
  EXPECT_TRUE(server.Batches().empty());
  EXPECT_EQ(queue->Stats().pending_events, 4u);  // kept for when the operator fixes the credential
}

TEST(UploaderTest, HeartbeatCarriesQueueStatsAndRotationPersists) {
  FakeServer server;
  server.heartbeat_seconds = 1;
  server.Start();
  TempDir dir;
  auto queue = OpenQueue(dir.File("queue"));
  queue->CountDropped("queue_full", 7);
  UploaderOptions o = FastOptions(dir.path(), server);
  o.rotate_every = std::chrono::seconds(1);
  o.ip_addresses = [] { return std::vector<std::string>{"10.0.0.5"}; };
  Uploader up(queue.get(), o, std::nullopt);
  up.Start();
  ASSERT_TRUE(WaitUntil([&] { return server.heartbeats() >= 2 && server.rotations() >= 1; }));
  ASSERT_TRUE(queue->Append("after-rotation", 1, ZstdCompress(Ndjson(1, 1))).ok());
  ASSERT_TRUE(up.WaitDrained(10s));
  up.Stop();
  json::Value hb = server.LastHeartbeat();
  EXPECT_EQ(hb.GetString("sensorVersion").value_or(""), "0.1.0");
  ASSERT_TRUE(hb.Find("queue"));
  EXPECT_EQ(hb.Find("queue")->Find("droppedEvents")->GetInt("queue_full").value_or(0), 7);
  EXPECT_TRUE(hb.Find("queue")->Find("pendingEvents")->is_int());
  EXPECT_EQ(hb.Find("ipAddresses")->items().size(), 1u);
  // The stored credential is the rotated one, which the server accepts.
  auto id = LoadIdentity(dir.path());
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->credential, server.Credential(id->device_id));
  EXPECT_EQ(server.Batches().size(), 1u);
}

TEST(UploaderTest, BackoffGrowsWithJitterAndCaps) {
  std::mt19937_64 rng(1);
  for (int attempt = 0; attempt < 12; ++attempt) {
    auto d = RetryBackoff(attempt, 1000ms, 60000ms, rng);
    int64_t full = std::min<int64_t>(1000LL << attempt, 60000);
    EXPECT_GE(d.count(), full / 2);
    EXPECT_LE(d.count(), full);
  }
  EXPECT_LE(RetryBackoff(100, 1000ms, 60000ms, rng).count(), 60000);
}

// ---- http client ----

TEST(HttpClientTest, ParsesUrls) {
  auto u = http::ParseUrl("https://Ward.Example:8443/sensor/v1/events?x=1#frag");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "ward.example");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->target, "/sensor/v1/events?x=1");
  auto v = http::ParseUrl("http://[::1]");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->host, "::1");
  EXPECT_EQ(v->port, "80");
  EXPECT_EQ(v->target, "/");
  EXPECT_FALSE(http::ParseUrl("ftp://x/").has_value());
  EXPECT_FALSE(http::ParseUrl("http://user:pw@x/").has_value());
  EXPECT_FALSE(http::ParseUrl("http://x:99999/").has_value());
  EXPECT_FALSE(http::ParseUrl("http:///path").has_value());
}

TEST(HttpClientTest, KeepAliveReusesOneConnection) {
  std::atomic<int> requests{0};
  http::ServerOptions so;
  so.threads = 1;
  http::Server server(
      so,
      [&](http::Request& req, http::Response& res) {
        ++requests;
        res.Set(200, "text/plain", req.method + " " + req.target + " " + req.body);
      },
      [](int status, std::string_view, std::string_view, const http::Request&, http::Response& res) {
        res.Set(status, "text/plain", "err");
      });
  auto port = server.Start();
  ASSERT_TRUE(port.has_value());
  http::Client client;
  for (int i = 0; i < 5; ++i) {
    http::ClientRequest req;
    req.method = i % 2 ? "POST" : "GET";
    req.url = "http://127.0.0.1:" + std::to_string(*port) + "/p/" + std::to_string(i);
    req.body = i % 2 ? "body" : "";
    auto res = client.Send(req);
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, req.method + " /p/" + std::to_string(i) + " " + req.body);
    EXPECT_EQ(res->headers.Get("Content-Type"), "text/plain");
  }
  EXPECT_EQ(requests.load(), 5);
  // The server restarting (closing kept-alive connections) is survived transparently.
  server.Stop();
  http::Server server2(
      [&] {
        http::ServerOptions o = so;
        o.port = *port;
        return o;
      }(),
      [&](http::Request&, http::Response& res) { res.Set(204, "text/plain", ""); },
      [](int status, std::string_view, std::string_view, const http::Request&, http::Response& res) {
        res.Set(status, "text/plain", "err");
      });
  if (!server2.Start()) GTEST_SKIP() << "port reuse not possible";
  http::ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(*port) + "/again";
  auto res = client.Send(req);
  ASSERT_TRUE(res.has_value()) << res.error().message();
  EXPECT_EQ(res->status, 204);
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  http::ServerOptions so;
  http::Server s(so, [](http::Request&, http::Response&) {}, {});
  auto port = s.Start();
  ASSERT_TRUE(port.has_value());
  s.Stop();
  http::ClientOptions o;
  o.connect_timeout = 2s;
  http::Client client(o);
  http::ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(*port) + "/";
  auto res = client.Send(req);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), StatusCode::kUnavailable);
}

TEST(HttpClientTest, TlsPinning) {
  TempDir dir;
  FakeServer server;
  server.Start(dir.path());
  std::string pin = http::PemCertificateSha256(server.cert_file());
  ASSERT_EQ(pin.size(), 64u);
  http::ClientRequest req;
  req.method = "POST";
  req.url = server.Url() + "/sensor/v1/enroll";
  req.body = "{}";
  {
    // Pinned: accepted although self-signed.
    http::ClientOptions o;
    o.pin_sha256 = pin;
    http::Client client(o);
    auto res = client.Send(req);
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 400);
  }
  {
    // Wrong pin: refused before any request is sent.
    http::ClientOptions o;
    o.pin_sha256 = std::string(64, '0');
    http::Client client(o);
    auto res = client.Send(req);
    ASSERT_FALSE(res.has_value());
    EXPECT_NE(res.error().message().find("pinned"), std::string::npos);
  }
  {
    // No pin: normal verification rejects the self-signed certificate...
    http::Client client;
    EXPECT_FALSE(client.Send(req).has_value());
  }
  {
    // ...unless it is the trust anchor (it is its own CA), and the host name matches.
    http::ClientOptions o;
    o.ca_file = server.cert_file();
    http::Client client(o);
    auto res = client.Send(req);
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 400);
  }
}

TEST(UploaderTest, WorksOverPinnedTls) {
  TempDir dir;
  FakeServer server;
  server.Start(dir.path());
  std::string pin = http::PemCertificateSha256(server.cert_file());
  auto queue = OpenQueue(dir.File("queue"));
  ASSERT_TRUE(queue->Append("tls-batch", 2, ZstdCompress(Ndjson(1, 2))).ok());
  UploaderOptions o = FastOptions(dir.path(), server);
  o.onboarding = *ParseOnboarding(server.OnboardingScript(pin));
  Uploader up(queue.get(), o, std::nullopt);
  up.Start();
  ASSERT_TRUE(up.WaitDrained(10s));
  up.Stop();
  ASSERT_EQ(server.Batches().size(), 1u);
  EXPECT_EQ(LoadIdentity(dir.path())->server_cert_sha256, pin);
}

}  // namespace
}  // namespace ward::sensor
