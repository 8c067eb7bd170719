// Talks to a real Server over loopback with a small blocking POSIX-socket client (and OpenSSL for TLS).
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include "common/temp_dir.h"

namespace ward::http {
namespace {

using namespace std::chrono_literals;

struct ParsedResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses one response from the front of `buf` if complete; consumes it.
std::optional<ParsedResponse> TakeResponse(std::string& buf, bool head_request) {
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  ParsedResponse r;
  std::string head = buf.substr(0, end);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
  r.status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[Lower(line.substr(0, colon))] = value;
    }
    pos = next + 2;
  }
  size_t length = 0;
  if (!head_request && r.headers.count("content-length")) length = std::stoul(r.headers["content-length"]);
  if (buf.size() < end + 4 + length) return std::nullopt;
  r.body = buf.substr(end + 4, length);
  buf.erase(0, end + 4 + length);
  return r;
}

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until one full response is buffered; nullopt on EOF, error or timeout.
  std::optional<ParsedResponse> Read(bool head_request = false) {
    for (;;) {
      if (auto r = TakeResponse(buf_, head_request)) return r;
      if (!Fill()) return std::nullopt;
    }
  }

  std::optional<ParsedResponse> Roundtrip(std::string_view request) {
    if (!Send(request)) return std::nullopt;
    return Read();
  }

  // True when the server closes the connection (after any buffered data) within the receive timeout.
  bool WaitClosed() {
    buf_.clear();
    for (;;) {
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

  std::string& buffer() { return buf_; }
  bool Fill() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

void RenderError(int status, std::string_view code, std::string_view message, const Request&, Response& res) {
  res.Set(status, "application/json",
          "{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"" + std::string(message) + "\"}}");
}

// Echoes request details so tests can check what the server filled in.
void Echo(Request& req, Response& res) {
  if (req.path == "/throw") throw std::runtime_error("boom");
  res.headers.Add("x-method", req.method);
  res.headers.Add("x-path", req.path);
  res.headers.Add("x-query", req.query);
  res.headers.Add("x-target", req.target);
  res.headers.Add("x-remote", req.remote_address);
  res.headers.Add("x-secure", req.secure ? "1" : "0");
  res.headers.Add("x-seen-header", std::string(req.headers.Get("x-test")));
  res.headers.Add("x-seen-id", req.request_id);
  res.Set(200, "text/plain", req.body.empty() ? "hello" : req.body);
}

class ServerTest : public ::testing::Test {
 protected:
  uint16_t StartServer(ServerOptions options = {}, Handler handler = Echo, CompletionHook hook = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    if (options.threads == 0) options.threads = 2;
    server_ = std::make_unique<Server>(options, std::move(handler), RenderError, std::move(hook));
    auto port = server_->Start();
    EXPECT_TRUE(port.has_value()) << (port ? "" : port.error().ToString());
    return port.value_or(0);
  }
  std::unique_ptr<Server> server_;
};

const std::regex kUuidV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  uint16_t port = StartServer();
  Client c(port);
  ASSERT_TRUE(c.connected());
  auto r1 = c.Roundtrip("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "hello");
  EXPECT_EQ(r1->Header("content-length"), "5");
  EXPECT_EQ(r1->Header("server"), "ward");
  EXPECT_EQ(r1->Header("connection"), "");
  EXPECT_FALSE(r1->Header("date").empty());
  std::string id1 = r1->Header("x-request-id");
  EXPECT_TRUE(std::regex_match(id1, kUuidV4)) << id1;
  EXPECT_EQ(r1->Header("x-seen-id"), id1);

  auto r2 = c.Roundtrip("GET /again HTTP/1.1\r\nHost: x\r\nx-request-id: client-chosen\r\n\r\n");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->Header("x-path"), "/again");
  std::string id2 = r2->Header("x-request-id");
  EXPECT_TRUE(std::regex_match(id2, kUuidV4)) << id2;  // always our own id
  EXPECT_NE(id1, id2);
}

TEST_F(ServerTest, FillsRequest) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip(
      "post /api/a%20b/c%2Fd?$filter=x+eq+'a%20b'&y=1 HTTP/1.1\r\nHost: x\r\nX-Test: value\r\n"
      "Content-Length: 4\r\n\r\nbody");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("x-method"), "POST");
  EXPECT_EQ(r->Header("x-path"), "/api/a b/c/d");
  EXPECT_EQ(r->Header("x-query"), "$filter=x+eq+'a%20b'&y=1");
  EXPECT_EQ(r->Header("x-target"), "/api/a%20b/c%2Fd?$filter=x+eq+'a%20b'&y=1");
  EXPECT_EQ(r->Header("x-remote"), "127.0.0.1");
  EXPECT_EQ(r->Header("x-secure"), "0");
  EXPECT_EQ(r->Header("x-seen-header"), "value");
  EXPECT_EQ(r->body, "body");
}

