#include "response/investigation_package.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "common/time.h"
#include "response/fs.h"
#include "response/host_snapshot.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::response {

namespace fs = std::filesystem;

int RedactPrivateKeys(std::string& text) {
  int count = 0;
  size_t pos = 0;
  while ((pos = text.find("-----BEGIN ", pos)) != std::string::npos) {
    size_t header_end = text.find("-----", pos + 11);
    if (header_end == std::string::npos) break;
    std::string_view label(text.data() + pos + 11, header_end - (pos + 11));
    header_end += 5;
    if (label.find("PRIVATE KEY") == std::string_view::npos) {
      pos = header_end;
      continue;
    }
    size_t end = text.find("-----END ", header_end);
    size_t stop = end == std::string::npos ? text.size() : end;
    text.replace(header_end, stop - header_end, "\n[redacted by Ward]\n");
    ++count;
    pos = header_end;
  }
  return count;
}

namespace {

// The last `cap` bytes of an open file (all of it when smaller).
std::string ReadTail(const OpenFile& f, int64_t cap) {
  int64_t from = std::max<int64_t>(0, f.st.st_size - cap);
  std::string data(static_cast<size_t>(f.st.st_size - from), '\0');
  ssize_t n = ::pread(f.fd.get(), data.data(), data.size(), from);
  data.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return data;
}

// Owns a libarchive writer producing .tar.gz (pax, so long and UTF-8 names survive).
class TarGzWriter {
 public:
  TarGzWriter() : a_(archive_write_new()) {}
  ~TarGzWriter() {
    if (a_ != nullptr) archive_write_free(a_);
  }
  TarGzWriter(const TarGzWriter&) = delete;
  TarGzWriter& operator=(const TarGzWriter&) = delete;

  Status Open(int fd) {
    if (a_ == nullptr || archive_write_add_filter_gzip(a_) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK || archive_write_open_fd(a_, fd) != ARCHIVE_OK) {
      return Error("open");
    }
    return Status::Ok();
  }

  Status Add(const std::string& name, std::string_view data, int64_t mtime = 0) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(e, mtime ? mtime : now_, 0);
    int rc = archive_write_header(a_, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) return Error("header of " + name);
    if (!data.empty() && archive_write_data(a_, data.data(), data.size()) < 0) return Error("data of " + name);
    return Status::Ok();
  }

  Status Close() {
    if (archive_write_close(a_) != ARCHIVE_OK) return Error("close");
    return Status::Ok();
  }

 private:
  Status Error(const std::string& what) {
    const char* msg = a_ ? archive_error_string(a_) : "out of memory";
    return Internal("archive " + what + ": " + (msg ? msg : "failed"));
  }
  archive* a_;
  int64_t now_ = NowMs() / 1000;
};

class Collector {
 public:
  Collector(const InvestigationPackageOptions& o, TarGzWriter& w) : o_(o), w_(w) {
    root_ = o.root;
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    if (root_ == "/") root_.clear();
  }

  // A path of the host (as the analyst knows it) under the configured root.
  std::string Host(const std::string& path) const { return root_ + path; }

  PackagePart& Begin(const std::string& name) {
    parts_.push_back({name, 0, {}, false});
    return parts_.back();
  }

  void AddText(PackagePart& part, const std::string& name, std::string_view text) {
    if (part.files >= o_.max_files_per_part) {
      NoteLimit(part);
      return;
    }
    Status s = w_.Add(part.name + "/" + name, text);
    if (!s.ok()) {
      write_error_ = s;
      part.errors.push_back(s.message());
      return;
    }
    ++part.files;
  }

  // Copies the host file `path` (bounded; a final symlink is listed, not followed) to
  // part/<subdir><path>. `tail` keeps the end of a long file instead of its start (logs).
  void AddHostFile(PackagePart& part, const std::string& subdir, const std::string& path, bool tail = false) {
    const std::string host = Host(path);
    struct stat lst {};
    if (::lstat(host.c_str(), &lst) != 0) return;  // absent is normal: nothing to collect
    if (S_ISLNK(lst.st_mode)) {
      links_[part.name] += path + " -> " + ReadLink(host) + "\n";
      return;
    }
    auto f = OpenRegular(host);
    if (!f) {
      part.errors.push_back(path + ": " + f.error().message());
      return;
    }
    const int64_t cap = tail ? o_.max_log_tail_bytes : o_.max_file_bytes;
    std::string data;
    if (tail && f->st.st_size > cap) {
      data = "[first " + std::to_string(f->st.st_size - cap) + " bytes left out]\n" + ReadTail(*f, cap);
    } else {
      auto read = ReadFd(f->fd.get(), cap, false);
      if (!read) {
        part.errors.push_back(path + ": " + read.error().message());
        return;
      }
      data = std::move(*read);
      if (f->st.st_size > cap) data += "\n[truncated at " + std::to_string(cap) + " bytes by Ward]\n";
    }
    RedactPrivateKeys(data);
    AddText(part, subdir.empty() ? path.substr(1) : subdir + path, data);
  }

