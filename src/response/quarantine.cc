#include "response/quarantine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/crypto.h"
#include "common/time.h"
#include "response/fs.h"
#include "response/scanner.h"
#include "sensor/hashes.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::response {

namespace {

constexpr const char* kMetadataFile = "metadata.json";
constexpr const char* kStoredFile = "file";

int64_t Nanos(const struct timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec; }
struct timespec Timespec(int64_t ns) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

// Opens `path` for hashing and returns its hashes, or why not.
struct HashedFile {
  OpenFile file;
  sensor::FileHashes hashes;
};
Result<HashedFile> OpenAndHash(const std::string& path) {
  WARD_ASSIGN_OR_RETURN(OpenFile f, OpenRegular(path));
  auto h = sensor::HashFd(f.fd.get());
  if (!h) return Err(Internal("cannot read " + path));
  return HashedFile{std::move(f), std::move(*h)};
}

}  // namespace

json::Value QuarantineEntry::ToJson() const {
  json::Value v = json::Value::Object();
  v.AppendMember("id", json::Value(id));
  v.AppendMember("originalPath", json::Value(original_path));
  v.AppendMember("uid", json::Value(uid));
  v.AppendMember("gid", json::Value(gid));
  v.AppendMember("mode", json::Value(OctalMode(mode)));
  v.AppendMember("size", json::Value(size));
  v.AppendMember("modifiedTime", json::Value(FormatIsoTicks(mtime_ns / 100)));
  v.AppendMember("mtimeNs", json::Value(mtime_ns));
  v.AppendMember("atimeNs", json::Value(atime_ns));
  v.AppendMember("sha1", json::Value(sha1));
  v.AppendMember("sha256", json::Value(sha256));
  v.AppendMember("md5", json::Value(md5));
  v.AppendMember("quarantineTime", json::Value(quarantine_time));
  return v;
}

Result<QuarantineEntry> QuarantineEntry::FromJson(const json::Value& v) {
  QuarantineEntry e;
  auto id = v.GetString("id");
  auto path = v.GetString("originalPath");
  auto mode = v.GetString("mode");
  auto sha1 = v.GetString("sha1");
  if (!id || !path || !mode || !sha1) return Err(InvalidArgument("quarantine metadata lacks id, originalPath, mode or sha1"));
  e.id = *id;
  e.original_path = *path;
  e.mode = static_cast<uint32_t>(std::strtoul(mode->c_str(), nullptr, 8)) & 07777;
  e.uid = static_cast<uint32_t>(v.GetInt("uid").value_or(0));
  e.gid = static_cast<uint32_t>(v.GetInt("gid").value_or(0));
  e.size = v.GetInt("size").value_or(0);
  e.mtime_ns = v.GetInt("mtimeNs").value_or(0);
  e.atime_ns = v.GetInt("atimeNs").value_or(0);
  e.sha1 = *sha1;
  e.sha256 = v.GetString("sha256").value_or("");
  e.md5 = v.GetString("md5").value_or("");
  e.quarantine_time = v.GetString("quarantineTime").value_or("");
  return e;
}

QuarantineStore::QuarantineStore(std::string dir) : dir_(std::move(dir)) {}

std::string QuarantineStore::StoredPath(const std::string& id) const { return dir_ + "/" + id + "/" + kStoredFile; }

