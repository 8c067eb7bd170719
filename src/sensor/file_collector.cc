#include "sensor/file_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace ward::sensor {

namespace {

constexpr size_t kReadBuffer = 64 * 1024;

std::string FsidKey(const __kernel_fsid_t& fsid) {
  return std::string(reinterpret_cast<const char*>(&fsid), sizeof(fsid));
}

std::string HandleKey(const __kernel_fsid_t& fsid, const file_handle* fh) {
  std::string key = FsidKey(fsid);
  key.append(reinterpret_cast<const char*>(&fh->handle_type), sizeof(fh->handle_type));
  key.append(reinterpret_cast<const char*>(fh->f_handle), fh->handle_bytes);
  return key;
}

bool IsUnder(std::string_view path, std::string_view prefix) {
  if (prefix.empty()) return false;
  if (prefix.back() == '/') prefix.remove_suffix(1);
  return path == prefix || (path.size() > prefix.size() && StartsWith(path, prefix) && path[prefix.size()] == '/');
}

// Depth-first list of directories under root (root included), not following symlinks or
// crossing into /proc-like pseudo filesystems.
std::vector<std::string> ListDirTree(const std::string& root, size_t limit) {
  std::vector<std::string> out;
  std::vector<std::string> stack{root};
  while (!stack.empty() && out.size() < limit) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    out.push_back(dir);
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st {};
        is_dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      if (is_dir) stack.push_back(JoinPath(dir, e->d_name));
    }
    ::closedir(d);
  }
  return out;
}

std::string NormalizeDir(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

FileCollector::FileCollector(EventSink* sink, ProcessTable* processes, HashCache* hashes, FileCollectorOptions options)
    : sink_(sink), processes_(processes), hashes_(hashes), options_(std::move(options)), self_pid_(::getpid()) {
  for (auto& p : options_.paths) p = NormalizeDir(p);
  for (auto& p : options_.exclude_prefixes) p = NormalizeDir(p);
}

FileCollector::~FileCollector() { Stop(); }

std::string FileCollector::mode() const { return mode_; }
size_t FileCollector::watched_dirs() const { return watched_.load(); }

bool FileCollector::Excluded(const std::string& path) const {
  for (const auto& p : options_.exclude_prefixes) {
    if (IsUnder(path, p)) return true;
  }
  return false;
}

Status FileCollector::Start() {
  stop_ = false;
  bool fan_ok = false, ino_ok = false;
  std::vector<std::string> leftovers;
  if (options_.allow_fanotify && FanotifyInit()) {
    for (const auto& root : options_.paths) {
      if (FanotifyMarkTree(root)) {
        fan_ok = true;
      } else {
        leftovers.push_back(root);
      }
    }
    if (!fan_ok) fan_fd_.Reset();
  } else {
    leftovers = options_.paths;
  }
  if (!leftovers.empty() && InotifyInit()) {
    for (const auto& root : leftovers) {
      if (InotifyWatchTree(root)) {
        ino_ok = true;
      } else {
        log::Warn("cannot watch path", {{"path", root}});
      }
    }
    if (!ino_ok) ino_fd_.Reset();
  }
  if (!fan_ok && !ino_ok) return Unavailable("file collector: no path could be watched");
  mode_ = fan_ok && ino_ok ? "fanotify+inotify" : fan_ok ? "fanotify" : "inotify";
  wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  thread_ = std::thread([this] {
    SetThreadName("ward-file");
    Run();
  });
  log::Info("file collector started", {{"mode", mode_}, {"dirs", std::to_string(watched_.load())}});
  return Status::Ok();
}

void FileCollector::Stop() {
  stop_ = true;
  NotifyEventFd(wake_fd_);
  if (thread_.joinable()) thread_.join();
  fan_fd_.Reset();
  ino_fd_.Reset();
  wake_fd_.Reset();
}

// ---------------------------------------------------------------- fanotify

bool FileCollector::FanotifyInit() {
  int fd = ::fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
  if (fd < 0) {
    log::Info("fanotify unavailable, using inotify", {{"error", std::strerror(errno)}});
    return false;
  }
  fan_fd_.Reset(fd);
  fan_rename_ = true;  // downgraded on the first EINVAL
  return true;
}

bool FileCollector::FanotifyMarkDir(const std::string& dir) {
  if (watched_.load() >= options_.max_watched_dirs) return false;
  uint64_t base = FAN_CREATE | FAN_DELETE | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD | FAN_ONDIR;
  uint64_t mask = base | (fan_rename_ ? FAN_RENAME : (FAN_MOVED_FROM | FAN_MOVED_TO));
  int r = ::fanotify_mark(fan_fd_.get(), FAN_MARK_ADD | FAN_MARK_ONLYDIR, mask, AT_FDCWD, dir.c_str());
  if (r != 0 && errno == EINVAL && fan_rename_) {
    fan_rename_ = false;  // kernel < 5.17
    mask = base | FAN_MOVED_FROM | FAN_MOVED_TO;
    r = ::fanotify_mark(fan_fd_.get(), FAN_MARK_ADD | FAN_MARK_ONLYDIR, mask, AT_FDCWD, dir.c_str());
  }
  if (r != 0) return false;
  // Remember the directory's handle so event records can be mapped back to its path.
  struct statfs sfs {};
  if (::statfs(dir.c_str(), &sfs) != 0) return true;
  __kernel_fsid_t fsid;
  std::memcpy(&fsid, &sfs.f_fsid, sizeof(fsid));
  alignas(file_handle) char storage[sizeof(file_handle) + MAX_HANDLE_SZ];
  auto* fh = reinterpret_cast<file_handle*>(storage);
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, dir.c_str(), fh, &mount_id, 0) == 0) fan_dirs_[HandleKey(fsid, fh)] = dir;
  std::string fs_key = FsidKey(fsid);
  if (!fan_mount_fds_.count(fs_key)) {
    UniqueFd mfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (mfd.valid()) fan_mount_fds_.emplace(fs_key, std::move(mfd));
  }
  watched_.fetch_add(1);
  return true;
}

