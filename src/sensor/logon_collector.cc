#include "sensor/logon_collector.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmp.h>

#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/time.h"

namespace ward::sensor {

namespace {

std::string FixedString(const char* s, size_t n) { return std::string(s, strnlen(s, n)); }

bool IsLocalAdmin(const std::string& user) {
  passwd pw{};
  passwd* res = nullptr;
  std::vector<char> buf(4096);
  if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &res) != 0 || !res) return false;
  if (pw.pw_uid == 0) return true;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(user.c_str(), pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(user.c_str(), pw.pw_gid, groups.data(), &n) < 0) return false;
  }
  groups.resize(static_cast<size_t>(n));
  for (gid_t g : groups) {
    group gr{};
    group* gres = nullptr;
    std::vector<char> gbuf(4096);
    if (::getgrgid_r(g, &gr, gbuf.data(), gbuf.size(), &gres) == 0 && gres) {
      std::string_view name = gr.gr_name;
      if (name == "sudo" || name == "wheel" || name == "admin") return true;
    }
  }
  return false;
}

int MonthIndex(std::string_view m) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (m == kMonths[i]) return i;
  }
  return -1;
}

}  // namespace

std::optional<FailedLogon> ParseFailedPasswordLine(std::string_view line, int64_t now_ticks) {
  size_t marker = line.find("Failed password for ");
  if (marker == std::string_view::npos) return std::nullopt;
  size_t sshd = line.find("sshd[");
  if (sshd == std::string_view::npos || sshd > marker) return std::nullopt;
  FailedLogon out;
  out.pid = std::atoi(std::string(line.substr(sshd + 5, 10)).c_str());
  std::string_view rest = line.substr(marker + 20);
  if (StartsWith(rest, "invalid user ")) {
    out.invalid_user = true;
    rest.remove_prefix(13);
  }
  size_t from = rest.rfind(" from ");
  if (from == std::string_view::npos) return std::nullopt;
  out.user = std::string(rest.substr(0, from));
  std::string_view tail = rest.substr(from + 6);
  size_t sp = tail.find(' ');
  out.remote_ip = std::string(tail.substr(0, sp));
  if (size_t port = tail.find(" port "); port != std::string_view::npos) {
    out.remote_port = std::atoi(std::string(tail.substr(port + 6, 6)).c_str());
  }
  // Time: RFC 3339 (rsyslog high precision) or classic "Mon dd hh:mm:ss" in local time.
  if (line.size() > 19 && line[4] == '-' && line[10] == 'T') {
    size_t end = line.find(' ');
    if (auto t = ParseIsoTicks(line.substr(0, end))) out.ticks = *t;
  } else if (line.size() > 15 && MonthIndex(line.substr(0, 3)) >= 0) {
    std::tm tm{};
    tm.tm_mon = MonthIndex(line.substr(0, 3));
    tm.tm_mday = std::atoi(std::string(line.substr(4, 2)).c_str());
    tm.tm_hour = std::atoi(std::string(line.substr(7, 2)).c_str());
    tm.tm_min = std::atoi(std::string(line.substr(10, 2)).c_str());
    tm.tm_sec = std::atoi(std::string(line.substr(13, 2)).c_str());
    time_t now = static_cast<time_t>(now_ticks / kTicksPerSecond);
    std::tm now_tm{};
    ::localtime_r(&now, &now_tm);
    tm.tm_year = now_tm.tm_year;
    tm.tm_isdst = -1;
    time_t t = ::mktime(&tm);
    if (t > now + 86400) {  // December lines read in January
      tm.tm_year -= 1;
      t = ::mktime(&tm);
    }
    if (t > 0) out.ticks = static_cast<int64_t>(t) * kTicksPerSecond;
  }
  return out;
}

LogonCollector::LogonCollector(EventSink* sink, ProcessTable* processes, LogonCollectorOptions options)
    : sink_(sink), processes_(processes), options_(std::move(options)) {}

LogonCollector::~LogonCollector() { Stop(); }

