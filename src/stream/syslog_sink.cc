#include "stream/syslog_sink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"
#include "json/json.h"
#include "stream/cef.h"

namespace ward::stream {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kMaxUdpPayload = 65507;  // IPv4: 65535 - 20 (IP) - 8 (UDP)
constexpr int64_t kUdpDefaultMax = 65000;
constexpr int64_t kStreamDefaultMax = 16ll << 20;

enum class Protocol { kUdp, kTcp, kTls };

struct SyslogSettings {
  std::string host;
  std::string port;
  Protocol protocol = Protocol::kTcp;
  bool octet_counting = true;
  SyslogFormat format;
  std::string ca_file;
  std::string pin_sha256;  // lower-case hex
  std::string server_name;
  std::chrono::milliseconds timeout{10'000};
  size_t max_message_bytes = kStreamDefaultMax;
};

bool IsPrintUsAscii(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 33 && c <= 126; });
}

// "host:port", "[v6]:port", "host" or "[v6]"; the port may be left to the protocol's default.
Status ParseAddress(const std::string& address, std::string_view default_port, std::string* host, std::string* port) {
  const Status bad = InvalidArgument("address must be host:port or [ipv6]:port");
  std::string_view rest;
  if (address.starts_with('[')) {
    size_t close = address.find(']');
    if (close == std::string::npos) return bad;
    *host = address.substr(1, close - 1);
    rest = std::string_view(address).substr(close + 1);
  } else {
    size_t colon = address.rfind(':');
    *host = address.substr(0, colon);
    if (host->find(':') != std::string::npos) return InvalidArgument("address: an IPv6 address goes in brackets, [::1]:6514");
    if (colon != std::string::npos) rest = std::string_view(address).substr(colon);
  }
  if (host->empty() || host->find_first_of(" /[]") != std::string::npos) return bad;
  if (rest.empty()) {
    *port = std::string(default_port);
    return Status::Ok();
  }
  if (rest[0] != ':' || rest.size() < 2 || rest.size() > 6) return bad;
  int value = 0;
  for (char c : rest.substr(1)) {
    if (c < '0' || c > '9') return bad;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return InvalidArgument("address port must be 1 to 65535");
  *port = std::to_string(value);
  return Status::Ok();
}

std::string LocalHostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "-";
  std::string name(buf);
  for (char& c : name) {
    if (c < 33 || c > 126) c = '-';
  }
  return name.empty() ? "-" : name;
}

Result<SyslogSettings> Parse(const json::Value& v) {
  SettingsReader r(v);
  SyslogSettings s;
  WARD_ASSIGN_OR_RETURN(std::string address, r.String("address", true));
  WARD_ASSIGN_OR_RETURN(std::string protocol, r.OneOf("protocol", {"udp", "tcp", "tls"}, "tcp"));
  s.protocol = protocol == "udp" ? Protocol::kUdp : protocol == "tls" ? Protocol::kTls : Protocol::kTcp;
  WARD_RETURN_IF_ERROR(ParseAddress(address, s.protocol == Protocol::kTls ? "6514" : "514", &s.host, &s.port));
  WARD_ASSIGN_OR_RETURN(std::string framing, r.OneOf("framing", {"octet-counting", "newline"}, "octet-counting"));
  s.octet_counting = framing == "octet-counting";
  WARD_ASSIGN_OR_RETURN(std::string format, r.OneOf("format", {"json", "cef"}, "json"));
  s.format.cef = format == "cef";
  WARD_ASSIGN_OR_RETURN(int64_t facility, r.Int("facility", 16, 0, 23));
  s.format.facility = static_cast<int>(facility);
  WARD_ASSIGN_OR_RETURN(s.format.app_name, r.String("appName", false, "ward"));
  if (!IsPrintUsAscii(s.format.app_name, 48))
    return Err(InvalidArgument("appName must be 1 to 48 printable ASCII characters, no spaces"));
  WARD_ASSIGN_OR_RETURN(s.format.hostname, r.String("hostname", false));
  if (s.format.hostname.empty()) {
    s.format.hostname = LocalHostname();
  } else if (!IsPrintUsAscii(s.format.hostname, 255)) {
    return Err(InvalidArgument("hostname must be 1 to 255 printable ASCII characters, no spaces"));
  }
  WARD_ASSIGN_OR_RETURN(s.ca_file, r.String("caFile", false));
  WARD_ASSIGN_OR_RETURN(s.pin_sha256, r.String("pinSha256", false));
  s.pin_sha256 = AsciiLower(s.pin_sha256);
  if (!s.pin_sha256.empty() && (s.pin_sha256.size() != 64 || !HexDecode(s.pin_sha256)))
    return Err(InvalidArgument("pinSha256 must be the 64 hex digits of a SHA-256"));
  WARD_ASSIGN_OR_RETURN(s.server_name, r.String("serverName", false));
  if (!s.server_name.empty() && !IsPrintUsAscii(s.server_name, 253))
    return Err(InvalidArgument("serverName must be a DNS name or IP address"));
  WARD_ASSIGN_OR_RETURN(int64_t timeout, r.Int("timeoutMs", 10'000, 100, 600'000));
  s.timeout = std::chrono::milliseconds(timeout);
  const bool udp = s.protocol == Protocol::kUdp;
  WARD_ASSIGN_OR_RETURN(int64_t max_bytes, r.Int("maxMessageBytes", udp ? kUdpDefaultMax : kStreamDefaultMax, 480,
                                                 udp ? kMaxUdpPayload : (1ll << 30)));
  s.max_message_bytes = static_cast<size_t>(max_bytes);
  return s;
}

