#include "sensor/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <unordered_set>
#include <cstring>

#include "common/time.h"

namespace ward::sensor {

namespace {

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string ReadLinkAt(int dir_fd, const char* path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(dir_fd, path, buf, sizeof(buf));
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

int ProcFd() {
  // One long-lived descriptor for /proc; openat() on it saves a path walk per read.
  static int fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd;
}

// Executables replaced on disk show up as "/path (deleted)".
std::string CleanExePath(std::string path) {
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() && path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  return path;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view content) {
  size_t open = content.find('(');
  size_t close = content.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  ProcStat st;
  if (!ParseNumber(Trim(content.substr(0, open)), &st.pid)) return std::nullopt;
  st.comm = std::string(content.substr(open + 1, close - open - 1));
  std::string_view rest = content.substr(close + 1);
  // Fields after comm, 1-based from field 3 (state).
  std::vector<std::string_view> fields;
  fields.reserve(24);
  size_t pos = 0;
  while (pos < rest.size() && fields.size() < 22) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    if (end > pos) fields.push_back(rest.substr(pos, end - pos));
    pos = end;
  }
  // fields[0] = state (field 3), fields[1] = ppid (4), fields[19] = starttime (22).
  if (fields.size() < 20 || fields[0].empty()) return std::nullopt;
  st.state = fields[0][0];
  if (!ParseNumber(fields[1], &st.ppid)) return std::nullopt;
  if (!ParseNumber(Trim(fields[19]), &st.start_ticks)) return std::nullopt;
  return st;
}

std::string JoinCmdline(std::string_view raw, size_t max_bytes) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  if (raw.empty()) return {};  // kernel threads and zombies have no argv
  // A single argument with spaces is a rewritten argv ("nginx: worker process"), shown as is.
  if (raw.find('\0') == std::string_view::npos) return std::string(raw.substr(0, max_bytes));
  std::string out;
  bool first = true;
  size_t pos = 0;
  while (pos <= raw.size() && out.size() < max_bytes) {
    size_t end = raw.find('\0', pos);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view arg = raw.substr(pos, end - pos);
    if (!first) out.push_back(' ');
    first = false;
    bool quote = arg.empty() || arg.find_first_of(" \t\n\"") != std::string_view::npos;
    if (quote) {
      out.push_back('"');
      for (char c : arg) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
    } else {
      out.append(arg);
    }
    if (end == raw.size()) break;
    pos = end + 1;
  }
  if (out.size() > max_bytes) out.resize(max_bytes);
  return out;
}

std::optional<ProcStatus> ParseProcStatus(std::string_view content) {
  ProcStatus st;
  bool have_uid = false;
  for (std::string_view line : SplitLines(content)) {
    auto first_number = [](std::string_view v, uint32_t* out, uint32_t* second) {
      v = Trim(v);
      size_t tab = v.find_first_of(" \t");
      std::string_view a = v.substr(0, tab);
      if (!ParseNumber(a, out)) return false;
      if (second && tab != std::string_view::npos) {
        std::string_view b = Trim(v.substr(tab));
        ParseNumber(b.substr(0, b.find_first_of(" \t")), second);
      }
      return true;
    };
    if (StartsWith(line, "Uid:")) {
      have_uid = first_number(line.substr(4), &st.uid, &st.euid);
    } else if (StartsWith(line, "Gid:")) {
      first_number(line.substr(4), &st.gid, nullptr);
    } else if (StartsWith(line, "Tgid:")) {
      ParseNumber(Trim(line.substr(5)), &st.tgid);
    }
  }
  if (!have_uid) return std::nullopt;
  return st;
}

uint64_t ParseSocketInode(std::string_view link) {
  if (!StartsWith(link, "socket:[") || link.back() != ']') return 0;
  uint64_t inode = 0;
  if (!ParseNumber(link.substr(8, link.size() - 9), &inode)) return 0;
  return inode;
}

long ClockTicksPerSecond() {
  static const long hz = [] {
    long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? v : 100;
  }();
  return hz;
}

int64_t StartTicksToKql(uint64_t start_ticks) {
  static const int64_t boot_ticks = [] {
    timespec real{}, boot{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    ::clock_gettime(CLOCK_BOOTTIME, &boot);
    int64_t real_100ns = static_cast<int64_t>(real.tv_sec) * kTicksPerSecond + real.tv_nsec / 100;
    int64_t boot_100ns = static_cast<int64_t>(boot.tv_sec) * kTicksPerSecond + boot.tv_nsec / 100;
    return real_100ns - boot_100ns;
  }();
  long hz = ClockTicksPerSecond();
  return boot_ticks + static_cast<int64_t>(start_ticks) * (kTicksPerSecond / hz);
}

std::string UserName(uint32_t uid) {
  static std::mutex mu;
  static std::unordered_map<uint32_t, std::string> cache;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(uid); it != cache.end()) return it->second;
  }
  std::string name = std::to_string(uid);
  passwd pw{};
  passwd* result = nullptr;
  std::vector<char> buf(4096);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result && result->pw_name) name = result->pw_name;
  std::lock_guard lock(mu);
  if (cache.size() > 4096) cache.clear();
  cache[uid] = name;
  return name;
}