  // Every regular file below the host directory `dir` (depth-limited), links listed.
  void AddHostTree(PackagePart& part, const std::string& subdir, const std::string& dir, int max_depth = 4) {
    std::error_code ec;
    const std::string host = Host(dir);
    if (!fs::is_directory(fs::symlink_status(host, ec))) return;
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(host, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it.depth() >= max_depth) it.disable_recursion_pending();
      if (it->is_symlink(ec) || it->is_regular_file(ec)) files.push_back(it->path().string().substr(root_.size()));
      if (files.size() > o_.max_files_per_part) break;
    }
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) AddHostFile(part, subdir, f);
  }

  // Writes the symbolic links seen in a part as <part>/symbolic_links.txt.
  void FlushLinks(PackagePart& part) {
    auto it = links_.find(part.name);
    if (it != links_.end()) AddText(part, "symbolic_links.txt", it->second);
  }

  void NoteLimit(PackagePart& part) {
    std::string msg = "more than " + std::to_string(o_.max_files_per_part) + " files; the rest left out";
    if (std::find(part.errors.begin(), part.errors.end(), msg) == part.errors.end()) part.errors.push_back(msg);
  }

  std::vector<PackagePart>& parts() { return parts_; }
  const Status& write_error() const { return write_error_; }
  const InvestigationPackageOptions& options() const { return o_; }

 private:
  const InvestigationPackageOptions& o_;
  TarGzWriter& w_;
  std::string root_;
  std::vector<PackagePart> parts_;
  std::map<std::string, std::string> links_;
  Status write_error_;
};

void CollectProcesses(Collector& c) {
  PackagePart& part = c.Begin("Processes");
  auto rows = ListProcesses(c.options().proc_root);
  if (rows.empty()) {
    part.failed = true;
    part.errors.push_back("no processes readable in " + c.options().proc_root);
    return;
  }
  c.AddText(part, "processes.txt", ProcessesText(rows));
  c.AddText(part, "processes.json", ProcessesJson(rows).Serialize());
}

void CollectNetwork(Collector& c) {
  PackagePart& part = c.Begin("Network connections");
  auto rows = ListConnections(c.options().proc_root);
  c.AddText(part, "connections.txt", ConnectionsText(rows));
  c.AddText(part, "connections.json", ConnectionsJson(rows).Serialize());
}

void CollectUsers(Collector& c) {
  PackagePart& part = c.Begin("Users");
  std::string text = "USER      LINE          HOST                  LOGIN                       PID\n";
  bool found = false;
  for (const char* path : {"/run/utmp", "/var/run/utmp"}) {
    auto data = sensor::ReadFile(c.Host(path), 4 * 1024 * 1024);
    if (!data) continue;
    found = true;
    for (size_t off = 0; off + sizeof(utmp) <= data->size(); off += sizeof(utmp)) {
      utmp u;
      std::memcpy(&u, data->data() + off, sizeof u);
      if (u.ut_type != USER_PROCESS) continue;
      auto field = [](const char* s, size_t n) { return std::string(s, strnlen(s, n)); };
      char line[256];
      std::snprintf(line, sizeof line, "%-9s %-13s %-21s %-27s %d\n", field(u.ut_user, sizeof u.ut_user).c_str(),
                    field(u.ut_line, sizeof u.ut_line).c_str(), field(u.ut_host, sizeof u.ut_host).c_str(),
                    FormatIsoTicks(static_cast<int64_t>(u.ut_tv.tv_sec) * kTicksPerSecond).c_str(), u.ut_pid);
      text += line;
    }
    break;
  }
  if (!found) part.errors.push_back("no utmp (/run/utmp)");
  c.AddText(part, "logged_on_users.txt", text);
  c.AddHostFile(part, "", "/etc/passwd");
  c.AddHostFile(part, "", "/etc/group");
}

