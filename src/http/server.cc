// HTTP/1.1 server on Boost.Asio with Beast's request parser. The only translation unit of the module
// that includes Boost.
//
// Design notes:
// - One io_context, N worker threads, one strand per connection: every handler of a session (reads,
//   writes, its timer) runs serialised on that strand, so a session needs no locks.
// - Requests are parsed by feeding Beast's parser from our own read buffer, and responses are
//   serialised by hand into a reused string; this avoids Beast's composed operations and a message
//   copy per request on the hot path.
// - Timeouts use one lazily re-armed timer per connection: changing the deadline is a plain store,
//   and the timer only fires early (then re-arms) — never late — because it is never armed further
//   than the shortest timeout ahead.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <openssl/ssl.h>
#include <poll.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "http/server.h"
#include "common/strings.h"

namespace ward::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

using Executor = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using Parser = bhttp::request_parser<bhttp::string_body>;

constexpr size_t kReadChunk = 16 * 1024;
// Bodies up to this size are copied behind the header so the response goes out as one buffer (one
// TLS record / one send); larger ones are written as a second buffer without copying.
constexpr size_t kInlineBodyBytes = 16 * 1024;
// How long a closing connection may take to deliver the last response and drain the peer's input.
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";

template <typename S>
std::string_view View(const S& s) {
  return std::string_view(s.data(), s.size());
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// True when the comma-separated header value contains `token` (case-insensitive), e.g. "close".
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Request ids are not secrets, so a per-thread PRNG is enough and keeps the hot path lock-free.
std::string NewRequestId() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & ~uint64_t{0xF000}) | uint64_t{0x4000};        // version 4
  lo = (lo & ~(uint64_t{3} << 62)) | (uint64_t{1} << 63);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  char hex[32];
  for (int i = 0; i < 16; ++i) {
    hex[i] = kHex[(hi >> (60 - 4 * i)) & 0xF];
    hex[16 + i] = kHex[(lo >> (60 - 4 * i)) & 0xF];
  }
  std::string out;
  out.reserve(36);
  out.append(hex, 8).append(1, '-').append(hex + 8, 4).append(1, '-').append(hex + 12, 4).append(1, '-');
  out.append(hex + 16, 4).append(1, '-').append(hex + 20, 12);
  return out;
}

// RFC 9110 IMF-fixdate, formatted at most once per second per thread.
std::string_view HttpDate() {
  struct Cache {
    std::time_t second = -1;
    char text[32] = {};
    size_t size = 0;
  };
  thread_local Cache cache;
  std::time_t now = std::time(nullptr);
  if (now != cache.second) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&now, &tm);
    int n = std::snprintf(cache.text, sizeof(cache.text), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                          tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cache.size = n > 0 ? static_cast<size_t>(n) : 0;
    cache.second = now;
  }
  return std::string_view(cache.text, cache.size);
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// Handler-supplied header fields go onto the wire verbatim, so reject anything that could split the
// response.
bool IsSafeHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Fields the server owns; values set by handlers are ignored.
bool IsServerOwnedHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
         EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "server") ||
         EqualsIgnoreCase(name, "date") || EqualsIgnoreCase(name, "x-request-id");
}

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

std::string_view ReasonPhrase(int status) {
  std::string_view r = View(bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status))));
  if (r.empty() || r.front() == '<') return "Unknown";
  return r;
}

// Everything a session needs from the server; immutable while serving.
struct Shared {
  ServerOptions options;
  Handler handler;
  ErrorRenderer error_renderer;
  CompletionHook on_complete;
  bool tls = false;
  Clock::duration read_timeout{};   // zero = disabled
  Clock::duration idle_timeout{};   // zero = disabled
  Clock::duration write_timeout{};  // zero = disabled
  Clock::duration tick{};           // shortest timeout: the furthest the timer is ever armed ahead
};

enum class Phase : uint8_t { kHandshake, kIdle, kReading, kHandling, kWriting, kClosing };

template <bool kTls>
class Session : public std::enable_shared_from_this<Session<kTls>> {
 public:
  using Stream = std::conditional_t<kTls, ssl::stream<Socket>, Socket>;

  Session(Socket socket, const Shared& shared, ssl::context* ctx)
      : stream_(MakeStream(std::move(socket), ctx)), timer_(stream_.get_executor()), shared_(shared) {}

