#pragma once
// Small synchronous HTTP/1.1 client (plain or TLS) behind a Boost-free interface; Boost.Beast/Asio are
// included only in client.cc.
//
// One Client keeps one keep-alive connection (to the origin of the last request) and reuses it while
// the origin stays the same. A Client is not thread-safe: give each thread its own.
//
// TLS: with `pin_sha256` set, the server certificate is accepted iff the SHA-256 of its DER encoding
// equals the pin (self-signed servers work without a CA; host names are not checked, the pin is
// stronger). Without a pin the chain is verified against the system CAs (or `ca_file`) and the host
// name against the certificate.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/server.h"  // Headers (Beast-free)

namespace ward::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};  // DNS + TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{30'000};  // writing the request and reading the response
  std::string pin_sha256;                             // hex SHA-256 of the server's DER certificate
  std::string ca_file;                                // PEM bundle used instead of the system CAs
  size_t max_response_bytes = 64 * 1024 * 1024;
  std::string user_agent = "ward-http-client";
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query or https://...
  Headers headers;  // Host, Content-Length and User-Agent are added when absent
  std::string body;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // always set (80/443 by default)
  std::string target;  // path + query, at least "/"
};
// Parses an absolute http(s) URL. InvalidArgument on anything else (userinfo is rejected).
Result<Url> ParseUrl(std::string_view url);

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads the whole response. Any HTTP status is a successful Result; errors are
  // InvalidArgument (bad URL/method), Unavailable (DNS, connect, TLS, I/O, timeouts, pin mismatch) and
  // ResourceExhausted (response larger than max_response_bytes). A failure on a reused keep-alive
  // connection before any response byte arrived is retried once on a fresh connection.
  Result<ClientResponse> Send(const ClientRequest& request);
  // Drops the kept-alive connection, if any.
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Lower-case hex SHA-256 of a certificate's DER form, read from a PEM file ("" when unreadable).
std::string PemCertificateSha256(const std::string& pem_file);

}  // namespace ward::http
