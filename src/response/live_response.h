#pragma once
// Live response (MDE POST /machines/{id}/runliveresponse): a list of commands run in order, where a
// failure aborts the rest. Each command ends Completed or Failed with its errors and start/end times;
// commands after a failure (or a cancellation) keep MDE's initial status "Created" with an error
// saying why they did not run.
//
// Commands (the type is matched case-insensitively, parameter keys too):
//   GetFile {Path}              the file, copied (at most max_get_file_bytes) as an ActionFile
//   PutFile {FileName}          a library file, fetched by the channel into downloads_dir   [advanced]
//   RunScript {ScriptName,Args} a library script run by its shebang or /bin/sh, with Args split into
//                               argv as a shell would split them but with no expansion (no shell
//                               sees them, so nothing can be injected); stdin /dev/null, a clean
//                               environment, its own process group, killed as a group on timeout or
//                               cancellation; output as the ActionFile {script_name, exit_code,
//                               script_output, script_errors}                             [advanced]
//   processes, connections      ps / ss-like JSON listings (ActionFile)
//   dir {Path}                  the entries of a directory with size, mode, owner, times (ActionFile)
//   fileinfo {Path}             one file's size, mode, owner, times and hashes (ActionFile)
// [advanced] commands fail with a clear error in a session that only has Live response basic.
//
// Result files are written to work_dir as "command-<index>-<type>.json" (GetFile: the file's name)
// and returned in ActionOutcome::files with their command index. Thread-safe; no shared state.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "sensor/actions.h"

namespace ward::response {

// Downloads the live-response library file `file_name` into `dest_dir` (the channel knows how: the
// server's /sensor/v1 library endpoint) and returns the local path of the downloaded file.
using LibraryFetch = std::function<Result<std::string>(const std::string& file_name, const std::string& dest_dir)>;

struct LiveResponseCommand {
  std::string type;
  std::vector<std::pair<std::string, std::string>> params;  // key, value as sent
  std::optional<std::string> Param(std::string_view key) const;  // case-insensitive key
  json::Value ToJson() const;  // MDE's {"type","params":[{"key","value"}]}
};

// Reads {"Commands":[{"type","params":[{"key","value"}]}]} (ActionRequest::params of a LiveResponse).
// InvalidArgument when the shape is wrong or there are no commands or more than max_commands.
Result<std::vector<LiveResponseCommand>> ParseLiveResponseCommands(const json::Value& params, size_t max_commands = 100);

struct LiveResponseOptions {
  bool advanced = false;        // the requester has Live response advanced
  std::string downloads_dir;    // <state-dir>/liveresponse/downloads (created 0700)
  std::string work_dir;         // where result files go (ActionContext::WorkDir())
  LibraryFetch fetch;           // required for PutFile and RunScript
  std::chrono::milliseconds script_timeout = std::chrono::minutes(10);  // MDE's RunScript limit
  int64_t max_get_file_bytes = 3LL * 1024 * 1024 * 1024;
  size_t max_output_bytes = 1024 * 1024;  // each of script_output and script_errors
  int64_t max_hash_bytes = 256LL * 1024 * 1024;  // fileinfo hashes files up to this size
  size_t max_dir_entries = 10000;
  std::function<bool()> cancelled;  // polled between commands and while a script runs
};

struct CommandResult {
  int index = 0;
  LiveResponseCommand command;
  std::string status = "Created";  // Created (not run) | Completed | Failed
  std::vector<std::string> errors;
  std::string start_time, end_time;  // ISO 8601; empty when not run
};

struct LiveResponseResult {
  std::vector<CommandResult> commands;
  std::vector<sensor::ActionFile> files;
  // Ok when every command completed; otherwise the first failure's error.
  Status status;
  // {"commands":[{"index","startTime","endTime","commandStatus","errors":[],"command":{...}}]}
  json::Value Details() const;
  sensor::ActionOutcome ToOutcome() const;
};

LiveResponseResult RunLiveResponse(const std::vector<LiveResponseCommand>& commands, const LiveResponseOptions& options);

// ---- building blocks (exposed for tests) ----

// Splits like a POSIX shell splits words: blanks separate, '...' is literal, "..." keeps blanks and
// honours \" \\ \$ \`, a backslash outside quotes escapes the next character. No expansion of any
// kind. InvalidArgument on an unterminated quote.
Result<std::vector<std::string>> SplitArgs(std::string_view args);

struct ProcessRunOptions {
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
  std::function<bool()> cancelled;
  size_t max_output_bytes = 1024 * 1024;  // per stream; the rest is read and dropped
  std::string cwd;                        // "" = inherit
};
struct ProcessRunResult {
  int exit_code = -1;  // 128 + signal when killed by a signal, as shells report it
  std::string output, errors;
  bool output_truncated = false, errors_truncated = false;
  bool timed_out = false, cancelled = false;
};
// Runs argv[0] (a path, not searched in PATH) with argv, stdin from /dev/null and a minimal
// environment (PATH, HOME, LANG) in a new process group, capturing stdout and stderr. The whole group
// is killed (SIGKILL) on timeout or cancellation, and whatever the script left running in its group
// once it exits. Internal when the program cannot be started.
Result<ProcessRunResult> RunProcess(const std::vector<std::string>& argv, const ProcessRunOptions& options);

}  // namespace ward::response
