#pragma once
// HTTP/1.1 server (plain or TLS) behind a Boost-free interface. Boost.Beast/Asio are included only in
// src/http/*.cc.
//
// Threading: Start() spawns `threads` workers running one io_context; a connection's requests are
// handled one at a time, in order, on some worker thread, so the Handler must be thread-safe.
// Handlers run synchronously and should not block for long.
// Limits: header block and body sizes are enforced before the handler sees a request; violations are
// answered by the ErrorRenderer (413 for bodies, 431 for headers, 400 for malformed requests, 408 on
// read timeout), and the connection is closed.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ward::http {

// Ordered header list with case-insensitive lookup.
class Headers {
 public:
  // First value of the header, or empty view when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  void Add(std::string name, std::string value);
  // Replaces all values of `name`.
  void Set(std::string name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

struct Request {
  std::string method;          // upper-case, e.g. "GET"
  std::string target;          // as received, e.g. "/api/alerts?$top=10"
  std::string path;            // percent-decoded path without query, e.g. "/api/alerts"
  std::string query;           // raw query string without '?', not decoded
  Headers headers;
  std::string body;
  std::string remote_address;  // peer IP as text
  bool secure = false;         // arrived over TLS
  std::string request_id;      // generated per request (UUID); echoed in x-request-id
  // Set by the server while the handler runs (empty otherwise): true once the client has closed or
  // reset its end of the connection (a half-close counts as gone). One poll(2) per call; callable
  // from any thread, but only until the handler returns.
  std::function<bool()> peer_closed;

  // Filled by Router::Dispatch.
  std::string route;  // the matched pattern, e.g. "/api/machines/{id}", for metrics
  std::vector<std::pair<std::string, std::string>> path_params;
  std::string_view PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Sets status, Content-Type and body in one go.
  void Set(int status_code, std::string content_type, std::string body_text);
};

using Handler = std::function<void(Request&, Response&)>;
// Renders an error the server produced before or instead of the handler (limits, timeouts, parse
// errors). `code` is a short machine-readable reason such as "RequestTooLarge".
using ErrorRenderer = std::function<void(int status, std::string_view code, std::string_view message,
                                         const Request& partial_request, Response&)>;
// Called after every response is written; for access logs and metrics.
using CompletionHook = std::function<void(const Request&, const Response&, std::chrono::nanoseconds elapsed)>;

struct ServerOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal
  uint16_t port = 0;                  // 0 = pick a free port
  int threads = 0;                    // 0 = one per hardware core
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 4 * 1024 * 1024;
  std::chrono::seconds read_timeout{30};   // whole request must arrive within this
  std::chrono::seconds idle_timeout{75};   // keep-alive connection without a request
  // When both are set the server speaks TLS only (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler, ErrorRenderer error_renderer, CompletionHook on_complete = {});
  ~Server();  // stops if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the workers. Returns the bound port. Errors: address in use, bad TLS files.
  Result<uint16_t> Start();
  // Stops accepting, closes connections, joins workers. Idempotent; safe from any thread except a worker.
  void Stop();
  bool secure() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes a self-signed RSA-2048 certificate (SHA-256, valid for `days`) for the given DNS names and
// IP addresses (subjectAltName), with key and certificate as PEM files (key mode 0600).
Status GenerateSelfSignedCertificate(const std::string& cert_file, const std::string& key_file,
                                     const std::vector<std::string>& hosts, int days = 825);

// Percent-decodes s; '+' becomes space when plus_is_space. Returns nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);
// Parses an application/x-www-form-urlencoded body or a query string into ordered pairs.
// Returns nullopt on malformed escapes.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view s);

}  // namespace ward::http