bool FileCollector::FanotifyMarkTree(const std::string& root) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (!FanotifyMarkDir(root)) {
    log::Info("fanotify cannot mark path, using inotify for it", {{"path", root}, {"error", std::strerror(errno)}});
    return false;
  }
  auto dirs = ListDirTree(root, options_.max_watched_dirs);
  for (size_t i = 1; i < dirs.size(); ++i) {
    if (!Excluded(dirs[i])) FanotifyMarkDir(dirs[i]);
  }
  return true;
}

std::string FileCollector::ResolveDirHandle(const void* info, std::string* key_out) {
  auto* fid = static_cast<const fanotify_event_info_fid*>(info);
  auto* fh = reinterpret_cast<const file_handle*>(fid->handle);
  std::string key = HandleKey(fid->fsid, fh);
  if (key_out) *key_out = key;
  if (auto it = fan_dirs_.find(key); it != fan_dirs_.end()) return it->second;
  // Not a directory we marked (e.g. the other side of a rename): ask the kernel.
  auto mount = fan_mount_fds_.find(FsidKey(fid->fsid));
  if (mount == fan_mount_fds_.end()) return {};
  alignas(file_handle) char storage[sizeof(file_handle) + MAX_HANDLE_SZ];
  auto* copy = reinterpret_cast<file_handle*>(storage);
  if (fh->handle_bytes > MAX_HANDLE_SZ) return {};
  std::memcpy(copy, fh, sizeof(file_handle) + fh->handle_bytes);
  UniqueFd fd(::open_by_handle_at(mount->second.get(), copy, O_PATH | O_CLOEXEC));
  if (!fd.valid()) return {};
  char link[64], path[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd.get());
  ssize_t n = ::readlink(link, path, sizeof(path));
  if (n <= 0) return {};
  return std::string(path, static_cast<size_t>(n));
}

