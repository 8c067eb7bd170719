#pragma once
// Helpers for tests that must change kernel state (nftables rules, fanotify marks): the work runs in a
// forked child that first moves into namespaces of its own, so the host's firewall and mounts are
// never touched. The child cannot use gtest assertions (they would not reach the parent), so it
// collects failures as text with CHILD_EXPECT and the parent asserts on what came back.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ward::test {

// Failures seen in a child, one line each.
struct ChildFailures {
  std::string text;
  void Add(const char* file, int line, const std::string& what) {
    text += std::string(file) + ":" + std::to_string(line) + ": " + what + "\n";
  }
};

// Records a failure (and goes on) when `cond` is false. `failures` must be a ChildFailures in scope.
#define CHILD_EXPECT(failures, cond, msg)                                         \
  do {                                                                            \
    if (!(cond)) (failures).Add(__FILE__, __LINE__, std::string(#cond) + ": " + (msg)); \
  } while (0)

// Runs `body` in a forked child and returns its failures ("" when it passed). A child that crashes,
// exits early or runs past `timeout` (then killed, by pid) is a failure too.
inline std::string RunInChild(const std::function<void(ChildFailures&)>& body,
                              std::chrono::seconds timeout = std::chrono::seconds(120)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    ChildFailures failures;
    body(failures);
    std::string out = "done\n" + failures.text;
    for (size_t off = 0; off < out.size();) {
      ssize_t n = ::write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out) return "child timed out\n" + out;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child died (status " + std::to_string(status) + ")\n" + out;
  if (out.rfind("done\n", 0) != 0) return "child reported nothing\n" + out;
  return out.substr(5);
}

// Runs `body` in a child that first moves into new namespaces (`unshare_flags`; with CLONE_NEWNS the
// mounts are also made private, so nothing mounted there propagates to the host) and builds a Lab
// there (`std::string Setup()`: "" or what failed). If the namespaces cannot be made, nothing runs.
template <typename Lab>
std::string RunInLab(int unshare_flags, const std::function<void(ChildFailures&, Lab&)>& body) {
  return RunInChild([&](ChildFailures& f) {
    if (::unshare(unshare_flags) != 0 ||
        ((unshare_flags & CLONE_NEWNS) && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)) {
      f.Add(__FILE__, __LINE__, "cannot make private namespaces");
      return;  // never fall through to the host's namespaces
    }
    Lab lab;
    if (std::string err = lab.Setup(); !err.empty()) {
      f.Add(__FILE__, __LINE__, "lab: " + err);
      return;
    }
    body(f, lab);
  });
}

// Runs a program (absolute path, no shell) and returns its exit code, -1 when it could not run (then
// `spawn_error`, when given, holds the errno of the failed exec). Output goes to /dev/null unless
// `keep_output`.
inline int RunProgram(const std::vector<std::string>& argv, bool keep_output = false, int* spawn_error = nullptr) {
  if (spawn_error) *spawn_error = 0;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!keep_output) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (spawn_error) *spawn_error = rc;
    return -1;
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ward::test
