#include "response/live_response.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/time.h"
#include "response/fs.h"
#include "response/host_snapshot.h"
#include "sensor/util.h"

namespace ward::response {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const json::Value* Member(const json::Value& v, std::string_view key) { return v.FindCaseInsensitive(key); }

}  // namespace

std::optional<std::string> LiveResponseCommand::Param(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (EqualsIgnoreCase(k, key)) return v;
  }
  return std::nullopt;
}

json::Value LiveResponseCommand::ToJson() const {
  json::Value v = json::Value::Object();
  v.AppendMember("type", json::Value(type));
  json::Value ps = json::Value::Array();
  for (const auto& [k, val] : params) {
    json::Value p = json::Value::Object();
    p.AppendMember("key", json::Value(k));
    p.AppendMember("value", json::Value(val));
    ps.Append(std::move(p));
  }
  v.AppendMember("params", std::move(ps));
  return v;
}

Result<std::vector<LiveResponseCommand>> ParseLiveResponseCommands(const json::Value& params, size_t max_commands) {
  const json::Value* list = Member(params, "Commands");
  if (list == nullptr || !list->is_array()) return Err(InvalidArgument("LiveResponse needs a Commands array"));
  if (list->items().empty()) return Err(InvalidArgument("Commands is empty"));
  if (list->items().size() > max_commands) {
    return Err(InvalidArgument("more than " + std::to_string(max_commands) + " commands"));
  }
  std::vector<LiveResponseCommand> out;
  for (const json::Value& item : list->items()) {
    // The request's shape ({type, params}) or the MachineAction's ({index, command: {type, params}, ...}),
    // which is what the server sends the sensor.
    const json::Value* wrapped = Member(item, "command");
    const json::Value& c = wrapped != nullptr && wrapped->is_object() ? *wrapped : item;
    const json::Value* type = Member(c, "type");
    if (type == nullptr || !type->is_string() || type->as_string().empty()) {
      return Err(InvalidArgument("command " + std::to_string(out.size()) + " has no type"));
    }
    LiveResponseCommand cmd;
    cmd.type = type->as_string();
    if (const json::Value* ps = Member(c, "params"); ps != nullptr && !ps->is_null()) {
      if (!ps->is_array()) return Err(InvalidArgument("command params must be an array"));
      for (const json::Value& p : ps->items()) {
        const json::Value* k = Member(p, "key");
        const json::Value* v = Member(p, "value");
        if (k == nullptr || !k->is_string() || (v != nullptr && !v->is_string() && !v->is_null())) {
          return Err(InvalidArgument("command params are {\"key\",\"value\"} strings"));
        }
        cmd.params.emplace_back(k->as_string(), v != nullptr && v->is_string() ? v->as_string() : "");
      }
    }
    out.push_back(std::move(cmd));
  }
  return out;
}

Result<std::vector<std::string>> SplitArgs(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 < s.size()) {
        if (s[i + 1] != '\n') cur.push_back(s[i + 1]);  // backslash-newline joins lines
        ++i;
      }
    } else if (c == '\'') {
      size_t end = s.find('\'', i + 1);
      if (end == std::string_view::npos) return Err(InvalidArgument("Args: unterminated single quote"));
      cur.append(s.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && std::strchr("\"\\$`\n", s[j + 1]) != nullptr) {
          if (s[j + 1] != '\n') cur.push_back(s[j + 1]);
          ++j;
        } else {
          cur.push_back(s[j]);
        }
      }
      if (j >= s.size()) return Err(InvalidArgument("Args: unterminated double quote"));
      i = j;
    } else {
      cur.push_back(c);
    }
  }
  if (in_word) out.push_back(std::move(cur));
  return out;
}

