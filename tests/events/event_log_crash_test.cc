// Crash test: a child process appends and reports every acknowledged offset through a pipe; the
// parent SIGKILLs it mid-stream, reopens the log and checks that every acknowledged record survived
// intact and that nothing after the end is half-visible. The log directory is shared by all rounds,
// so each round also appends to a log recovered from the previous kill.
//
// SIGKILL loses no page-cache data, so this exercises process crashes (kill mid-group, mid-write,
// mid-roll), not power loss; torn bytes on disk are covered by TornTailTest in event_log_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "events/event_log.h"

namespace ward::events {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kRounds = 5;
constexpr auto kRunTime = 200ms;          // appending time before the kill
constexpr auto kStartTimeout = 30s;       // the child's Open() scans a log that grows every round
constexpr uint64_t kReady = ~uint64_t{0};  // sent by the child once the log is open

// The payload is a function of the offset, so the parent can check every record it finds.
std::string CrashPayload(uint64_t offset) {
  size_t size = 16 + (offset * 7919) % 4000;
  std::string s(size, '\0');
  uint64_t h = offset * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < size; ++i) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    s[i] = static_cast<char>(h >> 56);
  }
  std::memcpy(s.data(), &offset, sizeof offset);
  return s;
}

void WriteOffset(int fd, uint64_t offset) {
  // 8 bytes < PIPE_BUF: atomic; a failure means the parent is gone.
  if (::write(fd, &offset, sizeof offset) != sizeof offset) ::_exit(12);
}

// Never returns: runs until killed. Exit codes flag a broken contract.
[[noreturn]] void RunChild(const std::string& dir, int fd, bool pipelined) {
  FileEventLogOptions o;
  o.dir = dir;
  o.segment_bytes = 256 << 10;  // rolls every ~130 records, so kills also land around rolls
  o.group_commit_window = std::chrono::microseconds(300);
  auto opened = FileEventLog::Open(o);
  if (!opened) ::_exit(10);
  FileEventLog& log = **opened;
  uint64_t next = log.EndOffset();
  WriteOffset(fd, kReady);
  if (!pipelined) {
    for (;;) {
      auto r = log.AppendSync(CrashPayload(next));
      if (!r || *r != next) ::_exit(11);
      WriteOffset(fd, next++);
    }
  }
  // Pipelined: one thread queues with up to 256 records in flight, so kills land inside multi-record
  // groups. Offsets follow queue order, so each payload can still be derived from its offset.
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  for (;;) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return in_flight < 256; });
      ++in_flight;
    }
    uint64_t expected = next++;
    log.Append(CrashPayload(expected), [&, expected](Result<uint64_t> r) {
      if (!r || *r != expected) ::_exit(11);
      WriteOffset(fd, expected);
      {
        std::lock_guard lk(mu);
        --in_flight;
      }
      cv.notify_one();
    });
  }
}

// Runs one child for kRunTime, kills it and returns the offsets it acknowledged.
std::vector<uint64_t> RunAndKill(const std::string& dir, bool pipelined) {
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {};
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return {};
  }
  if (pid == 0) {
    ::close(fds[0]);
    RunChild(dir, fds[1], pipelined);
  }
  ::close(fds[1]);

  std::string bytes;
  char buf[4096];
  // The kill comes kRunTime after the child reports that its log is open.
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  bool started = false, eof = false;
  while (!eof && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) bytes.append(buf, static_cast<size_t>(n));
    if (n == 0) eof = true;  // the child died on its own
    if (!started && bytes.size() >= 8) {
      started = true;
      deadline = std::chrono::steady_clock::now() + kRunTime;
    }
  }
  EXPECT_TRUE(started) << "the child did not open the log in time";
  ::kill(pid, SIGKILL);
  // Whatever the child wrote before it died is still in the pipe.
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      bytes.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited by itself with code " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  EXPECT_EQ(bytes.size() % 8, 0u);
  if (bytes.size() < 8) return {};
  uint64_t ready;
  std::memcpy(&ready, bytes.data(), 8);
  EXPECT_EQ(ready, kReady);
  std::vector<uint64_t> offsets(bytes.size() / 8 - 1);
  std::memcpy(offsets.data(), bytes.data() + 8, offsets.size() * 8);
  return offsets;
}

void CheckLog(const std::string& dir, const std::set<uint64_t>& acked, int round) {
  FileEventLogOptions o;
  o.dir = dir;
  auto opened = FileEventLog::Open(o);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  FileEventLog& log = **opened;
  const uint64_t end = log.EndOffset();
  ASSERT_FALSE(acked.empty());
  ASSERT_GT(end, *acked.rbegin()) << "an acknowledged record is missing";

  // Every record up to the end is complete and correct, acknowledged or not (records written but not
  // yet acknowledged when the child died may survive, but only whole).
  uint64_t next = 0, framed = 0;
  while (next < end) {
    auto r = log.Read(next, 500, 8 << 20);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    ASSERT_FALSE(r->empty());
    for (const auto& rec : *r) {
      ASSERT_EQ(rec.offset, next);
      ASSERT_EQ(rec.data, CrashPayload(rec.offset)) << "round " << round << ", offset " << rec.offset;
      framed += 20 + rec.data.size();
      ++next;
    }
  }
  EXPECT_TRUE(log.Read(end, 10, 1 << 20)->empty());
  // The segment files hold exactly these records: no torn bytes left behind the end.
  uint64_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".wal") on_disk += fs::file_size(e.path());
  EXPECT_EQ(on_disk, framed);
  ::testing::Test::RecordProperty("round" + std::to_string(round) + "_records", static_cast<int>(end));
  ::testing::Test::RecordProperty("round" + std::to_string(round) + "_torn_bytes", static_cast<int>(log.stats().recovered_torn_bytes));
}

TEST(EventLogCrashTest, AcknowledgedRecordsSurviveSigkill) {
  char tmpl[] = "/tmp/ward_event_log_crash_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  const std::string dir = root + "/log";
  std::set<uint64_t> acked;
  for (int round = 0; round < 2 * kRounds; ++round) {
    const bool pipelined = round % 2 == 1;
    auto offsets = RunAndKill(dir, pipelined);
    EXPECT_FALSE(offsets.empty()) << "round " << round << " acknowledged nothing";
    for (uint64_t o : offsets) EXPECT_TRUE(acked.insert(o).second) << "offset " << o << " acknowledged twice";
    CheckLog(dir, acked, round);
    if (HasFatalFailure()) break;
  }
  std::error_code ec;
  fs::remove_all(root, ec);
}

}  // namespace
}  // namespace ward::events
