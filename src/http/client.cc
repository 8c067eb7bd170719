// Synchronous HTTP/1.1 client on Boost.Beast. Operations are started asynchronously on a private
// io_context and run to completion, because only Beast's async operations honour tcp_stream's
// expiry (the synchronous ones would block forever on a silent peer).
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/crypto.h"
#include "http/client.h"

namespace ward::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoi(std::string(s)) <= 65535;
}

std::string CertSha256(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(cert, &p) != len) return {};
  return HexEncode(Sha256(der));
}

// A failure that a fresh connection may fix when the kept-alive one was closed by the server.
bool IsStaleConnectionError(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == bhttp::error::end_of_stream || ec == asio::error::connection_aborted ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

Result<Url> ParseUrl(std::string_view url) {
  Url out;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return Err(InvalidArgument("URL has no scheme: " + std::string(url)));
  out.scheme = LowerCopy(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    return Err(InvalidArgument("unsupported URL scheme '" + out.scheme + "'"));
  }
  std::string_view rest = url.substr(sep + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return Err(InvalidArgument("URL userinfo is not supported"));
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Err(InvalidArgument("bad IPv6 literal in URL"));
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Err(InvalidArgument("bad URL authority"));
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    out.host = LowerCopy(authority);
  }
  if (out.host.empty()) return Err(InvalidArgument("URL has no host"));
  if (port.empty()) {
    out.port = out.scheme == "https" ? "443" : "80";
  } else {
    if (!IsDigits(port)) return Err(InvalidArgument("bad URL port"));
    out.port = std::string(port);
  }
  out.target = target.empty() ? "/" : std::string(target);
  if (out.target.front() == '?') out.target.insert(0, "/");
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return Err(InvalidArgument("URL contains whitespace or controls"));
  }
  return out;
}

struct Client::Impl {
  using TlsStream = ssl::stream<beast::tcp_stream>;

  ClientOptions options;
  asio::io_context ioc{1};
  std::unique_ptr<ssl::context> tls_ctx;
  // The kept-alive connection: exactly one of plain/tls is set while connected.
  std::string origin;  // "scheme://host:port" of the connection
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<TlsStream> tls;
  beast::flat_buffer buffer;

  explicit Impl(ClientOptions o) : options(std::move(o)) {}

  bool connected() const { return plain || tls; }
  beast::tcp_stream& Tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  void Drop() {
    error_code ignored;
    if (tls) beast::get_lowest_layer(*tls).socket().close(ignored);
    if (plain) plain->socket().close(ignored);
    tls.reset();
    plain.reset();
    origin.clear();
    buffer.clear();
  }

  // Runs queued handlers until `done`; the operations' own expiries bound the wait.
  void RunUntil(const bool& done) {
    ioc.restart();
    while (!done && ioc.run_one() > 0) {
    }
  }

  Result<ssl::context*> TlsContext() {
    if (tls_ctx) return tls_ctx.get();
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    error_code ec;
    if (options.pin_sha256.empty()) {
      if (!options.ca_file.empty()) {
        ctx->load_verify_file(options.ca_file, ec);
      } else {
        ctx->set_default_verify_paths(ec);
      }
      if (ec) return Err(Unavailable("loading CA certificates: " + ec.message()));
      ctx->set_verify_mode(ssl::verify_peer);
    } else {
      // The pin is checked after the handshake; chain validation would reject self-signed servers.
      ctx->set_verify_mode(ssl::verify_none);
    }
    tls_ctx = std::move(ctx);
    return tls_ctx.get();
  }