// RFC 5424 §6.3.3: '"', '\' and ']' in a PARAM-VALUE take a backslash.
void AppendParam(std::string& sd, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  sd += ' ';
  sd += name;
  sd += "=\"";
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') sd += '\\';
    sd += c;
  }
  sd += '"';
}

bool IsAlertTable(std::string_view table) { return table == "AlertInfo" || table == "AlertEvidence"; }

int SeverityOfRecord(const StreamRecord& record) {
  if (!IsAlertTable(record.table_name)) return 6;
  auto parsed = json::Value::Parse(record.json);
  const json::Value* properties = parsed ? parsed->Find("properties") : nullptr;
  auto severity = properties ? properties->GetString("Severity") : std::nullopt;
  return SyslogSeverityOf(severity.value_or(""));
}

// --- Sockets -------------------------------------------------------------------------------------

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The deadline of the current step: it moves forward whenever the step makes progress, so a large
// batch to a live peer never times out while a stalled one does after `timeout`.
class Progress {
 public:
  explicit Progress(std::chrono::milliseconds timeout) : timeout_(timeout), deadline_(Clock::now() + timeout) {}
  void Touch() { deadline_ = Clock::now() + timeout_; }
  bool Expired() const { return Clock::now() >= deadline_; }
  int RemainingMs() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
  }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  std::chrono::milliseconds timeout_;
  Clock::time_point deadline_;
};

std::string ErrnoText(int err) { return std::strerror(err); }

// Waits until fd is ready for `events` or the step times out.
Status WaitFd(int fd, short events, const Progress& progress, const std::string& what) {
  for (;;) {
    if (progress.Expired()) return Unavailable(what + ": timed out after " + std::to_string(progress.timeout().count()) + " ms");
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, std::max(progress.RemainingMs(), 1));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(what + ": poll: " + ErrnoText(errno));
    if (n > 0) return Status::Ok();  // ready, or an error the next call reports
  }
}

// Resolves and connects (non-blocking socket), trying each address in turn.
Result<Fd> Connect(const SyslogSettings& s, const Progress& progress) {
  const std::string where = s.host + ":" + s.port;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = s.protocol == Protocol::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(s.host.c_str(), s.port.c_str(), &hints, &found); rc != 0)
    return Err(Unavailable("resolving " + s.host + ": " + ::gai_strerror(rc)));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Status last = Unavailable("resolving " + s.host + ": no addresses");
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      last = Unavailable("socket: " + ErrnoText(errno));
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Unavailable("connecting to " + where + ": " + ErrnoText(errno));
        continue;
      }
      Status st = WaitFd(fd.get(), POLLOUT, progress, "connecting to " + where);
      int err = 0;
      socklen_t len = sizeof err;
      if (st.ok() && ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
        st = Unavailable("connecting to " + where + ": " + ErrnoText(err));
      if (!st.ok()) {
        last = st;
        continue;
      }
    }
    if (s.protocol != Protocol::kUdp) {
      // Without it the last small segment of a batch waits for the previous ACK (Nagle), slowing
      // every confirmation by a delayed-ACK interval.
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
  }
  return Err(last);
}