TEST_F(ServerTest, ChunkedRequestBody) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "abcde");
}

TEST_F(ServerTest, PipelinedRequestsAnsweredInOrder) {
  uint16_t port = StartServer();
  Client c(port);
  ASSERT_TRUE(c.Send(
      "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = c.Read();
  auto r2 = c.Read();
  auto r3 = c.Read();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->Header("x-path"), "/one");
  EXPECT_EQ(r2->Header("x-path"), "/two");
  EXPECT_EQ(r2->body, "abc");
  EXPECT_EQ(r3->Header("x-path"), "/three");
}

TEST_F(ServerTest, LargeResponseBody) {
  std::string big(1 << 20, 'x');
  uint16_t port = StartServer({}, [&](Request&, Response& res) { res.Set(200, "text/plain", big); });
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), big.size());
  EXPECT_EQ(r->body, big);
}

TEST_F(ServerTest, HeadOmitsBody) {
  uint16_t port = StartServer();
  Client c(port);
  ASSERT_TRUE(c.Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-length"), "5");
  // The connection is still usable and no stray body bytes precede the next response.
  auto r2 = c.Roundtrip("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->Header("x-path"), "/next");
}

TEST_F(ServerTest, NoContentHasNoLength) {
  uint16_t port = StartServer({}, [](Request&, Response& res) { res.status = 204; });
  Client c(port);
  auto r = c.Roundtrip("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->Header("content-length"), "");
}

TEST_F(ServerTest, Http10ClosesAfterResponse) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, Http10KeepAlive) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("connection"), "keep-alive");
  auto r2 = c.Roundtrip("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->Header("x-path"), "/2");
}

TEST_F(ServerTest, ConnectionCloseHonoured) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, HandlerMayRequestClose) {
  uint16_t port = StartServer({}, [](Request&, Response& res) {
    res.headers.Add("Connection", "close");
    res.Set(200, "text/plain", "bye");
  });
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, OversizedBodyIs413) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  uint16_t port = StartServer(o, [&](Request& req, Response& res) { ++calls; Echo(req, res); });
  Client c(port);
  ASSERT_TRUE(c.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(20000, 'a')));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("RequestTooLarge"), std::string::npos) << r->body;
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(std::regex_match(r->Header("x-request-id"), kUuidV4));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  ServerOptions o;
  o.max_body_bytes = 10;
  uint16_t port = StartServer(o);
  Client c(port);
  auto r = c.Roundtrip("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, BodyAtLimitAccepted) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  uint16_t port = StartServer(o);
  Client c(port);
  auto r = c.Roundtrip("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'b'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1024u);
}

TEST_F(ServerTest, HugeHeadersAre431) {
  uint16_t port = StartServer();  // default 16 KiB header limit
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'h') + "\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_NE(r->body.find("RequestHeaderFieldsTooLarge"), std::string::npos);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, MalformedRequestIs400) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip("THIS IS NOT HTTP\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("BadRequest"), std::string::npos);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, BadPercentEncodingInPathIs400) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("BadRequest"), std::string::npos);
}