Status LogonCollector::Start() {
  PollOnce();
  stopper_.Reset();
  thread_ = std::thread([this] {
    SetThreadName("ward-logon");
    while (stopper_.SleepFor(options_.interval)) PollOnce();
  });
  return Status::Ok();
}

void LogonCollector::Stop() {
  stopper_.Stop();
  if (thread_.joinable()) thread_.join();
}

void LogonCollector::LoadOffsets() {
  if (options_.offsets_file.empty()) return;
  auto text = ReadFile(options_.offsets_file, 64 * 1024);
  if (!text) return;
  auto v = json::Value::Parse(*text);
  if (!v || !v->is_object()) return;
  auto load = [&](const char* key, Followed& f) {
    if (const json::Value* o = v->Find(key); o && o->is_object()) {
      f.inode = static_cast<uint64_t>(o->GetInt("inode").value_or(0));
      f.offset = static_cast<uint64_t>(o->GetInt("offset").value_or(0));
      f.known = true;
    }
  };
  load("wtmp", wtmp_);
  load("auth", auth_);
}

void LogonCollector::SaveOffsets() {
  if (options_.offsets_file.empty()) return;
  json::Writer w;
  w.StartObject();
  for (auto [key, f] : {std::pair<const char*, Followed*>{"wtmp", &wtmp_}, {"auth", &auth_}}) {
    w.Key(key).StartObject();
    w.KV("inode", static_cast<int64_t>(f->inode)).KV("offset", static_cast<int64_t>(f->offset));
    w.EndObject();
  }
  w.EndObject();
  Status st = WriteFileAtomic(options_.offsets_file, w.str(), 0600, false);
  if (!st.ok()) log::Warn("cannot save logon offsets", {{"error", st.message()}});
}

std::string LogonCollector::ReadNew(const std::string& path, Followed& f, size_t record_align) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return {};
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (!f.known) {
    // First sight of this file ever: skip history if configured so.
    f.known = true;
    f.inode = st.st_ino;
    f.offset = (first_poll_ && options_.start_at_end) ? size - size % record_align : 0;
  }
  if (f.inode != st.st_ino || size < f.offset) {
    f.inode = st.st_ino;  // rotated or truncated: the new file is read from its start
    f.offset = 0;
  }
  if (size <= f.offset) return {};
  uint64_t want = std::min<uint64_t>(size - f.offset, 4 * 1024 * 1024);
  want -= want % record_align;
  if (want == 0) return {};
  std::string data(want, '\0');
  ssize_t n = ::pread(fd.get(), data.data(), want, static_cast<off_t>(f.offset));
  if (n <= 0) return {};
  data.resize(static_cast<size_t>(n) - static_cast<size_t>(n) % record_align);
  f.offset += data.size();
  return data;
}

void LogonCollector::PollOnce() {
  if (first_poll_) LoadOffsets();
  bool changed = false;
  uint64_t before_w = wtmp_.offset, before_a = auth_.offset;
  std::string w = ReadNew(options_.wtmp_path, wtmp_, sizeof(utmp));
  if (!w.empty()) HandleWtmp(w);
  std::string a = ReadNew(options_.auth_log_path, auth_, 1);
  // Only complete lines are consumed; a partial last line is re-read next time (also after a restart).
  size_t last_nl = a.rfind('\n');
  if (last_nl == std::string::npos && a.size() < 4 * 1024 * 1024) {
    auth_.offset -= a.size();
    a.clear();
  } else if (last_nl != std::string::npos) {
    auth_.offset -= a.size() - (last_nl + 1);
    a.resize(last_nl + 1);
  }
  if (!a.empty()) HandleAuthLog(a);
  changed = first_poll_ || before_w != wtmp_.offset || before_a != auth_.offset;
  first_poll_ = false;
  if (changed) SaveOffsets();
}