// OpenSSL writes with write(2), which raises SIGPIPE on a reset connection and would kill the
// server; the signal is blocked on this thread for the call and a pending one consumed.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~ScopedSigpipeBlock() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    if (!already_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      sigtimedwait(&pipe, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool already_pending_ = false;
};

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

Result<SslCtxPtr> MakeTlsContext(const SyslogSettings& s) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Err(Internal("TLS: " + SslErrors()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!s.pin_sha256.empty()) {
    // The pin is checked after the handshake; chain validation would reject self-signed servers.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  int ok = s.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                             : SSL_CTX_load_verify_locations(ctx.get(), s.ca_file.c_str(), nullptr);
  if (ok != 1) return Err(Unavailable("TLS: loading CA certificates " + s.ca_file + ": " + SslErrors()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

std::string CertificateSha256(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return "";
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(cert, &p) != len) return "";
  return HexEncode(Sha256(der));
}

// One TCP connection, plain or TLS, on a non-blocking socket.
class Connection {
 public:
  Connection(Fd fd, SslPtr ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}
  ~Connection() {
    if (ssl_) {
      ScopedSigpipeBlock block;
      SSL_shutdown(ssl_.get());  // best effort: close_notify if the socket takes it now
    }
  }

  // Runs an OpenSSL call to completion, waiting on the socket as it asks. Returns its result (> 0)
  // or the error.
  template <typename Op>
  static Result<int> RunSsl(SSL* ssl, int fd, Progress& progress, const std::string& what, Op op) {
    for (;;) {
      ERR_clear_error();
      int rc = op();
      if (rc > 0) return rc;
      int err = SSL_get_error(ssl, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        WARD_RETURN_IF_ERROR(WaitFd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, progress, what));
        continue;
      }
      std::string detail = SslErrors();
      if (err == SSL_ERROR_SYSCALL) detail = errno ? ErrnoText(errno) : "connection closed by the peer";
      if (err == SSL_ERROR_ZERO_RETURN) detail = "connection closed by the peer";
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) detail += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
      return Err(Unavailable(what + ": " + detail));
    }
  }

  static Result<std::unique_ptr<Connection>> Open(const SyslogSettings& s, SSL_CTX* tls, Progress& progress) {
    WARD_ASSIGN_OR_RETURN(Fd fd, Connect(s, progress));
    if (!tls) return std::make_unique<Connection>(std::move(fd), nullptr);
    progress.Touch();
    SslPtr ssl(SSL_new(tls));
    if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) return Err(Internal("TLS: " + SslErrors()));
    const std::string& name = s.server_name.empty() ? s.host : s.server_name;
    in6_addr addr;
    const bool is_ip = inet_pton(AF_INET, name.c_str(), &addr) == 1 || inet_pton(AF_INET6, name.c_str(), &addr) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(ssl.get(), name.c_str());
    if (s.pin_sha256.empty()) {
      int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str()) : SSL_set1_host(ssl.get(), name.c_str());
      if (ok != 1) return Err(Internal("TLS: setting the name to verify: " + SslErrors()));
    }
    const std::string what = "TLS handshake with " + s.host + ":" + s.port;
    {
      ScopedSigpipeBlock block;
      auto done = RunSsl(ssl.get(), fd.get(), progress, what, [&] { return SSL_connect(ssl.get()); });
      if (!done) return Err(done.error());
    }
    if (!s.pin_sha256.empty()) {
      X509* cert = SSL_get1_peer_certificate(ssl.get());
      std::string actual = cert ? CertificateSha256(cert) : "";
      X509_free(cert);
      if (actual != s.pin_sha256) {
        return Err(Unavailable("TLS: the certificate of " + s.host + ":" + s.port +
                               " does not match pinSha256 (got " + (actual.empty() ? "none" : actual) + ")"));
      }
    }
    return std::make_unique<Connection>(std::move(fd), std::move(ssl));
  }

  Status Write(std::string_view data, Progress& progress) {
    size_t done = 0;
    ScopedSigpipeBlock block;
    while (done < data.size()) {
      const char* p = data.data() + done;
      const size_t left = data.size() - done;
      if (ssl_) {
        WARD_ASSIGN_OR_RETURN(int n, RunSsl(ssl_.get(), fd_.get(), progress, "TLS write", [&] {
          return SSL_write(ssl_.get(), p, static_cast<int>(std::min<size_t>(left, INT_MAX)));
        }));
        done += static_cast<size_t>(n);
      } else {
        ssize_t n = ::send(fd_.get(), p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          WARD_RETURN_IF_ERROR(WaitFd(fd_.get(), POLLOUT, progress, "writing"));
          continue;
        }
        if (n < 0) return Unavailable("writing: " + ErrnoText(errno));
        done += static_cast<size_t>(n);
      }
      progress.Touch();
    }
    return Status::Ok();
  }

  // Waits until the peer's TCP has acknowledged every byte written: SIOCOUTQ counts the bytes not yet
  // acknowledged (sent or not), tcpi_unacked the segments in flight.
  Status WaitAcknowledged(Progress& progress) {
    int last_queued = INT_MAX;
    int sleep_ms = 1;
    for (;;) {
      int queued = 0;
      tcp_info info{};
      socklen_t len = sizeof info;
      if (::ioctl(fd_.get(), SIOCOUTQ, &queued) != 0 || ::getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return Unavailable("reading the connection state: " + ErrnoText(errno));
      // CLOSE_WAIT: the peer sent FIN, but what it acknowledged before that it has.
      if (info.tcpi_state != TCP_ESTABLISHED && info.tcpi_state != TCP_CLOSE_WAIT)
        return Unavailable("connection closed or reset with " + std::to_string(queued) + " bytes unacknowledged");
      if (queued == 0 && info.tcpi_unacked == 0) return Status::Ok();
      if (queued < last_queued) {
        last_queued = queued;
        progress.Touch();
      }
      if (progress.Expired()) {
        return Unavailable("timed out after " + std::to_string(progress.timeout().count()) + " ms waiting for the peer to acknowledge " +
                           std::to_string(queued) + " bytes");
      }
      // Sleeps in poll so that an error or hang-up ends the wait early.
      pollfd p{fd_.get(), 0, 0};
      ::poll(&p, 1, std::min(sleep_ms, std::max(progress.RemainingMs(), 1)));
      sleep_ms = std::min(sleep_ms * 2, 20);
    }
  }

  // True when the peer has closed or reset the connection. Receivers send nothing, so whatever
  // arrives (TLS session tickets) is read and dropped.
  bool PeerClosed() {
    char buf[4096];
    for (;;) {
      if (ssl_) {
        ScopedSigpipeBlock block;
        ERR_clear_error();
        int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n > 0) continue;
        int err = SSL_get_error(ssl_.get(), n);
        return err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
      }
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
  }

 private:
  Fd fd_;
  SslPtr ssl_;
};