void CollectAutoruns(Collector& c) {
  PackagePart& part = c.Begin("Autoruns");
  // systemd: unit files administrators and attackers add, and the contents of every enabled unit
  // (the *.wants/ links) wherever it lives.
  c.AddHostTree(part, "systemd", "/etc/systemd/system");
  std::string enabled;
  std::error_code ec;
  for (const char* base : {"/etc/systemd/system", "/lib/systemd/system"}) {
    const std::string host_base = c.Host(base);
    for (auto it = fs::recursive_directory_iterator(host_base, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it.depth() >= 2) it.disable_recursion_pending();
      const std::string parent = it->path().parent_path().filename().string();
      if (!it->is_symlink(ec) || !(parent.ends_with(".wants") || parent.ends_with(".requires"))) continue;
      std::string target = fs::read_symlink(it->path(), ec).string();
      std::string host_path = it->path().string().substr(c.Host("").size());
      enabled += host_path + " -> " + target + "\n";
      std::string resolved = target.empty() || target[0] == '/'
                                 ? target
                                 : (fs::path(host_path).parent_path() / target).lexically_normal().string();
      if (!resolved.empty() && resolved != "/dev/null") c.AddHostFile(part, "systemd/enabled", resolved);
    }
  }
  c.AddText(part, "systemd/enabled_units.txt", enabled);
  // cron
  c.AddHostFile(part, "cron", "/etc/crontab");
  for (const char* d : {"/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly",
                        "/var/spool/cron"}) {
    c.AddHostTree(part, "cron", d);
  }
  c.AddHostFile(part, "cron", "/etc/anacrontab");
  // rc scripts: rc.local is read, init.d only listed (it is mostly distribution scripts).
  c.AddHostFile(part, "rc", "/etc/rc.local");
  std::string initd;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(c.Host("/etc/init.d"), ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    struct stat st {};
    if (::lstat(c.Host("/etc/init.d/" + n).c_str(), &st) != 0) continue;
    initd += SymbolicMode(st.st_mode) + " " + std::to_string(st.st_size) + " " + n + "\n";
  }
  c.AddText(part, "rc/init.d.txt", initd);
  // shell start-up files
  for (const char* f : {"/etc/profile", "/etc/bash.bashrc", "/etc/environment", "/etc/zsh/zshrc", "/etc/ld.so.preload"}) {
    c.AddHostFile(part, "shell", f);
  }
  c.AddHostTree(part, "shell", "/etc/profile.d", 1);
  for (const std::string& home : HomeDirectories(c.Host(""))) {
    for (const char* f : {"/.bashrc", "/.profile", "/.bash_profile", "/.bash_login", "/.bash_logout", "/.zshrc"}) {
      c.AddHostFile(part, "shell", home + f);
    }
  }
  c.FlushLinks(part);
}

void CollectPackages(Collector& c) {
  PackagePart& part = c.Begin("Installed programs");
  auto status = sensor::ReadFile(c.Host("/var/lib/dpkg/status"), 64 * 1024 * 1024);
  std::string text;
  if (status) {
    text = "PACKAGE\tVERSION\tARCHITECTURE\n";
    std::string name, version, arch, state;
    auto flush = [&] {
      if (!name.empty() && state.find("installed") != std::string::npos && state.find("not-installed") == std::string::npos) {
        text += name + "\t" + version + "\t" + arch + "\n";
      }
      name.clear(), version.clear(), arch.clear(), state.clear();
    };
    for (std::string_view line : sensor::SplitLines(*status)) {
      if (sensor::Trim(line).empty()) flush();
      auto value = [&](std::string_view key) { return std::string(sensor::Trim(line.substr(key.size()))); };
      if (sensor::StartsWith(line, "Package:")) name = value("Package:");
      else if (sensor::StartsWith(line, "Version:")) version = value("Version:");
      else if (sensor::StartsWith(line, "Architecture:")) arch = value("Architecture:");
      else if (sensor::StartsWith(line, "Status:")) state = value("Status:");
    }
    flush();
  } else {
    std::error_code ec;
    bool rpm = fs::exists(c.Host("/var/lib/rpm"), ec) || fs::exists(c.Host("/usr/lib/sysimage/rpm"), ec);
    text = rpm ? "An rpm database is present; Ward does not read it (no librpm on the sensor).\n"
               : "No dpkg status file and no rpm database found.\n";
    part.errors.push_back(rpm ? "rpm database not parsed" : "no package database");
  }
  c.AddText(part, "packages.txt", text);
}

void CollectLogs(Collector& c) {
  PackagePart& part = c.Begin("Logs");
  for (const char* f : {"/var/log/syslog", "/var/log/auth.log", "/var/log/messages", "/var/log/secure", "/var/log/kern.log",
                        "/var/log/dpkg.log"}) {
    c.AddHostFile(part, "", f, /*tail=*/true);
  }
  c.FlushLinks(part);
}

// identity.json minus anything that authenticates the device.
std::string SanitizedIdentity(const std::string& text) {
  auto parsed = json::Value::Parse(text);
  if (!parsed || !parsed->is_object()) return "{\"error\":\"identity.json is not a JSON object\"}";
  json::Value out = json::Value::Object();
  for (const json::Member& m : parsed->members()) {
    std::string k = ToLower(m.key);
    bool secret = k.find("credential") != std::string::npos || k.find("secret") != std::string::npos ||
                  k.find("key") != std::string::npos || k.find("token") != std::string::npos ||
                  k.find("password") != std::string::npos;
    out.AppendMember(m.key, secret ? json::Value("[redacted by Ward]") : m.value);
  }
  return out.Serialize();
}

