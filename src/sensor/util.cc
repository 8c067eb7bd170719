#include "sensor/util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ward::sensor {

namespace {

std::optional<std::string> ReadAll(int fd, size_t max_bytes) {
  std::string out;
  char buf[8192];
  while (out.size() < max_bytes) {
    ssize_t n = ::read(fd, buf, std::min(sizeof(buf), max_bytes - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

std::optional<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  return ReadAll(fd.get(), max_bytes);
}

std::optional<std::string> ReadFileAt(int dir_fd, const char* path, size_t max_bytes) {
  UniqueFd fd(::openat(dir_fd, path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  return ReadAll(fd.get(), max_bytes);
}

std::optional<std::string> ReadProcFileAt(int dir_fd, const char* path, size_t max_bytes) {
  UniqueFd fd(::openat(dir_fd, path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return std::nullopt;
  std::string out(buf, static_cast<size_t>(n));
  if (static_cast<size_t>(n) < sizeof(buf)) return out;  // /proc answers small files in one read
  auto rest = ReadAll(fd.get(), max_bytes > out.size() ? max_bytes - out.size() : 0);
  if (rest) out += *rest;
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode, bool sync) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return Internal("creating " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd.get(), mode);  // umask may have narrowed or an old file may have wider bits
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("writing " + tmp + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fdatasync(fd.get()) != 0) return Internal("fsync " + tmp + ": " + std::strerror(errno));
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("renaming " + tmp + ": " + std::strerror(errno));
  return Status::Ok();
}

Status MakeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return InvalidArgument("empty directory path");
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur = path.substr(0, next);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return Internal("mkdir " + cur + ": " + std::strerror(errno));
    }
    pos = next + 1;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Internal(path + " is not a directory");
  return Status::Ok();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitLines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<std::string_view> SplitFields(std::string_view line, size_t max_fields) {
  std::vector<std::string_view> f;
  size_t pos = 0;
  while (pos < line.size() && f.size() < max_fields) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    size_t end = line.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) f.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return f;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

bool Stopper::SleepFor(std::chrono::steady_clock::duration d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopped_; });
  return !stopped_;
}

void Stopper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool Stopper::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

void Stopper::Reset() {
  std::lock_guard lock(mu_);
  stopped_ = false;
}

void SetThreadName(const char* name) { ::pthread_setname_np(::pthread_self(), name); }

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

void NotifyEventFd(const UniqueFd& event_fd) {
  if (!event_fd.valid()) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_fd.get(), &one, sizeof(one));
}

}  // namespace ward::sensor