Result<QuarantineEntry> QuarantineStore::Quarantine(const std::string& path, std::string_view expected_sha1) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(HashedFile src, OpenAndHash(path));
  if (src.hashes.sha1 != ToLower(expected_sha1)) {
    return Err(FailedPrecondition(path + " has SHA1 " + src.hashes.sha1 + ", not " + std::string(expected_sha1)));
  }
  const struct stat& st = src.file.st;
  QuarantineEntry e;
  e.id = NewGuid();
  e.original_path = path;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mode = st.st_mode & 07777;
  e.size = st.st_size;
  e.mtime_ns = Nanos(st.st_mtim);
  e.atime_ns = Nanos(st.st_atim);
  e.sha1 = src.hashes.sha1;
  e.sha256 = src.hashes.sha256;
  e.md5 = src.hashes.md5;
  e.quarantine_time = FormatIsoMs(NowMs());

  const std::string entry_dir = dir_ + "/" + e.id;
  WARD_RETURN_IF_ERROR(sensor::MakeDirs(dir_, 0700));
  ::chmod(dir_.c_str(), 0700);  // an older, looser store directory is tightened
  if (::mkdir(entry_dir.c_str(), 0700) != 0) return Err(ErrnoStatus("mkdir", entry_dir, errno));
  WARD_RETURN_IF_ERROR(sensor::WriteFileAtomic(entry_dir + "/" + kMetadataFile, e.ToJson().Serialize(), 0600));

  const std::string stored = entry_dir + "/" + kStoredFile;
  auto undo_entry = [&] { std::filesystem::remove_all(entry_dir); };
  if (::rename(path.c_str(), stored.c_str()) == 0) {
    struct stat moved {};
    if (::lstat(stored.c_str(), &moved) != 0 || moved.st_dev != st.st_dev || moved.st_ino != st.st_ino) {
      // The path was swapped for another file between hashing and renaming: put it back untouched.
      ::rename(stored.c_str(), path.c_str());
      undo_entry();
      return Err(FailedPrecondition(path + " changed while being quarantined"));
    }
    ::fchown(src.file.fd.get(), 0, 0);
    ::fchmod(src.file.fd.get(), 0400);
  } else if (errno == EXDEV) {
    Status copied = CopyToNewFile(src.file.fd.get(), stored, 0400);
    if (!copied.ok()) {
      undo_entry();
      return Err(copied);
    }
    auto check = OpenAndHash(stored);
    if (!check || check->hashes.sha1 != e.sha1) {
      undo_entry();
      return Err(Internal("copy of " + path + " into quarantine does not match its SHA1"));
    }
    if (::unlink(path.c_str()) != 0) {
      int err = errno;
      undo_entry();
      return Err(ErrnoStatus("unlink", path, err));
    }
  } else {
    int err = errno;
    undo_entry();
    return Err(ErrnoStatus("move", path, err));
  }
  SyncParentDir(path);
  SyncParentDir(stored);
  return e;
}

Result<QuarantineEntry> QuarantineStore::Get(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") {
    return Err(InvalidArgument("invalid quarantine id"));
  }
  auto text = sensor::ReadFile(dir_ + "/" + id + "/" + kMetadataFile, 1024 * 1024);
  if (!text) return Err(NotFound("no quarantine entry " + id));
  WARD_ASSIGN_OR_RETURN(json::Value v, json::Value::Parse(*text));
  return QuarantineEntry::FromJson(v);
}

Result<std::vector<QuarantineEntry>> QuarantineStore::List() const {
  std::lock_guard lock(mu_);
  std::vector<QuarantineEntry> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) return out;
  for (const auto& d : std::filesystem::directory_iterator(dir_, ec)) {
    if (auto e = Get(d.path().filename().string())) out.push_back(std::move(*e));
  }
  std::sort(out.begin(), out.end(), [](const QuarantineEntry& a, const QuarantineEntry& b) {
    return a.quarantine_time != b.quarantine_time ? a.quarantine_time < b.quarantine_time : a.id < b.id;
  });
  return out;
}