void SnapshotPerishable(ProcessSnapshot& snap, bool with_exe_fd, ExeSeenSet* seen) {
  snap.observed_time = NowTicks();
  char path[32];
  std::snprintf(path, sizeof(path), "%d", snap.pid);
  // One lookup of /proc/<pid>; the files below are then looked up relative to it.
  snap.proc_dir.Reset(::openat(ProcFd(), path, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!snap.proc_dir.valid()) return;
  int dir = snap.proc_dir.get();
  // cmdline empties the moment the process exits: read it first.
  if (auto raw = ReadProcFileAt(dir, "cmdline", 64 * 1024)) snap.cmdline = JoinCmdline(*raw);
  std::string link = ReadLinkAt(dir, "exe");
  snap.exe_path = CleanExePath(link);
  if (!with_exe_fd || snap.exe_path.empty()) return;
  // An executable seen before is hashed by path later (a cache hit keyed by inode and mtime); only new
  // or deleted ones are held open, so a binary that deletes itself right after exec is still hashed.
  bool deleted = link.size() != snap.exe_path.size();
  if (seen && !deleted) {
    if (seen->count(snap.exe_path)) return;
    if (seen->size() >= 4096) seen->clear();
    seen->insert(snap.exe_path);
  }
  snap.exe_fd.Reset(::openat(dir, "exe", O_RDONLY | O_CLOEXEC));
}

namespace {

// The owner of /proc/<pid> is the effective user: fstat instead of formatting all of status.
void ReadOwner(ProcessSnapshot& snap, int dir) {
  struct stat st {};
  if (::fstat(dir, &st) != 0) return;
  ProcStatus ps;
  ps.uid = ps.euid = st.st_uid;
  ps.gid = st.st_gid;
  ps.tgid = snap.pid;
  snap.status = ps;
}

}  // namespace

void SnapshotOwner(ProcessSnapshot& snap) {
  if (snap.proc_dir.valid()) ReadOwner(snap, snap.proc_dir.get());
}

void SnapshotRest(ProcessSnapshot& snap) {
  std::optional<std::string> raw;
  if (snap.proc_dir.valid()) {
    raw = ReadProcFileAt(snap.proc_dir.get(), "stat");
  } else {
    char path[64];
    std::snprintf(path, sizeof(path), "%d/stat", snap.pid);
    raw = ReadProcFileAt(ProcFd(), path);
  }
  if (raw) snap.stat = ParseProcStat(*raw);
  if (snap.stat && !snap.status && snap.proc_dir.valid()) ReadOwner(snap, snap.proc_dir.get());
  snap.proc_dir.Reset();
}

ProcessSnapshot SnapshotProcess(int pid, bool with_exe_fd) {
  ProcessSnapshot snap;
  snap.pid = pid;
  SnapshotPerishable(snap, with_exe_fd, nullptr);
  SnapshotRest(snap);
  return snap;
}

ProcessTable::ProcessTable(HashCache* hashes, size_t max_entries, std::chrono::milliseconds exit_grace)
    : hashes_(hashes), max_entries_(max_entries), exit_grace_(exit_grace) {}

std::shared_ptr<const ProcessInfo> ProcessTable::Complete(ProcessSnapshot& snap) {
  auto info = std::make_shared<ProcessInfo>();
  info->pid = snap.pid;
  info->ppid = snap.stat ? snap.stat->ppid : snap.ppid_hint;
  info->start_ticks = snap.stat ? snap.stat->start_ticks : 0;
  info->creation_time = snap.stat ? StartTicksToKql(snap.stat->start_ticks) : snap.observed_time;
  info->comm = snap.stat ? snap.stat->comm : std::string();
  info->exe_path = snap.exe_path;
  info->cmdline = snap.cmdline;
  info->cwd = snap.cwd;
  if (snap.status) {
    info->uid = snap.status->uid;
    info->euid = snap.status->euid;
    info->account_name = UserName(snap.status->uid);
  }
  if (hashes_) {
    if (snap.exe_fd.valid()) {
      info->hashes = hashes_->ForFd(snap.exe_fd.get());
    } else if (!info->exe_path.empty()) {
      info->hashes = hashes_->ForPath(info->exe_path);
    }
  }
  snap.exe_fd.Reset();
  std::shared_ptr<const ProcessInfo> out = std::move(info);
  // Live processes, and gone ones we know something about (for late file and network events; the
  // caller marks those exited).
  if (snap.stat || !out->exe_path.empty()) Put(out);
  return out;
}

void ProcessTable::Put(std::shared_ptr<const ProcessInfo> info) {
  std::lock_guard lock(mu_);
  if (by_pid_.size() >= max_entries_ && !by_pid_.count(info->pid)) {
    // Rare (no exit events and very many processes): drop an arbitrary half rather than track age.
    size_t n = 0;
    for (auto it = by_pid_.begin(); it != by_pid_.end();) {
      if (n++ % 2 == 0) {
        validated_.erase(it->first);
        it = by_pid_.erase(it);
      } else {
        ++it;
      }
    }
  }
  validated_[info->pid] = std::chrono::steady_clock::now();
  by_pid_[info->pid] = std::move(info);
}

std::shared_ptr<const ProcessInfo> ProcessTable::Get(int pid) {
  if (pid <= 0) return nullptr;
  std::shared_ptr<const ProcessInfo> cached;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (auto it = by_pid_.find(pid); it != by_pid_.end()) {
      cached = it->second;
      // Checked moments ago: a pid cannot be recycled that fast (the kernel allocates pids cyclically).
      if (auto v = validated_.find(pid); v != validated_.end() && now - v->second < kRevalidateAfter) return cached;
    }
  }
  char path[64];
  std::snprintf(path, sizeof(path), "%d/stat", pid);
  auto raw = ReadProcFileAt(ProcFd(), path);
  std::optional<ProcStat> st = raw ? ParseProcStat(*raw) : std::nullopt;
  if (!st) return cached;  // exited: the cached details are the best we have
  if (cached && cached->start_ticks == st->start_ticks) {
    std::lock_guard lock(mu_);
    validated_[pid] = now;
    return cached;
  }
  ProcessSnapshot snap = SnapshotProcess(pid, false);
  if (!snap.stat) snap.stat = st;
  return Complete(snap);
}