  void Start() {
    error_code ec;
    auto endpoint = stream_.lowest_layer().remote_endpoint(ec);
    if (!ec) {
      auto addr = endpoint.address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
        addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
      }
      req_.remote_address = addr.to_string();
    }
    req_.secure = kTls;
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      SetDeadline(shared_.read_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](const error_code& ec) {
        if (self->closed_) return;
        if (ec) return self->HardClose();
        self->NextRequest();
      });
    } else {
      NextRequest();
    }
  }

 private:
  static Stream MakeStream(Socket socket, ssl::context* ctx) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *ctx);
    } else {
      return Stream(std::move(socket));
    }
  }

  // ---- timeouts ----

  void SetDeadline(Clock::duration timeout) {
    Clock::time_point now = Clock::now();
    deadline_ = timeout.count() > 0 ? now + timeout : Clock::time_point::max();
    if (!timer_armed_ && deadline_ != Clock::time_point::max()) ArmTimer(std::min(deadline_, now + shared_.tick));
  }

  void ArmTimer(Clock::time_point at) {
    timer_armed_ = true;
    timer_.expires_at(at);
    timer_.async_wait([self = this->shared_from_this()](const error_code& ec) { self->OnTimer(ec); });
  }

  void OnTimer(const error_code& ec) {
    timer_armed_ = false;
    if (closed_ || ec) return;
    if (deadline_ == Clock::time_point::max()) return;  // phase without a deadline; re-armed on next SetDeadline
    Clock::time_point now = Clock::now();
    if (now < deadline_) return ArmTimer(std::min(deadline_, now + shared_.tick));
    switch (phase_) {
      case Phase::kReading: {
        // Cancel the pending read (or 100-continue write); its handler answers 408.
        timed_out_ = true;
        deadline_ = Clock::time_point::max();
        error_code ignored;
        stream_.lowest_layer().cancel(ignored);
        break;
      }
      default:
        HardClose();
        break;
    }
  }

  // ---- reading ----

  void NextRequest() {
    // Reuse string capacity across requests on this connection.
    req_.method.clear();
    req_.target.clear();
    req_.path.clear();
    req_.query.clear();
    req_.headers = Headers();
    req_.body.clear();
    req_.request_id.clear();
    req_.route.clear();
    req_.path_params.clear();
    res_.status = 200;
    res_.headers = Headers();
    res_.body.clear();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(shared_.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(static_cast<std::uint64_t>(shared_.options.max_body_bytes));
    parser_->eager(true);
    header_seen_ = false;
    continue_sent_ = false;
    close_after_ = false;
    if (buffer_.size() > 0) {  // pipelined request already buffered
      BeginRequest();
      Parse();
    } else {
      request_started_ = false;
      phase_ = Phase::kIdle;
      SetDeadline(shared_.idle_timeout);
      Read();
    }
  }

  void BeginRequest() {
    request_started_ = true;
    request_start_ = Clock::now();
    phase_ = Phase::kReading;
    SetDeadline(shared_.read_timeout);
  }

  void Read() {
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](const error_code& ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const error_code& ec, size_t n) {
    if (closed_) return;
    if (timed_out_) return OnReadTimeout();
    if (ec) return HardClose();  // EOF, reset, or idle close: nothing useful to answer
    buffer_.commit(n);
    if (!request_started_) BeginRequest();
    Parse();
  }

  void OnReadTimeout() {
    timed_out_ = false;
    SendError(408, "RequestTimeout", "the request was not received in time");
  }

  void Parse() {
    error_code ec;
    for (;;) {
      if (buffer_.size() == 0) return ReadMore();
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (!header_seen_ && parser_->is_header_done()) {
        header_seen_ = true;
        header_done_ = Clock::now();
      }
      if (ec == bhttp::error::need_more) {
        if (used == 0) return ReadMore();
        ec = {};
        continue;
      }
      if (ec) return OnParseError(ec);
      if (parser_->is_done()) return HandleRequest();
      if (used == 0) return ReadMore();  // no progress without more input
    }
  }

  void ReadMore() {
    if (header_seen_ && !continue_sent_) {
      continue_sent_ = true;
      const auto& msg = parser_->get();
      if (msg.version() >= 11 && HasToken(View(msg[bhttp::field::expect]), "100-continue")) {
        asio::async_write(stream_, asio::buffer(k100Continue.data(), k100Continue.size()),
                          [self = this->shared_from_this()](const error_code& ec, size_t) {
                            if (self->closed_) return;
                            if (self->timed_out_) return self->OnReadTimeout();
                            if (ec) return self->HardClose();
                            self->Read();
                          });
        return;
      }
    }
    Read();
  }

  void OnParseError(const error_code& ec) {
    if (ec == bhttp::error::body_limit) {
      return SendError(413, "RequestTooLarge", "the request body exceeds the size limit");
    }
    if (ec == bhttp::error::header_limit) {
      return SendError(431, "RequestHeaderFieldsTooLarge", "the request header exceeds the size limit");
    }
    SendError(400, "BadRequest", "malformed HTTP request");
  }

  // Copies the parsed message into req_. Returns false when the path is not valid percent-encoding.
  bool FillRequest(bool with_body) {
    auto& msg = parser_->get();
    std::string_view method = View(msg.method_string());
    req_.method.assign(method);
    for (char& c : req_.method) c = AsciiUpper(c);
    req_.target.assign(View(msg.target()));
    std::string_view target = req_.target;
    // Absolute-form ("http://host/path?q") is legal from proxies; keep only the path and query.
    if (!target.empty() && target.front() != '/' && target != "*") {
      size_t scheme = target.find("://");
      if (scheme != std::string_view::npos) {
        size_t slash = target.find('/', scheme + 3);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      }
    }
    size_t q = target.find('?');
    std::string_view raw_path = target.substr(0, q);
    req_.query.assign(q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
    for (const auto& field : msg) req_.headers.Add(std::string(View(field.name_string())), std::string(View(field.value())));
    if (with_body) req_.body = std::move(msg.body());
    std::optional<std::string> path = PercentDecode(raw_path, /*plus_is_space=*/false);
    // An encoded NUL has no legitimate use in a path and confuses C-string consumers downstream.
    if (!path || path->find('\0') != std::string::npos) return false;
    req_.path = std::move(*path);
    return true;
  }

  void HandleRequest() {
    phase_ = Phase::kHandling;
    req_.request_id = NewRequestId();
    if (!FillRequest(/*with_body=*/true)) return SendError(400, "BadRequest", "malformed percent-encoding in path");
    const auto& msg = parser_->get();
    close_after_ = !parser_->keep_alive();
    keep_alive_http10_ = !close_after_ && msg.version() < 11;
    const int fd = static_cast<int>(stream_.lowest_layer().native_handle());
    req_.peer_closed = [fd] {
      pollfd p{fd, POLLRDHUP, 0};
      return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    };
    struct ClearProbe {
      Request& r;
      ~ClearProbe() { r.peer_closed = nullptr; }
    } clear_probe{req_};
    try {
      shared_.handler(req_, res_);
    } catch (const std::exception&) {
      res_ = Response();
      Render(500, "InternalServerError", "internal server error");
    } catch (...) {
      res_ = Response();
      Render(500, "InternalServerError", "internal server error");
    }
    WriteResponse();
  }

  // Answers an error the server detected itself, then closes the connection.
  void SendError(int status, std::string_view code, std::string_view message) {
    phase_ = Phase::kHandling;
    if (req_.request_id.empty()) req_.request_id = NewRequestId();
    // Best effort: give the renderer whatever was parsed. Beast fills the message as it goes, so the
    // start line (and the fields before a bad one) are there even when the header failed.
    if (parser_ && req_.method.empty() && !parser_->get().method_string().empty()) {
      req_.headers = Headers();
      FillRequest(/*with_body=*/false);
    }
    close_after_ = true;
    res_ = Response();
    Render(status, code, message);
    WriteResponse();
  }

  void Render(int status, std::string_view code, std::string_view message) {
    if (shared_.error_renderer) {
      try {
        shared_.error_renderer(status, code, message, req_, res_);
        return;
      } catch (...) {
        res_ = Response();
      }
    }
    std::string text(code);
    text += ": ";
    text += message;
    text += '\n';
    res_.Set(status, "text/plain; charset=utf-8", std::move(text));
  }

  // ---- writing ----

  void WriteResponse() {
    phase_ = Phase::kWriting;
    SetDeadline(shared_.write_timeout);
    int status = res_.status;
    if (status < 100 || status > 999) status = 500;
    if (HasToken(res_.headers.Get("connection"), "close")) close_after_ = true;
    // No body (and no Content-Length) for 1xx/204/304; HEAD gets the length but not the body.
    bool bodyless_status = status < 200 || status == 204 || status == 304;
    bool send_body = !bodyless_status && req_.method != "HEAD";

    head_.clear();
    head_ += "HTTP/1.1 ";
    AppendNumber(head_, static_cast<uint64_t>(status));
    head_ += ' ';
    head_ += ReasonPhrase(status);
    head_ += "\r\nServer: ward\r\nDate: ";
    head_ += HttpDate();
    head_ += "\r\n";
    for (const auto& [name, value] : res_.headers.entries()) {
      if (IsServerOwnedHeader(name) || !IsSafeHeader(name, value)) continue;
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
    head_ += "x-request-id: ";
    head_ += req_.request_id;
    head_ += "\r\n";
    if (!bodyless_status) {
      head_ += "Content-Length: ";
      AppendNumber(head_, res_.body.size());
      head_ += "\r\n";
    }
    if (close_after_) {
      head_ += "Connection: close\r\n";
    } else if (keep_alive_http10_) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";

    auto on_write = [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnWrite(ec); };
    if (!send_body || res_.body.empty()) {
      asio::async_write(stream_, asio::buffer(head_), std::move(on_write));
    } else if (res_.body.size() <= kInlineBodyBytes) {
      head_ += res_.body;
      asio::async_write(stream_, asio::buffer(head_), std::move(on_write));
    } else {
      std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(res_.body)};
      asio::async_write(stream_, buffers, std::move(on_write));
    }
  }

  void OnWrite(const error_code& ec) {
    if (closed_) return;
    if (ec) return HardClose();
    if (shared_.on_complete) {
      Clock::time_point from = header_seen_ ? header_done_ : (request_started_ ? request_start_ : Clock::now());
      try {
        shared_.on_complete(req_, res_, std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - from));
      } catch (...) {
        // A failing access log must not take the connection down.
      }
    }
    if (close_after_) return GracefulClose();
    NextRequest();
  }

  // ---- closing ----

  // Closes without losing the response: half-close and drain what the peer still sends, so the kernel
  // does not answer unread input with a RST that would discard our response at the client.
  void GracefulClose() {
    if (closed_) return;
    phase_ = Phase::kClosing;
    SetDeadline(std::chrono::duration_cast<Clock::duration>(kLingerTimeout));
    if constexpr (kTls) {
      // A TLS shutdown fails while the peer is still sending application data (an upload we refused),
      // so drain first; the peer closes once it has read our response, or the linger deadline fires.
      buffer_.clear();
      Drain();
    } else {
      error_code ec;
      stream_.shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return HardClose();
      buffer_.clear();
      Drain();
    }
  }

  void Drain() {
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = this->shared_from_this()](const error_code& ec, size_t) {
      if (self->closed_) return;
      if (ec) return self->HardClose();
      self->Drain();
    });
  }

  void HardClose() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    stream_.lowest_layer().close(ignored);
    timer_.cancel();
  }

  Stream stream_;
  Timer timer_;
  const Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  Request req_;
  Response res_;
  std::string head_;  // serialised status line and header fields (plus small bodies)
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point request_start_{};
  Clock::time_point header_done_{};
  Phase phase_ = Phase::kIdle;
  bool timer_armed_ = false;
  bool closed_ = false;
  bool timed_out_ = false;
  bool request_started_ = false;
  bool header_seen_ = false;
  bool continue_sent_ = false;
  bool close_after_ = false;
  bool keep_alive_http10_ = false;
};