TEST_F(ServerTest, HandlerExceptionIs500) {
  uint16_t port = StartServer();
  Client c(port);
  auto r = c.Roundtrip("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("InternalServerError"), std::string::npos);
  EXPECT_EQ(r->body.find("boom"), std::string::npos);  // internals are not leaked
  // The connection survives a handler failure.
  auto r2 = c.Roundtrip("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
}

TEST_F(ServerTest, HandlerHeadersCannotSplitResponse) {
  uint16_t port = StartServer({}, [](Request&, Response& res) {
    res.headers.Add("X-Evil", "a\r\nSet-Cookie: x=1");
    res.headers.Add("Content-Length", "999");
    res.headers.Add("X-Fine", "ok");
    res.Set(200, "text/plain", "abc");
  });
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("set-cookie"), "");
  EXPECT_EQ(r->Header("x-evil"), "");
  EXPECT_EQ(r->Header("x-fine"), "ok");
  EXPECT_EQ(r->Header("content-length"), "3");
  EXPECT_EQ(r->body, "abc");
}

TEST_F(ServerTest, ReadTimeoutIs408) {
  ServerOptions o;
  o.read_timeout = 1s;
  uint16_t port = StartServer(o);
  Client c(port);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finished
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_NE(r->body.find("RequestTimeout"), std::string::npos);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedSilently) {
  ServerOptions o;
  o.idle_timeout = 1s;
  uint16_t port = StartServer(o);
  Client c(port);
  auto r = c.Roundtrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(c.buffer().empty());
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(ServerTest, Expect100Continue) {
  uint16_t port = StartServer();
  Client c(port);
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  while (c.buffer().find("\r\n\r\n") == std::string::npos) ASSERT_TRUE(c.Fill());
  EXPECT_EQ(c.buffer(), "HTTP/1.1 100 Continue\r\n\r\n");
  c.buffer().clear();
  ASSERT_TRUE(c.Send("12345"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "12345");
}

TEST_F(ServerTest, CompletionHookSeesEveryResponse) {
  std::mutex mu;
  std::vector<std::pair<std::string, int>> seen;
  std::atomic<int> count{0};
  ServerOptions o;
  o.max_body_bytes = 4;
  uint16_t port = StartServer(o, Echo, [&](const Request& req, const Response& res, std::chrono::nanoseconds elapsed) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_GE(elapsed.count(), 0);
    seen.emplace_back(req.path, res.status);
    ++count;
  });
  {
    Client c(port);
    ASSERT_TRUE(c.Roundtrip("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(c.Roundtrip("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"));
  }
  for (int i = 0; i < 200 && count.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<std::string, int>{"/a", 200}));
  EXPECT_EQ(seen[1], (std::pair<std::string, int>{"/b", 413}));  // partial request reaches the hook too
}

TEST_F(ServerTest, ManyConcurrentConnections) {
  ServerOptions o;
  o.threads = 4;
  uint16_t port = StartServer(o);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Client c(port);
      for (int i = 0; i < 50; ++i) {
        std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto r = c.Roundtrip("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
        if (r && r->status == 200 && r->Header("x-path") == path) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8 * 50);
}

TEST_F(ServerTest, StopClosesConnectionsAndIsIdempotent) {
  uint16_t port = StartServer();
  Client c(port);
  ASSERT_TRUE(c.Roundtrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  server_->Stop();
  EXPECT_TRUE(c.WaitClosed());
  server_->Stop();
  Client refused(port);
  EXPECT_FALSE(refused.connected());
  // A stopped server can be started again.
  auto again = server_->Start();
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  Client c2(*again);
  auto r = c2.Roundtrip("GET /back HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("x-path"), "/back");
}

TEST_F(ServerTest, PortInUseIsAnError) {
  uint16_t port = StartServer();
  ServerOptions o;
  o.address = "127.0.0.1";
  o.port = port;
  Server second(o, Echo, RenderError);
  auto r = second.Start();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("bind"), std::string::npos) << r.error().ToString();
}

TEST_F(ServerTest, InvalidAddressIsAnError) {
  ServerOptions o;
  o.address = "not-an-ip";
  Server s(o, Echo, RenderError);
  auto r = s.Start();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServerTest, StartTwiceFails) {
  StartServer();
  EXPECT_FALSE(server_->Start().has_value());
}

// ---- TLS ----

// Test directories (tests/common/temp_dir.h), named for this suite.
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("ward_http_test") {}
};

// One HTTPS exchange with certificate verification against `ca_file` for IP 127.0.0.1.
std::string TlsGet(uint16_t port, const std::string& ca_file, const std::string& request, long* verify_result) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return "";
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) return "";
  Client tcp(port);
  if (!tcp.connected()) return "";
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), "127.0.0.1");
  SSL_set_fd(ssl.get(), tcp.fd());
  if (SSL_connect(ssl.get()) != 1) {
    *verify_result = SSL_get_verify_result(ssl.get());
    return "";
  }
  *verify_result = SSL_get_verify_result(ssl.get());
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    int n = SSL_read(ssl.get(), buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (auto r = TakeResponse(out, false)) {
      // Re-serialise minimal info for the caller.
      std::string result = std::to_string(r->status) + "\n" + r->Header("x-secure") + "\n" + r->body;
      SSL_shutdown(ssl.get());
      return result;
    }
  }
  return "";
}