void FileCollector::FanotifyRead() {
  alignas(fanotify_event_metadata) char buf[kReadBuffer];
  while (!stop_) {
    ssize_t len = ::read(fan_fd_.get(), buf, sizeof(buf));
    if (len < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained
    }
    if (len == 0) return;
    auto* meta = reinterpret_cast<const fanotify_event_metadata*>(buf);
    for (; FAN_EVENT_OK(meta, len); meta = FAN_EVENT_NEXT(meta, len)) {
      if (meta->vers != FANOTIFY_METADATA_VERSION) return;
      if (meta->mask & FAN_Q_OVERFLOW) {
        sink_->CountDropped("file_events_overflow", 1);
        continue;
      }
      if (meta->fd >= 0) ::close(meta->fd);  // not expected with FID reporting
      int pid = meta->pid;
      std::string path, old_path, new_path;
      const char* p = reinterpret_cast<const char*>(meta) + meta->metadata_len;
      const char* end = reinterpret_cast<const char*>(meta) + meta->event_len;
      while (p + sizeof(fanotify_event_info_header) <= end) {
        auto* hdr = reinterpret_cast<const fanotify_event_info_header*>(p);
        if (hdr->len == 0) break;
        if (hdr->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || hdr->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
            hdr->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME) {
          auto* fid = reinterpret_cast<const fanotify_event_info_fid*>(p);
          auto* fh = reinterpret_cast<const file_handle*>(fid->handle);
          const char* name = reinterpret_cast<const char*>(fh->f_handle) + fh->handle_bytes;
          std::string dir = ResolveDirHandle(p, nullptr);
          std::string full;
          if (!dir.empty() && std::strcmp(name, ".") != 0) full = JoinPath(dir, name);
          if (hdr->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME) {
            old_path = std::move(full);
          } else if (hdr->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME) {
            new_path = std::move(full);
          } else {
            path = std::move(full);
          }
        }
        p += hdr->len;
      }
      // The sensor's own writes are not reported, but its directory changes still update the marks.
      suppress_ = pid == self_pid_;
      bool is_dir = meta->mask & FAN_ONDIR;
      uint64_t mask = meta->mask;
      if (mask & FAN_RENAME) {
        if (!old_path.empty() || !new_path.empty()) OnRename(old_path, new_path, is_dir, pid);
      }
      if (path.empty()) continue;
      // Merged masks lose the order; creation before deletion is the common case (temp files),
      // unless the file exists now (replaced).
      bool exists = (mask & FAN_DELETE) && (mask & FAN_CREATE) && ::access(path.c_str(), F_OK) == 0;
      if ((mask & FAN_DELETE) && exists) OnDelete(path, is_dir, pid);
      if (mask & FAN_MOVED_FROM) {
        fan_moved_from_ = path;
        fan_moved_from_pid_ = pid;
      }
      if (mask & FAN_MOVED_TO) {
        OnRename(fan_moved_from_, path, is_dir, pid);
        fan_moved_from_.clear();
      }
      if (mask & FAN_CREATE) OnCreate(path, is_dir, pid);
      if (mask & FAN_MODIFY) OnModify(path, pid);
      if (mask & FAN_CLOSE_WRITE) OnCloseWrite(path, pid);
      if ((mask & FAN_DELETE) && !exists) OnDelete(path, is_dir, pid);
    }
    suppress_ = false;
  }
}

// ---------------------------------------------------------------- inotify

bool FileCollector::InotifyInit() {
  int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) {
    log::Error("inotify unavailable", {{"error", std::strerror(errno)}});
    return false;
  }
  ino_fd_.Reset(fd);
  return true;
}