// --- The sink ------------------------------------------------------------------------------------

class SyslogSink final : public Sink {
 public:
  explicit SyslogSink(SyslogSettings settings) : s_(std::move(settings)) {}

  Status Deliver(std::span<const StreamRecord> records, std::vector<Rejection>* rejected) override {
    std::vector<Message> messages;
    messages.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      auto text = FormatSyslogMessage(records[i], s_.format);
      if (!text) {
        rejected->push_back({i, text.error().message()});
      } else if (text->size() > s_.max_message_bytes) {
        rejected->push_back({i, "message of " + std::to_string(text->size()) + " bytes exceeds maxMessageBytes (" +
                                    std::to_string(s_.max_message_bytes) + ")"});
      } else {
        messages.push_back({i, std::move(*text)});
      }
    }
    if (messages.empty()) return Status::Ok();
    return s_.protocol == Protocol::kUdp ? SendDatagrams(messages, rejected) : SendStream(messages);
  }

 private:
  struct Message {
    size_t index;  // in the batch
    std::string text;
  };

  Status SendDatagrams(const std::vector<Message>& messages, std::vector<Rejection>* rejected) {
    Progress progress(s_.timeout);
    if (udp_.get() < 0) {
      WARD_ASSIGN_OR_RETURN(udp_, Connect(s_, progress));
    }
    for (const Message& m : messages) {
      for (;;) {
        ssize_t n = ::send(udp_.get(), m.text.data(), m.text.size(), MSG_NOSIGNAL);
        if (n >= 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          WARD_RETURN_IF_ERROR(WaitFd(udp_.get(), POLLOUT, progress, "sending a datagram"));
          continue;
        }
        if (errno == EMSGSIZE) {
          // Larger than this path allows although under maxMessageBytes: it can never go.
          rejected->push_back({m.index, "datagram of " + std::to_string(m.text.size()) + " bytes: " + ErrnoText(errno)});
          break;
        }
        Status st = Unavailable("syslog " + s_.host + ":" + s_.port + ": sending: " + ErrnoText(errno));
        udp_.Reset();  // resolved again next time
        return st;
      }
      progress.Touch();
    }
    return Status::Ok();
  }

  Status SendStream(const std::vector<Message>& messages) {
    std::string wire;
    size_t size = 0;
    for (const Message& m : messages) size += m.text.size() + 12;
    wire.reserve(size);
    for (const Message& m : messages) {
      if (s_.octet_counting) {
        wire += std::to_string(m.text.size());
        wire += ' ';
        wire += m.text;
      } else {
        wire += m.text;
        wire += '\n';
      }
    }
    Progress progress(s_.timeout);
    if (conn_ && conn_->PeerClosed()) conn_.reset();  // the receiver restarted since the last batch
    if (!conn_) {
      if (s_.protocol == Protocol::kTls && !tls_) {
        WARD_ASSIGN_OR_RETURN(tls_, MakeTlsContext(s_));
      }
      WARD_ASSIGN_OR_RETURN(conn_, Connection::Open(s_, tls_.get(), progress));
      progress.Touch();
    }
    Status st = conn_->Write(wire, progress);
    if (st.ok()) st = conn_->WaitAcknowledged(progress);
    if (!st.ok()) {
      conn_.reset();
      return Unavailable("syslog " + s_.host + ":" + s_.port + ": " + st.message());
    }
    return Status::Ok();
  }

  SyslogSettings s_;
  Fd udp_;
  SslCtxPtr tls_;
  std::unique_ptr<Connection> conn_;
};