Status QuarantineStore::Restore(const std::string& id, bool overwrite) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(QuarantineEntry e, Get(id));
  const std::string stored = StoredPath(id);
  const std::string& target = e.original_path;
  struct stat st {};
  if (!overwrite && ::lstat(target.c_str(), &st) == 0) return AlreadyExists(target + " exists; restore with overwrite to replace it");
  const std::string parent = sensor::DirName(target);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return NotFound("directory " + parent + " no longer exists");

  // The file gets its attributes under a temporary name next to the target, then takes the target's
  // name in one rename, so the original path never shows a half-restored file.
  const std::string temp = parent + "/.ward-restore-" + id;
  bool moved = ::rename(stored.c_str(), temp.c_str()) == 0;
  if (!moved) {
    if (errno != EXDEV) return ErrnoStatus("move", stored, errno);
    WARD_ASSIGN_OR_RETURN(OpenFile in, OpenRegular(stored));
    WARD_RETURN_IF_ERROR(CopyToNewFile(in.fd.get(), temp, 0600));
  }
  auto fail = [&](Status s) {
    if (moved) ::rename(temp.c_str(), stored.c_str());
    else ::unlink(temp.c_str());
    return s;
  };
  // chown before chmod: chown clears set-id bits.
  if (::lchown(temp.c_str(), e.uid, e.gid) != 0) return fail(ErrnoStatus("chown", temp, errno));
  if (::chmod(temp.c_str(), e.mode) != 0) return fail(ErrnoStatus("chmod", temp, errno));
  struct timespec times[2] = {Timespec(e.atime_ns), Timespec(e.mtime_ns)};
  if (::utimensat(AT_FDCWD, temp.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return fail(ErrnoStatus("utimensat", temp, errno));
  int rc = overwrite ? ::rename(temp.c_str(), target.c_str())
                     : static_cast<int>(::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE));
  if (rc != 0 && !overwrite && errno == EINVAL) {
    // Filesystems without RENAME_NOREPLACE: link() also refuses an existing name.
    rc = ::link(temp.c_str(), target.c_str());
    if (rc == 0) ::unlink(temp.c_str());
  }
  if (rc != 0) {
    if (errno == EEXIST) return fail(AlreadyExists(target + " exists; restore with overwrite to replace it"));
    return fail(ErrnoStatus("restore", target, errno));
  }
  SyncParentDir(target);
  std::error_code ec;
  std::filesystem::remove_all(dir_ + "/" + id, ec);
  SyncParentDir(dir_ + "/" + id);
  return Status::Ok();
}

Status StopAndQuarantineResult::status() const {
  if (!errors.empty()) return Internal(errors.front());
  if (killed.empty() && quarantined.empty()) return NotFound("no running process or file has SHA1 " + sha1);
  return Status::Ok();
}

json::Value StopAndQuarantineResult::ToJson() const {
  json::Value v = json::Value::Object();
  v.AppendMember("sha1", json::Value(sha1));
  json::Value procs = json::Value::Array();
  for (const KilledProcess& k : killed) {
    json::Value p = json::Value::Object();
    p.AppendMember("pid", json::Value(k.pid));
    p.AppendMember("path", json::Value(k.exe_path));
    p.AppendMember("commandLine", json::Value(k.command_line));
    procs.Append(std::move(p));
  }
  v.AppendMember("killedProcesses", std::move(procs));
  json::Value files = json::Value::Array();
  for (const QuarantineEntry& e : quarantined) {
    json::Value f = json::Value::Object();
    f.AppendMember("id", json::Value(e.id));
    f.AppendMember("path", json::Value(e.original_path));
    f.AppendMember("sha256", json::Value(e.sha256));
    f.AppendMember("size", json::Value(e.size));
    files.Append(std::move(f));
  }
  v.AppendMember("quarantinedFiles", std::move(files));
  v.AppendMember("skippedPaths", StringArray(skipped));
  v.AppendMember("errors", StringArray(errors));
  return v;
}