void LogonCollector::HandleWtmp(std::string_view data) {
  for (size_t off = 0; off + sizeof(utmp) <= data.size(); off += sizeof(utmp)) {
    utmp u;
    std::memcpy(&u, data.data() + off, sizeof(u));
    if (u.ut_type != USER_PROCESS) continue;
    std::string user = FixedString(u.ut_user, sizeof(u.ut_user));
    std::string host = FixedString(u.ut_host, sizeof(u.ut_host));
    std::string line = FixedString(u.ut_line, sizeof(u.ut_line));
    if (user.empty()) continue;
    int64_t ticks = static_cast<int64_t>(u.ut_tv.tv_sec) * kTicksPerSecond + static_cast<int64_t>(u.ut_tv.tv_usec) * 10;
    json::Value ev = NewEvent(kLogonTable, "LogonSuccess", ticks > 0 ? ticks : NowTicks());
    ev.AppendMember("AccountDomain", json::Value(LocalDomain()));
    ev.AppendMember("AccountName", json::Value(user));
    std::string remote_ip;
    if (u.ut_addr_v6[1] == 0 && u.ut_addr_v6[2] == 0 && u.ut_addr_v6[3] == 0 && u.ut_addr_v6[0] != 0) {
      char text[INET_ADDRSTRLEN];
      if (inet_ntop(AF_INET, &u.ut_addr_v6[0], text, sizeof(text))) remote_ip = text;
    } else if (u.ut_addr_v6[0] | u.ut_addr_v6[1] | u.ut_addr_v6[2] | u.ut_addr_v6[3]) {
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(AF_INET6, u.ut_addr_v6, text, sizeof(text))) remote_ip = UnmapIpv4(text);
    }
    bool remote = !host.empty() && host.front() != ':';  // ":0" is a local X display
    ev.AppendMember("LogonType", json::Value(remote ? "RemoteInteractive" : "Interactive"));
    ev.AppendMember("IsLocalAdmin", json::Value(IsLocalAdmin(user)));
    if (u.ut_session > 0) ev.AppendMember("LogonId", json::Value(static_cast<int64_t>(u.ut_session)));
    if (remote) {
      if (remote_ip.empty() && !IpType(host).empty()) remote_ip = host;
      if (remote_ip != host) ev.AppendMember("RemoteDeviceName", json::Value(host));
      if (!remote_ip.empty()) {
        ev.AppendMember("RemoteIP", json::Value(remote_ip));
        SetIfNotEmpty(ev, "RemoteIPType", IpType(remote_ip));
      }
    }
    if (u.ut_pid > 0 && processes_) AddInitiatingProcess(ev, *processes_, u.ut_pid);
    json::Writer af;
    af.StartObject().KV("Terminal", line).EndObject();
    ev.AppendMember("AdditionalFields", json::Value(af.Take()));
    sink_->Emit(std::move(ev));
  }
}

void LogonCollector::HandleAuthLog(std::string_view data) {
  int64_t now = NowTicks();
  for (std::string_view line : SplitLines(data)) {
    auto f = ParseFailedPasswordLine(line, now);
    if (!f) continue;
    json::Value ev = NewEvent(kLogonTable, "LogonFailed", f->ticks > 0 ? f->ticks : now);
    ev.AppendMember("LogonType", json::Value("Network"));
    ev.AppendMember("AccountDomain", json::Value(LocalDomain()));
    ev.AppendMember("AccountName", json::Value(f->user));
    ev.AppendMember("Protocol", json::Value("Ssh"));
    ev.AppendMember("FailureReason", json::Value(f->invalid_user ? "UnknownUser" : "InvalidUserNameOrPassword"));
    if (!f->remote_ip.empty()) {
      ev.AppendMember("RemoteIP", json::Value(f->remote_ip));
      SetIfNotEmpty(ev, "RemoteIPType", IpType(f->remote_ip));
    }
    if (f->remote_port > 0) ev.AppendMember("RemotePort", json::Value(static_cast<int64_t>(f->remote_port)));
    if (f->pid > 0) {
      ev.AppendMember("InitiatingProcessId", json::Value(static_cast<int64_t>(f->pid)));
      ev.AppendMember("InitiatingProcessFileName", json::Value("sshd"));
    }
    sink_->Emit(std::move(ev));
  }
}

}  // namespace ward::sensor
