#pragma once
// DeviceLogonEvents: LogonSuccess from wtmp (USER_PROCESS records), LogonFailed from sshd's "Failed
// password" lines in /var/log/auth.log. Both files are followed by offset (polled every `interval`;
// rotation is noticed by inode) and the offsets persist in the state dir, so a restart neither
// replays nor loses logons. On the very first run reading starts at the end of the files.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "sensor/event.h"
#include "sensor/proc.h"
#include "sensor/util.h"

namespace ward::sensor {

struct LogonCollectorOptions {
  std::string wtmp_path = "/var/log/wtmp";
  std::string auth_log_path = "/var/log/auth.log";
  std::string offsets_file;  // "" = do not persist
  bool start_at_end = true;  // on first run (no saved offsets)
  std::chrono::milliseconds interval{2000};
};

struct FailedLogon {
  int64_t ticks = 0;  // 0 when the line had no parsable time
  std::string user;
  bool invalid_user = false;
  std::string remote_ip;
  int remote_port = 0;
  int pid = 0;
};
// Parses one auth.log line; nullopt unless it is an sshd "Failed password" line. `now_ticks` decides
// the year of classic syslog timestamps (which have none).
std::optional<FailedLogon> ParseFailedPasswordLine(std::string_view line, int64_t now_ticks);

class LogonCollector {
 public:
  LogonCollector(EventSink* sink, ProcessTable* processes, LogonCollectorOptions options);
  ~LogonCollector();
  LogonCollector(const LogonCollector&) = delete;
  LogonCollector& operator=(const LogonCollector&) = delete;

  Status Start();
  void Stop();
  void PollOnce();

 private:
  struct Followed {
    uint64_t inode = 0;
    uint64_t offset = 0;
    bool known = false;
  };
  // Reads new bytes of `path`; handles rotation/truncation. Returns "" when nothing new.
  std::string ReadNew(const std::string& path, Followed& f, size_t record_align);
  void HandleWtmp(std::string_view data);
  void HandleAuthLog(std::string_view data);
  void LoadOffsets();
  void SaveOffsets();

  EventSink* sink_;
  ProcessTable* processes_;
  LogonCollectorOptions options_;
  Followed wtmp_;
  Followed auth_;
  bool first_poll_ = true;
  Stopper stopper_;
  std::thread thread_;
};

}  // namespace ward::sensor
