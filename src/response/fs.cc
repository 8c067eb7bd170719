#include "response/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/time.h"
#include "sensor/proc.h"

namespace ward::response {

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFound(std::move(msg));
    case EACCES:
    case EPERM:
      return PermissionDenied(std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

Result<OpenFile> OpenRegular(const std::string& path, bool follow_symlinks) {
  int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow_symlinks ? 0 : O_NOFOLLOW);
  OpenFile f;
  f.fd.Reset(::open(path.c_str(), flags));
  if (!f.fd.valid()) {
    if (errno == ELOOP) return Err(FailedPrecondition(path + " is a symbolic link"));
    return Err(ErrnoStatus("open", path, errno));
  }
  if (::fstat(f.fd.get(), &f.st) != 0) return Err(ErrnoStatus("fstat", path, errno));
  if (!S_ISREG(f.st.st_mode)) return Err(FailedPrecondition(path + " is not a regular file"));
  return f;
}

namespace {
// pread that retries when interrupted.
ssize_t PreadRetry(int fd, char* buf, size_t n, off_t off) {
  ssize_t r;
  do {
    r = ::pread(fd, buf, n, off);
  } while (r < 0 && errno == EINTR);
  return r;
}
}  // namespace

Result<std::string> ReadFd(int fd, int64_t max_bytes, bool must_fit) {
  std::string out;
  char buf[64 * 1024];
  off_t off = 0;
  while (true) {
    ssize_t n = PreadRetry(fd, buf, sizeof buf, off);
    if (n < 0) return Err(Internal(std::string("read: ") + std::strerror(errno)));
    if (n == 0) break;
    if (static_cast<int64_t>(out.size()) + n > max_bytes) {
      if (must_fit) return Err(ResourceExhausted("file is larger than " + std::to_string(max_bytes) + " bytes"));
      out.append(buf, static_cast<size_t>(max_bytes - static_cast<int64_t>(out.size())));
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

Status CopyToNewFile(int in_fd, const std::string& dest, unsigned mode, int64_t max_bytes) {
  sensor::UniqueFd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!out.valid()) return ErrnoStatus("create", dest, errno);
  auto fail = [&](Status st) {
    out.Reset();
    ::unlink(dest.c_str());
    return st;
  };
  char buf[128 * 1024];
  off_t off = 0;
  while (true) {
    ssize_t n = PreadRetry(in_fd, buf, sizeof buf, off);
    if (n < 0) return fail(ErrnoStatus("read for", dest, errno));
    if (n == 0) break;
    if (off + n > max_bytes) return fail(ResourceExhausted("file is larger than " + std::to_string(max_bytes) + " bytes"));
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail(ErrnoStatus("write", dest, errno));
      }
      done += w;
    }
    off += n;
  }
  if (::fsync(out.get()) != 0) return fail(ErrnoStatus("fsync", dest, errno));
  return Status::Ok();
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::vector<std::string> HomeDirectories(const std::string& root) {
  std::vector<std::string> others;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root + "/home", ec)) {
    if (e.is_directory(ec) && !e.is_symlink(ec)) others.push_back("/home/" + e.path().filename().string());
  }
  std::sort(others.begin(), others.end());
  std::vector<std::string> homes = {"/root"};
  homes.insert(homes.end(), others.begin(), others.end());
  return homes;
}

void SyncParentDir(const std::string& path) {
  sensor::UniqueFd dir(::open(sensor::DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
}

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string SymbolicMode(mode_t mode) {
  std::string s = "?rwxrwxrwx";
  if (S_ISREG(mode)) s[0] = '-';
  else if (S_ISDIR(mode)) s[0] = 'd';
  else if (S_ISLNK(mode)) s[0] = 'l';
  else if (S_ISCHR(mode)) s[0] = 'c';
  else if (S_ISBLK(mode)) s[0] = 'b';
  else if (S_ISFIFO(mode)) s[0] = 'p';
  else if (S_ISSOCK(mode)) s[0] = 's';
  for (int i = 0; i < 9; ++i) {
    if (!(mode & (0400 >> i))) s[1 + i] = '-';
  }
  if (mode & S_ISUID) s[3] = (mode & S_IXUSR) ? 's' : 'S';
  if (mode & S_ISGID) s[6] = (mode & S_IXGRP) ? 's' : 'S';
  if (mode & S_ISVTX) s[9] = (mode & S_IXOTH) ? 't' : 'T';
  return s;
}

namespace {
std::string IsoOf(const struct timespec& ts) {
  return FormatIsoTicks(static_cast<int64_t>(ts.tv_sec) * kTicksPerSecond + ts.tv_nsec / 100);
}
}  // namespace

Result<json::Value> FileInfoJson(const std::string& path, int64_t max_hash_bytes) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Err(ErrnoStatus("stat", path, errno));
  json::Value v = json::Value::Object();
  v.AppendMember("path", json::Value(path));
  v.AppendMember("name", json::Value(sensor::BaseName(path)));
  v.AppendMember("type", json::Value(S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory"
                                      : S_ISLNK(st.st_mode) ? "symlink" : "other"));
  v.AppendMember("size", json::Value(static_cast<int64_t>(st.st_size)));
  v.AppendMember("mode", json::Value(OctalMode(st.st_mode)));
  v.AppendMember("permissions", json::Value(SymbolicMode(st.st_mode)));
  v.AppendMember("uid", json::Value(static_cast<int64_t>(st.st_uid)));
  v.AppendMember("gid", json::Value(static_cast<int64_t>(st.st_gid)));
  v.AppendMember("owner", json::Value(sensor::UserName(st.st_uid)));
  v.AppendMember("modifiedTime", json::Value(IsoOf(st.st_mtim)));
  v.AppendMember("accessedTime", json::Value(IsoOf(st.st_atim)));
  v.AppendMember("changedTime", json::Value(IsoOf(st.st_ctim)));
  if (S_ISLNK(st.st_mode)) {
    v.AppendMember("linkTarget", json::Value(ReadLink(path)));
  }
  if (S_ISREG(st.st_mode) && st.st_size <= max_hash_bytes) {
    if (auto f = OpenRegular(path)) {
      if (auto h = sensor::HashFd(f->fd.get())) {
        v.AppendMember("sha1", json::Value(h->sha1));
        v.AppendMember("sha256", json::Value(h->sha256));
        v.AppendMember("md5", json::Value(h->md5));
      }
    }
  }
  return v;
}

json::Value StringArray(const std::vector<std::string>& items) {
  json::Value out = json::Value::Array();
  for (const std::string& s : items) out.Append(json::Value(s));
  return out;
}

bool SleepUnlessCancelled(std::chrono::steady_clock::duration d, const std::function<bool()>& cancelled) {
  auto end = std::chrono::steady_clock::now() + d;
  while (true) {
    if (cancelled && cancelled()) return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= end) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(50)));
  }
}

bool IsHex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace ward::response