Status Validate(const json::Value& v) {
  auto parsed = Parse(v);
  return parsed ? Status::Ok() : parsed.error();
}

Result<std::unique_ptr<Sink>> Make(const json::Value& v, const SinkContext&) {
  WARD_ASSIGN_OR_RETURN(SyslogSettings s, Parse(v));
  return std::unique_ptr<Sink>(std::make_unique<SyslogSink>(std::move(s)));
}

}  // namespace

int SyslogSeverityOf(std::string_view mde_severity) {
  constexpr int kSeverity[] = {4, 5, 4, 3, 2};  // by cef::AlertSeverity: unknown is a warning
  return kSeverity[static_cast<int>(cef::ParseAlertSeverity(mde_severity))];
}

Result<std::string> FormatSyslogMessage(const StreamRecord& record, const SyslogFormat& format) {
  std::string msg;
  if (format.cef && record.table_name == "AlertInfo") {
    WARD_ASSIGN_OR_RETURN(msg, cef::FormatAlert(record));
  }
  // RFC 5424 allows at most 6 fraction digits; ticks have 7.
  std::string time = FormatIsoTicks(record.time_ticks);
  time.erase(26, 1);
  std::string sd = "[ward@32473";
  AppendParam(sd, "tenantId", record.tenant_id);
  AppendParam(sd, "deviceId", record.device_id);
  sd = sd.size() == 11 ? "-" : sd + "]";
  std::string msgid(record.table_name.substr(0, 32));
  if (!IsPrintUsAscii(msgid, 32)) msgid = "-";

  std::string out = "<" + std::to_string(format.facility * 8 + SeverityOfRecord(record)) + ">1 ";
  out.reserve(out.size() + time.size() + format.hostname.size() + format.app_name.size() + msgid.size() + sd.size() +
              (msg.empty() ? record.json.size() : msg.size()) + 8);
  out += time;
  out += ' ';
  out += format.hostname;
  out += ' ';
  out += format.app_name;
  out += " - ";
  out += msgid;
  out += ' ';
  out += sd;
  out += ' ';
  // No BOM before the UTF-8 MSG: many collectors keep it as part of the text, which breaks JSON.
  out += msg.empty() ? record.json : msg;
  return out;
}

const DestinationType& SyslogDestination() {
  static const DestinationType type{"Syslog", {}, &Validate, &Make};
  return type;
}

}  // namespace ward::stream