TEST(TlsTest, SelfSignedCertificateServesHttps) {
  TempDir dir;
  std::string cert = dir.File("cert.pem");
  std::string key = dir.File("key.pem");
  Status st = GenerateSelfSignedCertificate(cert, key, {"localhost", "127.0.0.1", "::1"}, 30);
  ASSERT_TRUE(st.ok()) << st.ToString();
  struct stat sb{};
  ASSERT_EQ(::stat(key.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600);

  ServerOptions o;
  o.address = "127.0.0.1";
  o.threads = 2;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  Server server(o, Echo, RenderError);
  EXPECT_TRUE(server.secure());
  auto port = server.Start();
  ASSERT_TRUE(port.has_value()) << port.error().ToString();

  long verify = -1;
  std::string result = TlsGet(*port, cert, "GET /secure HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &verify);
  EXPECT_EQ(verify, X509_V_OK) << X509_verify_cert_error_string(verify);
  EXPECT_EQ(result, "200\n1\nhello");

  // A plain-HTTP client on the TLS port gets no HTTP response.
  Client plain(*port);
  ASSERT_TRUE(plain.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(plain.Read().has_value());
}

TEST(TlsTest, MissingCertificateFailsStart) {
  TempDir dir;
  ServerOptions o;
  o.address = "127.0.0.1";
  o.tls_cert_file = dir.File("missing-cert.pem");
  o.tls_key_file = dir.File("missing-key.pem");
  Server server(o, Echo, RenderError);
  auto r = server.Start();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("TLS"), std::string::npos) << r.error().ToString();
}

TEST(TlsTest, MismatchedKeyFailsStart) {
  TempDir dir;
  ASSERT_TRUE(GenerateSelfSignedCertificate(dir.File("a.pem"), dir.File("a.key"), {"localhost"}).ok());
  ASSERT_TRUE(GenerateSelfSignedCertificate(dir.File("b.pem"), dir.File("b.key"), {"localhost"}).ok());
  ServerOptions o;
  o.address = "127.0.0.1";
  o.tls_cert_file = dir.File("a.pem");
  o.tls_key_file = dir.File("b.key");
  Server server(o, Echo, RenderError);
  EXPECT_FALSE(server.Start().has_value());
}

TEST(TlsTest, OnlyOneTlsFileIsAnError) {
  ServerOptions o;
  o.address = "127.0.0.1";
  o.tls_cert_file = "/nonexistent/cert.pem";
  Server server(o, Echo, RenderError);
  EXPECT_FALSE(server.secure());
  EXPECT_FALSE(server.Start().has_value());
}

TEST(TlsTest, CertificateRejectsBadHost) {
  TempDir dir;
  EXPECT_FALSE(GenerateSelfSignedCertificate(dir.File("c.pem"), dir.File("c.key"), {"bad host"}).ok());
  EXPECT_FALSE(GenerateSelfSignedCertificate(dir.File("c.pem"), dir.File("c.key"), {}).ok());
}

}  // namespace
}  // namespace ward::http