void ProcessTable::Remove(int pid) {
  std::lock_guard lock(mu_);
  by_pid_.erase(pid);
  validated_.erase(pid);
}

void ProcessTable::MarkExited(int pid) {
  std::lock_guard lock(mu_);
  if (auto it = by_pid_.find(pid); it != by_pid_.end()) {
    exited_.push_back(Exited{std::chrono::steady_clock::now(), pid, it->second.get()});
  }
  SweepExitedLocked();
}

void ProcessTable::SweepExitedLocked() {
  auto cutoff = std::chrono::steady_clock::now() - exit_grace_;
  while (!exited_.empty() && (exited_.front().at < cutoff || exited_.size() > max_entries_)) {
    Exited e = exited_.front();
    exited_.pop_front();
    // Unless the pid was reused and the entry now describes the new process.
    auto it = by_pid_.find(e.pid);
    if (it != by_pid_.end() && it->second.get() == e.info) {
      by_pid_.erase(it);
      validated_.erase(e.pid);
    }
  }
}

void ProcessTable::RetainOnly(const std::vector<int>& alive_sorted) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  std::unordered_set<const ProcessInfo*> marked;
  for (const Exited& e : exited_) marked.insert(e.info);
  for (const auto& [pid, info] : by_pid_) {
    if (std::binary_search(alive_sorted.begin(), alive_sorted.end(), pid)) continue;
    if (!marked.count(info.get())) exited_.push_back(Exited{now, pid, info.get()});
  }
  SweepExitedLocked();
}

size_t ProcessTable::size() const {
  std::lock_guard lock(mu_);
  return by_pid_.size();
}

std::vector<int> ListPids() {
  std::vector<int> pids;
  DIR* dir = ::opendir("/proc");
  if (!dir) return pids;
  while (dirent* ent = ::readdir(dir)) {
    int pid = 0;
    std::string_view name(ent->d_name);
    if (!name.empty() && name[0] >= '1' && name[0] <= '9' && ParseNumber(name, &pid)) pids.push_back(pid);
  }
  ::closedir(dir);
  std::sort(pids.begin(), pids.end());
  return pids;
}

}  // namespace ward::sensor
