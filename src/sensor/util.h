#pragma once
// Small POSIX helpers shared by the sensor: owned file descriptors, whole-file reads, atomic writes,
// a stoppable sleeper and string helpers.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::sensor {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Reads a whole file (up to max_bytes). nullopt when it cannot be opened or read. Works for /proc
// files, whose st_size is 0.
std::optional<std::string> ReadFile(const std::string& path, size_t max_bytes = 16 * 1024 * 1024);
// Reads relative to a directory fd (openat), e.g. ReadFileAt(proc_fd, "1234/stat").
std::optional<std::string> ReadFileAt(int dir_fd, const char* path, size_t max_bytes = 64 * 1024);
// For /proc files: one read() when the content fits 4 KiB (saves the read that returns 0).
std::optional<std::string> ReadProcFileAt(int dir_fd, const char* path, size_t max_bytes = 64 * 1024);
// Writes via a temporary file + fsync + rename, with the given mode, so readers see old or new data.
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0600, bool sync = true);
// mkdir -p with the given mode for created directories.
Status MakeDirs(const std::string& path, unsigned mode = 0700);

std::string_view Trim(std::string_view s);
std::vector<std::string_view> SplitLines(std::string_view s);
// The first max_fields fields of a line separated by runs of spaces and tabs (as /proc tables are).
std::vector<std::string_view> SplitFields(std::string_view line, size_t max_fields);
bool StartsWith(std::string_view s, std::string_view prefix);
std::string AsciiLower(std::string_view s);
std::string BaseName(std::string_view path);
std::string DirName(std::string_view path);  // "/usr/bin/ls" -> "/usr/bin"; "/x" -> "/"
std::string JoinPath(std::string_view dir, std::string_view name);

// Wakes whatever poll()s an eventfd (a collector thread being stopped); no-op on an invalid fd.
void NotifyEventFd(const UniqueFd& event_fd);

// Sleeps that end early when Stop() is called; for worker threads.
class Stopper {
 public:
  // Returns false when stopped (immediately or during the wait).
  bool SleepFor(std::chrono::steady_clock::duration d);
  void Stop();
  bool stopped() const;
  void Reset();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

// Names the calling thread (visible in top -H and /proc/<pid>/task/*/comm; max 15 characters).
void SetThreadName(const char* name);

// Short host name and FQDN-ish name (gethostname; no DNS lookups, which could block at boot).
std::string HostName();

}  // namespace ward::sensor