namespace {

int PidfdOpen(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Waits (bounded) until the process behind `pidfd` has exited; a pidfd polls readable then, zombie
// or not.
bool WaitExited(int pidfd, int timeout_ms) {
  struct pollfd p {pidfd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

void KillMatching(const std::string& sha1, StopAndQuarantineResult& result, std::vector<std::string>& exe_paths) {
  sensor::HashCache hashes(1024);  // processes running one binary share one hash
  const int self = ::getpid();
  for (int pid : sensor::ListPids()) {
    if (pid == 1 || pid == self) continue;
    // The pidfd is taken first: whatever /proc/<pid> says afterwards is checked against a process
    // that cannot be replaced by another with the same pid.
    sensor::UniqueFd pidfd(PidfdOpen(pid));
    if (!pidfd.valid()) continue;
    const std::string proc = "/proc/" + std::to_string(pid);
    auto exe = OpenRegular(proc + "/exe", /*follow_symlinks=*/true);
    if (!exe) continue;
    auto h = hashes.ForFd(exe->fd.get());
    if (!h || h->sha1 != sha1) continue;
    KilledProcess k;
    k.pid = pid;
    k.exe_path = ReadLink(proc + "/exe");
    k.command_line = sensor::JoinCmdline(sensor::ReadFile(proc + "/cmdline", 64 * 1024).value_or(""));
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) != 0) {
      if (errno != ESRCH) result.errors.push_back("kill " + std::to_string(pid) + ": " + std::strerror(errno));
      continue;
    }
    if (!WaitExited(pidfd.get(), 5000)) result.errors.push_back("process " + std::to_string(pid) + " did not exit after SIGKILL");
    result.killed.push_back(k);
    exe_paths.push_back(k.exe_path);
  }
}

// MDE's ActionTypes for what its antivirus did to a threat: AntivirusMalwareBlocked ("blocked or
// quarantined") when the file is in quarantine and its processes stopped, AntivirusMalwareActionFailed
// when a remediation was attempted and failed. There is no separate "FileQuarantined" type.
void EmitFileEvent(sensor::EventSink* sink, const std::string& path, const std::string& sha1,
                   const QuarantineEntry* entry, const std::string& error, size_t killed) {
  if (sink == nullptr) return;
  json::Value ev = sensor::NewEvent(kDeviceEventsTable, entry ? "AntivirusMalwareBlocked" : "AntivirusMalwareActionFailed");
  ev.AppendMember("FileName", json::Value(sensor::BaseName(path)));
  ev.AppendMember("FolderPath", json::Value(path));
  ev.AppendMember("SHA1", json::Value(sha1));
  if (entry) {
    sensor::SetIfNotEmpty(ev, "SHA256", entry->sha256);
    sensor::SetIfNotEmpty(ev, "MD5", entry->md5);
    ev.AppendMember("FileSize", json::Value(entry->size));
  }
  json::Writer af;
  af.StartObject().KV("Action", "StopAndQuarantineFile").KV("KilledProcesses", static_cast<int64_t>(killed));
  if (entry) af.KV("QuarantineId", entry->id);
  if (!error.empty()) af.KV("Error", error);
  af.EndObject();
  ev.AppendMember("AdditionalFields", json::Value(af.Take()));
  sink->Emit(std::move(ev));
}

}  // namespace

Result<StopAndQuarantineResult> StopAndQuarantineFile(const StopAndQuarantineRequest& request, QuarantineStore& store,
                                                      sensor::EventSink* sink) {
  if (!IsHex(request.sha1, 40)) return Err(InvalidArgument("Sha1 must be 40 hex digits"));
  StopAndQuarantineResult result;
  result.sha1 = ToLower(request.sha1);

  std::vector<std::string> paths;
  KillMatching(result.sha1, result, paths);
  paths.insert(paths.end(), request.candidate_paths.begin(), request.candidate_paths.end());

  std::set<std::string> done;
  for (const std::string& path : paths) {
    if (path.empty() || !done.insert(path).second) continue;
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.front() != '/' || (path.size() > kDeleted.size() && path.ends_with(kDeleted))) {
      result.skipped.push_back(path);  // the image was already removed from disk
      continue;
    }
    auto entry = store.Quarantine(path, result.sha1);
    if (entry) {
      EmitFileEvent(sink, path, result.sha1, &*entry, "", result.killed.size());
      result.quarantined.push_back(std::move(*entry));
    } else if (entry.error().code() == StatusCode::kNotFound || entry.error().code() == StatusCode::kFailedPrecondition) {
      result.skipped.push_back(path);  // not there, not a regular file, or another file
    } else {
      EmitFileEvent(sink, path, result.sha1, nullptr, entry.error().message(), result.killed.size());
      result.errors.push_back(path + ": " + entry.error().message());
    }
  }
  return result;
}

}  // namespace ward::response