bool FileCollector::InotifyWatchDir(const std::string& dir) {
  if (watched_.load() >= options_.max_watched_dirs) return false;
  uint32_t mask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_ONLYDIR |
                  IN_DONT_FOLLOW | IN_EXCL_UNLINK;
  int wd = ::inotify_add_watch(ino_fd_.get(), dir.c_str(), mask);
  if (wd < 0) return false;
  if (ino_paths_.emplace(wd, dir).second) watched_.fetch_add(1);
  return true;
}

bool FileCollector::InotifyWatchTree(const std::string& root) {
  if (!InotifyWatchDir(root)) return false;
  auto dirs = ListDirTree(root, options_.max_watched_dirs);
  for (size_t i = 1; i < dirs.size(); ++i) {
    if (!Excluded(dirs[i])) InotifyWatchDir(dirs[i]);
  }
  return true;
}

void FileCollector::InotifyRead() {
  alignas(inotify_event) char buf[kReadBuffer];
  while (!stop_) {
    ssize_t len = ::read(ino_fd_.get(), buf, sizeof(buf));
    if (len < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (len == 0) return;
    for (char* p = buf; p < buf + len;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        sink_->CountDropped("file_events_overflow", 1);
        continue;
      }
      if (ev->mask & IN_IGNORED) {
        if (ino_paths_.erase(ev->wd)) watched_.fetch_sub(1);
        continue;
      }
      auto it = ino_paths_.find(ev->wd);
      if (it == ino_paths_.end() || ev->len == 0) continue;
      std::string path = JoinPath(it->second, ev->name);
      bool is_dir = ev->mask & IN_ISDIR;
      if (ev->mask & IN_MOVED_FROM) {
        ino_moves_[ev->cookie] = MovedFrom{path, is_dir, std::chrono::steady_clock::now()};
      }
      if (ev->mask & IN_MOVED_TO) {
        auto m = ino_moves_.find(ev->cookie);
        std::string from = m == ino_moves_.end() ? std::string() : m->second.path;
        if (m != ino_moves_.end()) ino_moves_.erase(m);
        OnRename(from, path, is_dir, 0);
      }
      if (ev->mask & IN_CREATE) OnCreate(path, is_dir, 0);
      if (ev->mask & IN_MODIFY) OnModify(path, 0);
      if (ev->mask & IN_CLOSE_WRITE) OnCloseWrite(path, 0);
      if (ev->mask & IN_DELETE) OnDelete(path, is_dir, 0);
    }
  }
}

void FileCollector::FlushStaleMoves() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = ino_moves_.begin(); it != ino_moves_.end();) {
    if (now - it->second.at > std::chrono::milliseconds(100)) {
      // Moved out of the watched trees.
      MovedFrom m = std::move(it->second);
      it = ino_moves_.erase(it);
      OnRename(m.path, "", m.is_dir, 0);
    } else {
      ++it;
    }
  }
}

// ---------------------------------------------------------------- shared logic