Clock::duration ToDuration(std::chrono::seconds s) {
  return s.count() > 0 ? std::chrono::duration_cast<Clock::duration>(s) : Clock::duration::zero();
}

}  // namespace

struct Server::Impl {
  Shared shared;
  std::mutex mu;  // serialises Start/Stop; never taken on the request path
  bool running = false;
  std::optional<asio::io_context> ioc;
  std::optional<ssl::context> ssl_ctx;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;

  void DoAccept() {
    acceptor->async_accept(asio::make_strand(*ioc), [this](const error_code& ec, Socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(const error_code& ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning on the error.
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory || ec.value() == ENFILE) {
        accept_retry->expires_after(std::chrono::milliseconds(50));
        accept_retry->async_wait([this](const error_code& wait_ec) {
          if (!wait_ec) DoAccept();
        });
        return;
      }
      return DoAccept();
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    try {
      if (shared.tls) {
        std::make_shared<Session<true>>(std::move(socket), shared, &*ssl_ctx)->Start();
      } else {
        std::make_shared<Session<false>>(std::move(socket), shared, nullptr)->Start();
      }
    } catch (...) {
      // Allocation failure for one connection: drop it and keep accepting.
    }
    DoAccept();
  }

  void RunWorker() {
    for (;;) {
      try {
        ioc->run();
        return;
      } catch (...) {
        // Handlers catch their own errors; keep the worker alive if something slipped through.
      }
    }
  }

  // Tears everything down; callers hold `mu`. Workers must not be running (or be joined here).
  void Shutdown() {
    if (ioc) ioc->stop();
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
    threads.clear();
    if (acceptor) {
      error_code ignored;
      acceptor->close(ignored);
    }
    accept_retry.reset();
    acceptor.reset();
    // Destroying the io_context destroys pending handlers, which releases and closes every session.
    ioc.reset();
    ssl_ctx.reset();
    running = false;
  }

  Status LoadTls() {
    error_code ec;
    ssl_ctx.emplace(ssl::context::tls_server);
    ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                         ec);
    if (ec) return Internal("TLS options: " + ec.message());
    if (SSL_CTX_set_min_proto_version(ssl_ctx->native_handle(), TLS1_2_VERSION) != 1) {
      return Internal("TLS: cannot require TLS 1.2");
    }
    ssl_ctx->use_certificate_chain_file(shared.options.tls_cert_file, ec);
    if (ec) return InvalidArgument("TLS certificate " + shared.options.tls_cert_file + ": " + ec.message());
    ssl_ctx->use_private_key_file(shared.options.tls_key_file, ssl::context::pem, ec);
    if (ec) return InvalidArgument("TLS key " + shared.options.tls_key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(ssl_ctx->native_handle()) != 1) {
      return InvalidArgument("TLS key does not match certificate " + shared.options.tls_cert_file);
    }
    return Status::Ok();
  }

  Result<uint16_t> StartLocked() {
    const ServerOptions& o = shared.options;
    if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
      return Err(InvalidArgument("TLS needs both tls_cert_file and tls_key_file"));
    }
    error_code ec;
    std::string_view literal = o.address;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') {  // "[::1]" URL style
      literal = literal.substr(1, literal.size() - 2);
    }
    asio::ip::address address = asio::ip::make_address(literal, ec);
    if (ec) return Err(InvalidArgument("invalid listen address '" + o.address + "'"));
    if (shared.tls) {
      Status st = LoadTls();
      if (!st.ok()) return Err(std::move(st));
    }
    int threads_n = o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
    if (threads_n <= 0) threads_n = 1;