void CollectSensor(Collector& c) {
  PackagePart& part = c.Begin("Sensor");
  const auto& o = c.options();
  if (o.state_dir.empty()) {
    part.errors.push_back("no state directory configured");
  } else {
    // Names, sizes and modes only: the state dir holds the device credential and key material.
    std::string listing;
    std::error_code ec;
    std::vector<std::string> lines;
    for (auto it = fs::recursive_directory_iterator(o.state_dir, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it.depth() >= 3) it.disable_recursion_pending();
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) != 0) continue;
      lines.push_back(SymbolicMode(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                      it->path().string().substr(o.state_dir.size()));
      if (lines.size() > o.max_files_per_part) break;
    }
    std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
      return a.substr(a.rfind(' ')) < b.substr(b.rfind(' '));
    });
    for (const std::string& l : lines) listing += l + "\n";
    c.AddText(part, "state_dir_listing.txt", listing);
    if (auto id = sensor::ReadFile(o.state_dir + "/identity.json", 1024 * 1024)) {
      c.AddText(part, "identity.json", SanitizedIdentity(*id));
    } else {
      part.errors.push_back("no identity.json");
    }
    if (auto policy = OpenRegular(o.state_dir + "/policy.json")) {
      if (auto text = ReadFd(policy->fd.get(), o.max_file_bytes, false)) c.AddText(part, "policy.json", *text);
    }
  }
  if (!o.sensor_log_path.empty()) {
    // The log path is the sensor's own, not under `root`.
    auto f = OpenRegular(o.sensor_log_path);
    if (!f) {
      part.errors.push_back(o.sensor_log_path + ": " + f.error().message());
    } else {
      std::string data = ReadTail(*f, o.max_log_tail_bytes);
      RedactPrivateKeys(data);
      c.AddText(part, "sensor.log", data);
    }
  }
}

json::Value Manifest(const std::vector<PackagePart>& parts, const InvestigationPackageOptions& o) {
  json::Value m = json::Value::Object();
  m.AppendMember("format", json::Value("ward-investigation-package/1"));
  m.AppendMember("createdTime", json::Value(FormatIsoMs(NowMs())));
  m.AppendMember("computerName", json::Value(sensor::HostName()));
  json::Value limits = json::Value::Object();
  limits.AppendMember("maxFileBytes", json::Value(o.max_file_bytes));
  limits.AppendMember("maxLogTailBytes", json::Value(o.max_log_tail_bytes));
  limits.AppendMember("maxFilesPerPart", json::Value(static_cast<int64_t>(o.max_files_per_part)));
  m.AppendMember("limits", std::move(limits));
  json::Value list = json::Value::Array();
  for (const PackagePart& p : parts) {
    json::Value v = json::Value::Object();
    v.AppendMember("name", json::Value(p.name));
    v.AppendMember("status", json::Value(p.failed ? "Failed" : p.errors.empty() ? "Collected" : "Partial"));
    v.AppendMember("files", json::Value(static_cast<int64_t>(p.files)));
    v.AppendMember("errors", StringArray(p.errors));
    list.Append(std::move(v));
  }
  m.AppendMember("parts", std::move(list));
  return m;
}

}  // namespace

Result<InvestigationPackage> CollectInvestigationPackage(const InvestigationPackageOptions& options,
                                                         const std::string& output_path) {
  ::unlink(output_path.c_str());
  sensor::UniqueFd fd(::open(output_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Err(ErrnoStatus("create", output_path, errno));
  TarGzWriter writer;
  WARD_RETURN_IF_ERROR(writer.Open(fd.get()));
  Collector c(options, writer);
  using Step = void (*)(Collector&);
  for (Step step : {CollectProcesses, CollectNetwork, CollectUsers, CollectAutoruns, CollectPackages, CollectLogs,
                    CollectSensor}) {
    if (options.cancelled && options.cancelled()) {
      ::unlink(output_path.c_str());
      return Err(Unavailable("cancelled"));
    }
    step(c);
    if (!c.write_error().ok()) {
      ::unlink(output_path.c_str());
      return Err(c.write_error());
    }
  }
  InvestigationPackage pkg;
  pkg.manifest = Manifest(c.parts(), options);
  WARD_RETURN_IF_ERROR(writer.Add("manifest.json", pkg.manifest.Serialize()));
  WARD_RETURN_IF_ERROR(writer.Close());
  if (::fsync(fd.get()) != 0) return Err(ErrnoStatus("fsync", output_path, errno));
  struct stat st {};
  ::fstat(fd.get(), &st);
  pkg.path = output_path;
  pkg.size = st.st_size;
  pkg.parts = std::move(c.parts());
  return pkg;
}

}  // namespace ward::response