namespace {

// Appends what a pipe has, keeping at most `cap` bytes. False at EOF or on error.
bool Drain(int fd, std::string& into, size_t cap, bool& truncated) {
  char buf[16 * 1024];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  size_t keep = std::min(static_cast<size_t>(n), cap - std::min(cap, into.size()));
  into.append(buf, keep);
  if (keep < static_cast<size_t>(n)) truncated = true;
  return true;
}

// posix_spawn attributes and file actions, released however RunProcess returns.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

Result<ProcessRunResult> RunProcess(const std::vector<std::string>& argv, const ProcessRunOptions& options) {
  if (argv.empty()) return Err(InvalidArgument("no program"));
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Err(ErrnoStatus("pipe", argv[0], errno));
  sensor::UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Err(ErrnoStatus("pipe", argv[0], errno));
  sensor::UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  SpawnSetup s;
  // Own process group (so the group can be killed), default signal dispositions and an empty mask
  // (the sensor's blocked signals must not leak into the script).
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setsigdefault(&s.attr, &all);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&s.actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&s.actions, err_w.get(), 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&s.actions, options.cwd.c_str());

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // A clean environment: the sensor's own (proxy credentials, tokens) is not the script's business.
  const char* home = std::getenv("HOME");
  std::vector<std::string> env_strings = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                          std::string("HOME=") + (home ? home : "/"), "LANG=C.UTF-8"};
  std::vector<char*> env;
  for (std::string& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);

  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &s.actions, &s.attr, args.data(), env.data());
  if (rc != 0) return Err(Internal("cannot start " + argv[0] + ": " + std::strerror(rc)));
  out_w.Reset();
  err_w.Reset();
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);

  ProcessRunResult r;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  std::optional<std::chrono::steady_clock::time_point> exited_at;
  bool out_open = true, err_open = true;
  bool killed = false;
  std::chrono::steady_clock::time_point killed_at;
  auto kill_group = [&] {
    ::kill(-pid, SIGKILL);  // the child is not reaped yet, so its pid (= the group id) is still ours
    killed = true;
    killed_at = std::chrono::steady_clock::now();
  };
  while (out_open || err_open) {
    struct pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {err_open ? err_r.get() : -1, POLLIN, 0}};
    ::poll(fds, 2, 100);
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) out_open = Drain(out_r.get(), r.output, options.max_output_bytes, r.output_truncated);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) err_open = Drain(err_r.get(), r.errors, options.max_output_bytes, r.errors_truncated);
    auto now = std::chrono::steady_clock::now();
    if (killed) {
      if (now - killed_at > std::chrono::seconds(2)) break;  // a process that left the group holds the pipes
      continue;
    }
    if (!exited_at) {
      siginfo_t info{};
      // WNOWAIT: learn that it exited without reaping, so the group id cannot be reused yet.
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
        exited_at = now;
      }
    }
    if (options.cancelled && options.cancelled()) {
      r.cancelled = true;
      kill_group();
    } else if (now >= deadline) {
      r.timed_out = true;
      kill_group();
    } else if (exited_at && now - *exited_at > std::chrono::seconds(1)) {
      kill_group();  // the script is done; what it left behind holding the pipes goes with it
    }
  }
  if (!killed) ::kill(-pid, SIGKILL);  // background leftovers that closed their output
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  return r;
}