    ioc.emplace(threads_n);
    acceptor.emplace(*ioc);
    accept_retry.emplace(*ioc);
    tcp::endpoint endpoint(address, o.port);
    std::string where = (address.is_v6() ? "[" + std::string(literal) + "]" : o.address) + ":" + std::to_string(o.port);
    acceptor->open(endpoint.protocol(), ec);
    if (ec) return Err(Unavailable("open socket for " + where + ": " + ec.message()));
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return Err(Unavailable("SO_REUSEADDR on " + where + ": " + ec.message()));
    acceptor->bind(endpoint, ec);
    if (ec) return Err(Unavailable("bind " + where + ": " + ec.message()));
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Err(Unavailable("listen on " + where + ": " + ec.message()));
    uint16_t port = acceptor->local_endpoint(ec).port();
    if (ec) return Err(Unavailable("local endpoint of " + where + ": " + ec.message()));

    DoAccept();
    running = true;
    for (int i = 0; i < threads_n; ++i) threads.emplace_back([this] { RunWorker(); });
    return port;
  }
};

Server::Server(ServerOptions options, Handler handler, ErrorRenderer error_renderer, CompletionHook on_complete)
    : impl_(std::make_unique<Impl>()) {
  Shared& s = impl_->shared;
  s.options = std::move(options);
  s.handler = std::move(handler);
  s.error_renderer = std::move(error_renderer);
  s.on_complete = std::move(on_complete);
  s.tls = !s.options.tls_cert_file.empty() && !s.options.tls_key_file.empty();
  s.read_timeout = ToDuration(s.options.read_timeout);
  s.idle_timeout = ToDuration(s.options.idle_timeout);
  // Writes get the more generous of the two: large responses to slow clients must not be cut off.
  s.write_timeout = std::max(s.read_timeout, s.idle_timeout);
  Clock::duration tick = std::chrono::duration_cast<Clock::duration>(kLingerTimeout);
  if (s.read_timeout.count() > 0) tick = std::min(tick, s.read_timeout);
  if (s.idle_timeout.count() > 0) tick = std::min(tick, s.idle_timeout);
  s.tick = tick;
}

Server::~Server() { Stop(); }

Result<uint16_t> Server::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->running) return Err(FailedPrecondition("server already started"));
  try {
    Result<uint16_t> result = impl_->StartLocked();
    if (!result) impl_->Shutdown();
    return result;
  } catch (const std::exception& e) {
    impl_->Shutdown();
    return Err(Internal(std::string("starting HTTP server: ") + e.what()));
  }
}

void Server::Stop() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  try {
    if (impl_->running || impl_->ioc) impl_->Shutdown();
  } catch (...) {
    // Joining or closing failed; nothing sensible is left to do at shutdown.
  }
}

bool Server::secure() const { return impl_->shared.tls; }

}  // namespace ward::http
