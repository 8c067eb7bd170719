#pragma once
// A two-namespace network for isolation tests. Construct it only in a child that has called
// unshare(CLONE_NEWNET) (RunInChild): it then builds
//
//   this namespace:  lo (127.0.0.1, a listener)   veth0 10.200.0.1/24
//                                                    |
//   peer namespace:                                veth1 10.200.0.2/24 (a "peer" listener)
//                                                        10.200.0.9/24 (two "server" listeners)
//
// The peer namespace is held by a forked child that does nothing else; the listeners are sockets of
// this process created inside it (setns), served by one echo thread. Everything goes away with the
// namespaces when the test child exits.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "response/child_process.h"
#include "sensor/util.h"

namespace ward::test {

inline constexpr const char* kLabLocal = "10.200.0.1";
inline constexpr const char* kLabPeer = "10.200.0.2";
inline constexpr const char* kLabServer = "10.200.0.9";
// How long a connection or echo that should fail is given: failures here are drops (timeouts).
inline constexpr std::chrono::milliseconds kExpectFail{800};
// How long one that should succeed is given: generous, so a loaded machine does not fail the test.
inline constexpr std::chrono::milliseconds kExpectOk{5000};

inline int IpCommand(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/sbin/ip");
  return RunProgram(args);
}

// A TCP listener on addr with a kernel-chosen port, in the calling thread's namespace.
inline sensor::UniqueFd ListenTcp(const std::string& addr, uint16_t* port) {
  sensor::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  socklen_t len = sizeof(sa);
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::listen(fd.get(), 64) != 0 || ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return sensor::UniqueFd();
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

// A connected socket, or an invalid one when the connection did not complete within `timeout`.
inline sensor::UniqueFd ConnectTcp(const std::string& addr, uint16_t port, std::chrono::milliseconds timeout) {
  sensor::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (errno != EINPROGRESS) return sensor::UniqueFd();
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return sensor::UniqueFd();
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return sensor::UniqueFd();
  }
  return fd;
}

inline bool CanConnect(const std::string& addr, uint16_t port, std::chrono::milliseconds timeout) {
  return ConnectTcp(addr, port, timeout).valid();
}

// Sends one byte on a connection to an echo listener and waits for it to come back.
inline bool Echoes(int fd, std::chrono::milliseconds timeout) {
  char c = 'x';
  if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  return ::recv(fd, &c, 1, 0) == 1;
}

class NetLab {
 public:
  NetLab() = default;
  NetLab(const NetLab&) = delete;
  NetLab& operator=(const NetLab&) = delete;
  ~NetLab() {
    sensor::NotifyEventFd(stop_);
    if (echo_.joinable()) echo_.join();
    if (holder_ > 0) {
      ::kill(holder_, SIGKILL);
      ::waitpid(holder_, nullptr, 0);
    }
  }

  // "" when the lab is up (every listener reachable), else what failed.
  std::string Setup() {
    own_ns_.Reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!own_ns_.valid()) return "cannot open own netns";
    if (IpCommand({"link", "set", "lo", "up"}) != 0) return "lo up failed";
    int ready[2];
    if (::pipe(ready) != 0) return "pipe failed";
    holder_ = ::fork();
    if (holder_ < 0) return "fork failed";
    if (holder_ == 0) {
      ::close(ready[0]);
      char c = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      if (::write(ready[1], &c, 1) != 1) ::_exit(1);
      while (true) ::pause();  // holds the namespace until killed
    }
    ::close(ready[1]);
    char c = 0;
    bool ok = ::read(ready[0], &c, 1) == 1 && c == 'y';
    ::close(ready[0]);
    if (!ok) return "peer namespace failed";
    std::string holder = std::to_string(holder_);
    if (IpCommand({"link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", holder}) != 0) {
      return "veth add failed";
    }
    if (IpCommand({"addr", "add", std::string(kLabLocal) + "/24", "dev", "veth0"}) != 0 ||
        IpCommand({"link", "set", "veth0", "up"}) != 0) {
      return "veth0 setup failed";
    }
    sensor::UniqueFd peer_ns(::open(("/proc/" + holder + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!peer_ns.valid() || ::setns(peer_ns.get(), CLONE_NEWNET) != 0) return "setns to peer failed";
    std::string err;
    if (IpCommand({"link", "set", "lo", "up"}) != 0 ||
        IpCommand({"addr", "add", std::string(kLabPeer) + "/24", "dev", "veth1"}) != 0 ||
        IpCommand({"addr", "add", std::string(kLabServer) + "/24", "dev", "veth1"}) != 0 ||
        IpCommand({"link", "set", "veth1", "up"}) != 0) {
      err = "veth1 setup failed";
    }
    AddListener(kLabPeer, &peer_port);
    AddListener(kLabServer, &server_port);
    AddListener(kLabServer, &server_port2);
    if (::setns(own_ns_.get(), CLONE_NEWNET) != 0) return "setns back failed";  // the child is unusable
    if (!err.empty()) return err;
    AddListener("127.0.0.1", &loop_port);
    if (listeners_.size() != 4) return "listener setup failed";
    stop_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    echo_ = std::thread([this] { Serve(); });
    // veth links come up asynchronously.
    for (int i = 0; i < 50; ++i) {
      if (CanConnect(kLabPeer, peer_port, std::chrono::milliseconds(200))) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "peer never became reachable";
  }

  uint16_t peer_port = 0, server_port = 0, server_port2 = 0, loop_port = 0;

 private:
  void AddListener(const char* addr, uint16_t* port) {
    auto fd = ListenTcp(addr, port);
    if (fd.valid()) listeners_.push_back(std::move(fd));
  }

  // Accepts on every listener and echoes what each connection sends.
  void Serve() {
    std::vector<sensor::UniqueFd> conns;
    while (true) {
      std::vector<pollfd> fds{{stop_.get(), POLLIN, 0}};
      for (auto& l : listeners_) fds.push_back({l.get(), POLLIN, 0});
      for (auto& c : conns) fds.push_back({c.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      if (fds[0].revents) return;
      for (size_t i = 0; i < listeners_.size(); ++i) {
        if (!fds[1 + i].revents) continue;
        sensor::UniqueFd c(::accept4(listeners_[i].get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (c.valid()) conns.push_back(std::move(c));
      }
      for (size_t i = 0, base = 1 + listeners_.size(); base + i < fds.size(); ++i) {
        if (!fds[base + i].revents) continue;
        char buf[256];
        ssize_t n = ::recv(fds[base + i].fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          conns[i].Reset();
        } else {
          (void)::send(fds[base + i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
        }
      }
      std::erase_if(conns, [](const sensor::UniqueFd& c) { return !c.valid(); });
    }
  }

  pid_t holder_ = -1;
  sensor::UniqueFd own_ns_;
  std::vector<sensor::UniqueFd> listeners_;
  sensor::UniqueFd stop_;
  std::thread echo_;
};

}  // namespace ward::test