namespace {

constexpr const char* kAdvancedOnly = " requires Live response advanced; this session has Live response basic only";

bool ValidLibraryName(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

class Session {
 public:
  explicit Session(const LiveResponseOptions& o) : o_(o) {}

  // Runs one command; fills errors and returns whether it completed.
  bool Run(CommandResult& c, LiveResponseResult& out) {
    const std::string& t = c.command.type;
    if (EqualsIgnoreCase(t, "GetFile")) return GetFile(c, out);
    if (EqualsIgnoreCase(t, "PutFile")) return PutFile(c);
    if (EqualsIgnoreCase(t, "RunScript")) return RunScript(c, out);
    if (EqualsIgnoreCase(t, "processes")) return WriteJson(c, out, ProcessesJson(ListProcesses()));
    if (EqualsIgnoreCase(t, "connections")) return WriteJson(c, out, ConnectionsJson(ListConnections()));
    if (EqualsIgnoreCase(t, "dir")) return Dir(c, out);
    if (EqualsIgnoreCase(t, "fileinfo")) return FileInfo(c, out);
    return Fail(c, "Unsupported live response command: " + t);
  }

 private:
  static bool Fail(CommandResult& c, std::string error) {
    c.errors.push_back(std::move(error));
    return false;
  }

  std::optional<std::string> Required(CommandResult& c, std::string_view key) {
    auto v = c.command.Param(key);
    if (!v || v->empty()) Fail(c, c.command.type + " needs the parameter " + std::string(key));
    return v && !v->empty() ? v : std::nullopt;
  }

  std::string ResultPath(const CommandResult& c, const std::string& name) const {
    return o_.work_dir + "/command-" + std::to_string(c.index) + "-" + name;
  }

  bool AddFile(CommandResult& c, LiveResponseResult& out, const std::string& path, const char* type) {
    out.files.push_back({c.index, path, type, true});
    return true;
  }

  bool WriteJson(CommandResult& c, LiveResponseResult& out, const json::Value& v) {
    const std::string path = ResultPath(c, ToLower(c.command.type) + ".json");
    Status s = sensor::WriteFileAtomic(path, v.Serialize(), 0600);
    if (!s.ok()) return Fail(c, s.message());
    return AddFile(c, out, path, "application/json");
  }

  bool GetFile(CommandResult& c, LiveResponseResult& out) {
    auto path = Required(c, "Path");
    if (!path) return false;
    if ((*path)[0] != '/') return Fail(c, "Path must be absolute: " + *path);
    auto f = OpenRegular(*path, /*follow_symlinks=*/true);
    if (!f) return Fail(c, f.error().message());
    if (f->st.st_size > o_.max_get_file_bytes) {
      return Fail(c, *path + " is " + std::to_string(f->st.st_size) + " bytes; GetFile takes at most " +
                         std::to_string(o_.max_get_file_bytes));
    }
    // A copy, not the path: the upload happens after the action and the evidence must not change.
    const std::string dest = ResultPath(c, sensor::BaseName(*path));
    ::unlink(dest.c_str());
    Status s = CopyToNewFile(f->fd.get(), dest, 0600, o_.max_get_file_bytes);
    if (!s.ok()) return Fail(c, s.message());
    return AddFile(c, out, dest, "application/octet-stream");
  }

  // Fetches a library file into the downloads directory and returns its local path.
  Result<std::string> Fetch(const std::string& name) {
    if (!ValidLibraryName(name)) return Err(InvalidArgument("invalid library file name: " + name));
    if (!o_.fetch) return Err(FailedPrecondition("this sensor cannot fetch library files"));
    WARD_RETURN_IF_ERROR(sensor::MakeDirs(o_.downloads_dir, 0700));
    auto got = o_.fetch(name, o_.downloads_dir);
    if (!got) return Err(Unavailable("fetching " + name + " from the library failed: " + got.error().message()));
    auto f = OpenRegular(*got);
    if (!f) return Err(Internal("the fetched " + name + " is not usable: " + f.error().message()));
    return *got;
  }

  bool PutFile(CommandResult& c) {
    if (!o_.advanced) return Fail(c, "PutFile" + std::string(kAdvancedOnly));
    auto name = Required(c, "FileName");
    if (!name) return false;
    auto got = Fetch(*name);
    return got ? true : Fail(c, got.error().message());
  }

  bool RunScript(CommandResult& c, LiveResponseResult& out) {
    if (!o_.advanced) return Fail(c, "RunScript" + std::string(kAdvancedOnly));
    auto name = Required(c, "ScriptName");
    if (!name) return false;
    auto args = SplitArgs(c.command.Param("Args").value_or(""));
    if (!args) return Fail(c, args.error().message());
    auto fetched = Fetch(*name);
    if (!fetched) return Fail(c, fetched.error().message());
    const std::string& script = *fetched;
    ::chmod(script.c_str(), 0700);
    // A shebang picks its interpreter (the kernel reads it); anything else is a POSIX sh script.
    std::vector<std::string> argv;
    auto head = sensor::ReadFile(script, 2);
    if (head && *head == "#!") {
      argv.push_back(script);
    } else {
      argv = {"/bin/sh", script};
    }
    argv.insert(argv.end(), args->begin(), args->end());
    ProcessRunOptions po;
    po.timeout = o_.script_timeout;
    po.cancelled = o_.cancelled;
    po.max_output_bytes = o_.max_output_bytes;
    po.cwd = o_.downloads_dir;
    auto run = RunProcess(argv, po);
    if (!run) return Fail(c, run.error().message());
    json::Value v = json::Value::Object();
    v.AppendMember("script_name", json::Value(*name));
    v.AppendMember("exit_code", json::Value(run->exit_code));
    v.AppendMember("script_output", json::Value(run->output));
    v.AppendMember("script_errors", json::Value(run->errors));
    bool ok = WriteJson(c, out, v);
    if (run->output_truncated) c.errors.push_back("script_output truncated at " + std::to_string(o_.max_output_bytes) + " bytes");
    if (run->errors_truncated) c.errors.push_back("script_errors truncated at " + std::to_string(o_.max_output_bytes) + " bytes");
    if (run->timed_out) {
      return Fail(c, "Script timed out after " + std::to_string(o_.script_timeout.count() / 1000) + " seconds and was killed");
    }
    if (run->cancelled) return Fail(c, "Cancelled; the script was killed");
    return ok;  // a non-zero exit code is the script's result, not a failed command
  }

  bool Dir(CommandResult& c, LiveResponseResult& out) {
    auto path = Required(c, "Path");
    if (!path) return false;
    DIR* d = ::opendir(path->c_str());
    if (d == nullptr) return Fail(c, ErrnoStatus("open directory", *path, errno).message());
    std::vector<std::string> names;
    bool truncated = false;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      if (names.size() >= o_.max_dir_entries) {
        truncated = true;
        break;
      }
      names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    json::Value entries = json::Value::Array();
    for (const std::string& n : names) {
      if (auto info = FileInfoJson(sensor::JoinPath(*path, n), /*max_hash_bytes=*/-1)) entries.Append(std::move(*info));
    }
    json::Value v = json::Value::Object();
    v.AppendMember("path", json::Value(*path));
    v.AppendMember("entries", std::move(entries));
    v.AppendMember("truncated", json::Value(truncated));
    return WriteJson(c, out, v);
  }

  bool FileInfo(CommandResult& c, LiveResponseResult& out) {
    auto path = Required(c, "Path");
    if (!path) return false;
    auto info = FileInfoJson(*path, o_.max_hash_bytes);
    if (!info) return Fail(c, info.error().message());
    return WriteJson(c, out, *info);
  }

  const LiveResponseOptions& o_;
};

}  // namespace

LiveResponseResult RunLiveResponse(const std::vector<LiveResponseCommand>& commands, const LiveResponseOptions& options) {
  LiveResponseResult out;
  Session session(options);
  std::string stop_reason;
  for (size_t i = 0; i < commands.size(); ++i) {
    CommandResult c;
    c.index = static_cast<int>(i);
    c.command = commands[i];
    if (stop_reason.empty() && options.cancelled && options.cancelled()) stop_reason = "Not run: the session was cancelled";
    if (!stop_reason.empty()) {
      c.errors.push_back(stop_reason);
      out.commands.push_back(std::move(c));
      continue;
    }
    c.start_time = FormatIsoMs(NowMs());
    bool ok = session.Run(c, out);
    c.end_time = FormatIsoMs(NowMs());
    c.status = ok ? "Completed" : "Failed";
    if (!ok) {
      stop_reason = "Not run: command " + std::to_string(i) + " (" + c.command.type + ") failed";
      if (out.status.ok()) {
        out.status = Internal("command " + std::to_string(i) + " (" + c.command.type + ") failed: " +
                              (c.errors.empty() ? "unknown error" : c.errors.back()));
      }
    }
    out.commands.push_back(std::move(c));
  }
  if (out.status.ok() && !stop_reason.empty()) out.status = Unavailable("cancelled");
  return out;
}

json::Value LiveResponseResult::Details() const {
  json::Value list = json::Value::Array();
  for (const CommandResult& c : commands) {
    json::Value v = json::Value::Object();
    v.AppendMember("index", json::Value(c.index));
    v.AppendMember("startTime", c.start_time.empty() ? json::Value() : json::Value(c.start_time));
    v.AppendMember("endTime", c.end_time.empty() ? json::Value() : json::Value(c.end_time));
    v.AppendMember("commandStatus", json::Value(c.status));
    v.AppendMember("errors", StringArray(c.errors));
    v.AppendMember("command", c.command.ToJson());
    list.Append(std::move(v));
  }
  json::Value d = json::Value::Object();
  d.AppendMember("commands", std::move(list));
  return d;
}

sensor::ActionOutcome LiveResponseResult::ToOutcome() const {
  sensor::ActionOutcome o;
  o.status = status;
  o.details = Details();
  o.files = files;
  return o;
}

}  // namespace ward::response