  Status Connect(const Url& url) {
    Drop();
    auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    {
      bool done = false;
      error_code ec;
      resolver.async_resolve(url.host, url.port, [&](const error_code& e, tcp::resolver::results_type r) {
        ec = e;
        endpoints = std::move(r);
        done = true;
      });
      ioc.restart();
      ioc.run_for(options.connect_timeout);
      if (!done) {
        resolver.cancel();
        RunUntil(done);
        return Unavailable("resolving " + url.host + ": timed out");
      }
      if (ec) return Unavailable("resolving " + url.host + ": " + ec.message());
    }
    auto stream = std::make_unique<beast::tcp_stream>(ioc);
    auto remaining = [&] {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      return std::max(left, std::chrono::milliseconds(1));
    };
    {
      bool done = false;
      error_code ec;
      stream->expires_after(remaining());
      stream->async_connect(endpoints, [&](const error_code& e, const tcp::endpoint&) {
        ec = e;
        done = true;
      });
      RunUntil(done);
      if (ec) return Unavailable("connecting to " + url.host + ":" + url.port + ": " + ec.message());
    }
    error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    if (url.scheme == "http") {
      stream->expires_never();
      plain = std::move(stream);
      origin = url.scheme + "://" + url.host + ":" + url.port;
      return Status::Ok();
    }
    WARD_ASSIGN_OR_RETURN(ssl::context * ctx, TlsContext());
    auto tls_stream = std::make_unique<TlsStream>(std::move(*stream), *ctx);
    error_code addr_ec;
    asio::ip::make_address(url.host, addr_ec);
    bool is_ip = !addr_ec;
    if (!is_ip && !SSL_set_tlsext_host_name(tls_stream->native_handle(), url.host.c_str())) {
      return Unavailable("TLS: cannot set SNI host name");
    }
    if (options.pin_sha256.empty()) tls_stream->set_verify_callback(ssl::host_name_verification(url.host));
    {
      bool done = false;
      error_code ec;
      beast::get_lowest_layer(*tls_stream).expires_after(remaining());
      tls_stream->async_handshake(ssl::stream_base::client, [&](const error_code& e) {
        ec = e;
        done = true;
      });
      RunUntil(done);
      if (ec) return Unavailable("TLS handshake with " + url.host + ": " + ec.message());
    }
    if (!options.pin_sha256.empty()) {
      X509* cert = SSL_get1_peer_certificate(tls_stream->native_handle());
      std::string actual = cert ? CertSha256(cert) : std::string();
      if (cert) X509_free(cert);
      if (actual.empty() || actual != LowerCopy(options.pin_sha256)) {
        return Unavailable("TLS: server certificate does not match the pinned SHA-256 (got " +
                           (actual.empty() ? std::string("none") : actual) + ")");
      }
    }
    beast::get_lowest_layer(*tls_stream).expires_never();
    tls = std::move(tls_stream);
    origin = url.scheme + "://" + url.host + ":" + url.port;
    return Status::Ok();
  }

  // One exchange on the current connection. `stale` is set when the failure looks like a closed
  // keep-alive connection and nothing of the response had arrived.
  Result<ClientResponse> Exchange(bhttp::request<bhttp::string_body>& req, bool* stale) {
    *stale = false;
    error_code ec;
    bool done = false;
    Tcp().expires_after(options.request_timeout);
    auto on_write = [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    };
    if (tls) {
      bhttp::async_write(*tls, req, on_write);
    } else {
      bhttp::async_write(*plain, req, on_write);
    }
    RunUntil(done);
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return Err(Unavailable("sending request: " + ec.message()));
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    parser.header_limit(64 * 1024);
    if (req.method() == bhttp::verb::head) parser.skip(true);
    done = false;
    auto on_read = [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    };
    if (tls) {
      bhttp::async_read(*tls, buffer, parser, on_read);
    } else {
      bhttp::async_read(*plain, buffer, parser, on_read);
    }
    RunUntil(done);
    if (ec) {
      *stale = !parser.got_some() && IsStaleConnectionError(ec);
      if (ec == bhttp::error::body_limit) return Err(ResourceExhausted("response body exceeds the limit"));
      if (ec == beast::error::timeout) return Err(Unavailable("reading response: timed out"));
      return Err(Unavailable("reading response: " + ec.message()));
    }
    Tcp().expires_never();
    auto msg = parser.release();
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      out.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(msg.body());
    if (!msg.keep_alive()) Drop();
    return out;
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::Close() { impl_->Drop(); }

Result<ClientResponse> Client::Send(const ClientRequest& request) {
  try {
    WARD_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
    bhttp::verb verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown) return Err(InvalidArgument("unsupported HTTP method " + request.method));
    bhttp::request<bhttp::string_body> req(verb, url.target, 11);
    for (const auto& [name, value] : request.headers.entries()) {
      for (char c : value) {
        if (c == '\r' || c == '\n') return Err(InvalidArgument("header value contains CR/LF"));
      }
      req.insert(name, value);
    }
    if (!request.headers.Has("Host")) {
      bool default_port = (url.scheme == "http" && url.port == "80") || (url.scheme == "https" && url.port == "443");
      std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
      if (!default_port) host += ":" + url.port;
      req.set(bhttp::field::host, host);
    }
    if (!request.headers.Has("User-Agent")) req.set(bhttp::field::user_agent, impl_->options.user_agent);
    req.body() = request.body;
    if (!request.body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch) {
      req.prepare_payload();
    }
    req.keep_alive(true);

    std::string origin = url.scheme + "://" + url.host + ":" + url.port;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = impl_->connected() && impl_->origin == origin;
      if (!reused) {
        Status st = impl_->Connect(url);
        if (!st.ok()) {
          impl_->Drop();
          return Err(st);
        }
      }
      bool stale = false;
      auto res = impl_->Exchange(req, &stale);
      if (res) return res;
      impl_->Drop();
      if (!(reused && stale)) return res;
    }
    return Err(Unavailable("connection closed by server"));
  } catch (const std::exception& e) {
    impl_->Drop();
    return Err(Unavailable(std::string("HTTP client: ") + e.what()));
  }
}

std::string PemCertificateSha256(const std::string& pem_file) {
  FILE* f = std::fopen(pem_file.c_str(), "r");
  if (!f) return {};
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!cert) return {};
  std::string out = CertSha256(cert);
  X509_free(cert);
  return out;
}

}  // namespace ward::http