void FileCollector::RenameDirPrefix(const std::string& from, const std::string& to) {
  auto rewrite = [&](std::string& p) {
    if (IsUnder(p, from)) p = to + p.substr(from.size());
  };
  for (auto& [k, v] : fan_dirs_) rewrite(v);
  for (auto& [k, v] : ino_paths_) rewrite(v);
  std::map<std::string, Pending> moved;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (IsUnder(it->first, from)) {
      std::string p = it->first;
      rewrite(p);
      moved.emplace(std::move(p), it->second);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  pending_.merge(moved);
}

void FileCollector::OnCreate(const std::string& path, bool is_dir, int pid) {
  if (Excluded(path)) return;
  if (is_dir) {
    // Watch the new directory (and anything created in it before the mark landed).
    if (fan_fd_.valid()) {
      for (const auto& d : ListDirTree(path, options_.max_watched_dirs)) FanotifyMarkDir(d);
    } else if (ino_fd_.valid()) {
      for (const auto& d : ListDirTree(path, options_.max_watched_dirs)) InotifyWatchDir(d);
    }
    return;
  }
  if (suppress_) return;  // the sensor's own file
  auto now = std::chrono::steady_clock::now();
  auto it = pending_.find(path);
  if (it != pending_.end()) {
    // Re-created before the previous report was due: report the earlier one now.
    FlushOne(path, path);
  }
  pending_[path] = Pending{Kind::kCreated, pid, now, now, NowTicks(), now};
}

void FileCollector::OnModify(const std::string& path, int pid) {
  if (suppress_ || Excluded(path)) return;
  auto now = std::chrono::steady_clock::now();
  auto it = pending_.find(path);
  if (it != pending_.end()) {
    it->second.last = now;
    if (pid > 0) it->second.pid = pid;
    return;
  }
  auto not_before = now;
  if (auto r = last_modified_report_.find(path); r != last_modified_report_.end()) {
    not_before = std::max(now, r->second + options_.modified_interval);
  }
  pending_[path] = Pending{Kind::kModified, pid, now, now, NowTicks(), not_before};
}

void FileCollector::OnCloseWrite(const std::string& path, int pid) {
  auto it = pending_.find(path);
  if (it != pending_.end() && std::chrono::steady_clock::now() >= it->second.not_before) FlushOne(path, path);
}

void FileCollector::OnDelete(const std::string& path, bool is_dir, int pid) {
  if (Excluded(path)) return;
  if (is_dir) {
    for (auto it = fan_dirs_.begin(); it != fan_dirs_.end();) {
      if (IsUnder(it->second, path)) {
        it = fan_dirs_.erase(it);
        watched_.fetch_sub(1);
      } else {
        ++it;
      }
    }
    return;
  }
  if (pending_.count(path)) FlushOne(path, path);
  EmitFile("FileDeleted", path, "", pid, NowTicks(), nullptr);
}

void FileCollector::OnRename(const std::string& from, const std::string& to, bool is_dir, int pid) {
  bool from_ok = !from.empty() && !Excluded(from);
  bool to_ok = !to.empty() && !Excluded(to);
  if (is_dir) {
    if (!from.empty() && !to.empty()) RenameDirPrefix(from, to);
    if (from.empty() && to_ok) OnCreate(to, true, pid);  // moved in: watch it
    return;
  }
  if (!from_ok && !to_ok) return;
  if (!from.empty() && pending_.count(from)) FlushOne(from, to.empty() ? from : to);
  if (!to.empty() && pending_.count(to)) pending_.erase(to);  // overwritten by the rename
  EmitFile("FileRenamed", to_ok ? to : std::string(), to_ok ? to : std::string(), pid, NowTicks(),
           from_ok ? &from : nullptr);
}

void FileCollector::FlushOne(const std::string& path, const std::string& hash_path) {
  auto it = pending_.find(path);
  if (it == pending_.end()) return;
  Pending p = it->second;
  pending_.erase(it);
  if (p.kind == Kind::kModified) {
    if (last_modified_report_.size() > 4096) {
      // Forget entries whose interval has passed (they no longer limit anything).
      auto cutoff = std::chrono::steady_clock::now() - options_.modified_interval;
      std::erase_if(last_modified_report_, [&](const auto& e) { return e.second < cutoff; });
    }
    last_modified_report_[path] = std::chrono::steady_clock::now();
  }
  EmitFile(p.kind == Kind::kCreated ? "FileCreated" : "FileModified", path, hash_path, p.pid, p.ticks, nullptr);
}

void FileCollector::FlushDue(bool all) {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::string> due;
  for (const auto& [path, p] : pending_) {
    if (all || (now >= p.not_before && (now - p.last >= options_.settle || now - p.first >= options_.max_delay))) {
      due.push_back(path);
    }
  }
  for (const auto& path : due) FlushOne(path, path);
}

void FileCollector::EmitFile(std::string_view action, const std::string& path, const std::string& hash_path, int pid,
                             int64_t ticks, const std::string* previous) {
  if (suppress_) return;
  outgoing_.push_back(Outgoing{std::string(action), path, hash_path, previous ? *previous : std::string(), pid, ticks,
                               std::chrono::steady_clock::now() + options_.attribution_delay});
}

void FileCollector::Release(bool all) {
  auto now = std::chrono::steady_clock::now();
  while (!outgoing_.empty() && (all || outgoing_.front().due <= now)) {
    Outgoing o = std::move(outgoing_.front());
    outgoing_.pop_front();
    BuildAndEmit(o.action, o.path, o.hash_path, o.pid, o.ticks, o.previous.empty() ? nullptr : &o.previous);
  }
}

void FileCollector::BuildAndEmit(std::string_view action, const std::string& path, const std::string& hash_path,
                                 int pid, int64_t ticks, const std::string* previous) {
  json::Value ev = NewEvent(kFileTable, action, ticks);
  if (!path.empty()) {
    ev.AppendMember("FileName", json::Value(BaseName(path)));
    ev.AppendMember("FolderPath", json::Value(path));
  }
  if (!hash_path.empty()) {
    struct stat st {};
    if (::stat(hash_path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      bool executable = st.st_mode & 0111;
      std::optional<FileHashes> h;
      if (hashes_ && (executable || st.st_size <= options_.hash_max_bytes)) {
        h = hashes_->ForPath(hash_path, executable ? -1 : options_.hash_max_bytes);
      }
      if (h) {
        ev.AppendMember("SHA1", json::Value(h->sha1));
        ev.AppendMember("SHA256", json::Value(h->sha256));
        ev.AppendMember("MD5", json::Value(h->md5));
      }
      ev.AppendMember("FileSize", json::Value(static_cast<int64_t>(st.st_size)));
    }
  }
  if (previous && !previous->empty()) {
    ev.AppendMember("PreviousFileName", json::Value(BaseName(*previous)));
    ev.AppendMember("PreviousFolderPath", json::Value(*previous));
  }
  if (pid > 0 && processes_) AddInitiatingProcess(ev, *processes_, pid);
  sink_->Emit(std::move(ev));
}

void FileCollector::Run() {
  while (!stop_) {
    pollfd fds[3];
    int n = 0;
    int fan_i = -1, ino_i = -1;
    fds[n++] = {wake_fd_.get(), POLLIN, 0};
    if (fan_fd_.valid()) {
      fan_i = n;
      fds[n++] = {fan_fd_.get(), POLLIN, 0};
    }
    if (ino_fd_.valid()) {
      ino_i = n;
      fds[n++] = {ino_fd_.get(), POLLIN, 0};
    }
    // Block indefinitely unless something awaits its settle time or release.
    int timeout = (pending_.empty() && ino_moves_.empty() && outgoing_.empty()) ? -1 : 100;
    int r = ::poll(fds, n, timeout);
    if (r < 0 && errno != EINTR) {
      log::Error("file collector poll failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (stop_) break;
    bool got = false;
    if (fan_i >= 0 && (fds[fan_i].revents & POLLIN)) {
      FanotifyRead();
      got = true;
    }
    if (ino_i >= 0 && (fds[ino_i].revents & POLLIN)) {
      InotifyRead();
      got = true;
    }
    if (!ino_moves_.empty()) FlushStaleMoves();
    if (!pending_.empty()) FlushDue(false);
    if (!outgoing_.empty()) Release(false);
    if (got) {
      // Let the next events accumulate (and merge in the kernel queue) before reading again.
      pollfd wake{wake_fd_.get(), POLLIN, 0};
      ::poll(&wake, 1, static_cast<int>(options_.read_interval.count()));
    }
  }
  FlushDue(true);
  Release(true);
}

}  // namespace ward::sensor
