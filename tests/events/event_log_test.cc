#include <fcntl.h>
#include <sys/stat.h>
#include "events/event_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace ward::events {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr size_t kHeader = 20;  // record framing, see event_log.cc

// A fresh directory under /tmp per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    std::string tmpl = "/tmp/ward_event_log_" + name + "_XXXXXX";
    const char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string log_dir() const { return path_ + "/log"; }

 private:
  std::string path_;
};

// Deterministic, self-checking payload: "<key>|" followed by bytes derived from the key.
std::string MakePayload(const std::string& key, size_t size) {
  std::string s = key + "|";
  uint64_t h = std::hash<std::string>{}(key);
  while (s.size() < size) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    s.push_back(static_cast<char>(h >> 56));
  }
  return s;
}
bool PayloadIsIntact(const std::string& payload) {
  auto bar = payload.find('|');
  if (bar == std::string::npos) return false;
  return MakePayload(payload.substr(0, bar), payload.size()) == payload;
}
std::string PayloadForOffset(uint64_t offset, size_t size = 300) {
  return MakePayload("offset-" + std::to_string(offset), std::max<size_t>(size, 20));
}

std::unique_ptr<FileEventLog> OpenLog(FileEventLogOptions o) {
  auto log = FileEventLog::Open(std::move(o));
  if (!log) {
    ADD_FAILURE() << log.error().ToString();
    return nullptr;
  }
  return std::move(*log);
}

FileEventLogOptions Options(const TempDir& t, size_t segment_bytes = 256ull << 20,
                            std::chrono::microseconds window = std::chrono::microseconds(200)) {
  FileEventLogOptions o;
  o.dir = t.log_dir();
  o.segment_bytes = segment_bytes;
  o.group_commit_window = window;
  return o;
}

std::vector<LogRecord> ReadAll(FileEventLog& log, uint64_t from = 0) {
  std::vector<LogRecord> all;
  for (;;) {
    auto r = log.Read(from, 1000, 64 << 20);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (!r || r->empty()) return all;
    from = r->back().offset + 1;
    for (auto& rec : *r) all.push_back(std::move(rec));
  }
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".wal") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}
void AppendToFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << data;
}

// Waits for N async callbacks.
class Countdown {
 public:
  explicit Countdown(size_t n) : n_(n) {}
  void Done() {
    std::lock_guard lk(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool Wait(std::chrono::seconds timeout = 60s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t n_;
};

// Bitwise CRC-32C, independent of the implementation's tables and SSE4.2 path.
uint32_t ReferenceCrc32c(const std::string& data, uint32_t crc = 0) {
  crc = ~crc;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}
std::string Le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}
std::string Le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}
// A record framed exactly as docs/storage-format.md describes it.
std::string DocumentedRecord(uint64_t offset, const std::string& payload) {
  std::string len = Le32(static_cast<uint32_t>(payload.size())), off = Le64(offset);
  uint32_t crc = ReferenceCrc32c(len + off + payload);
  return Le32(0x474F4C57) + len + Le32(crc) + off + payload;
}

// ---------------------------------------------------------------------------------------------

TEST(EventLogTest, ReferenceCrcMatchesStandardCheckValue) {
  EXPECT_EQ(ReferenceCrc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Le32(0x474F4C57), "WLOG");
}

TEST(EventLogTest, AppendReadRoundTrip) {
  TempDir t;
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->EndOffset(), 0u);
  EXPECT_TRUE(log->Read(0, 10, 1 << 20)->empty());

  std::vector<std::string> payloads = {"first", "", std::string(100, 'x'), std::string(100, 'y'), "last"};
  for (size_t i = 0; i < payloads.size(); ++i) {
    auto off = log->AppendSync(payloads[i]);
    ASSERT_TRUE(off.has_value()) << off.error().ToString();
    EXPECT_EQ(*off, i);
  }
  EXPECT_EQ(log->EndOffset(), payloads.size());

  auto all = log->Read(0, 100, 1 << 20);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ((*all)[i].offset, i);
    EXPECT_EQ((*all)[i].data, payloads[i]);
  }

  auto one = log->Read(2, 1, 1 << 20);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].offset, 2u);
  // max_bytes stops before the record that would exceed it, but always returns at least one.
  auto by_bytes = log->Read(2, 100, 150);
  ASSERT_EQ(by_bytes->size(), 1u);
  auto at_least_one = log->Read(2, 100, 0);
  ASSERT_EQ(at_least_one->size(), 1u);
  EXPECT_EQ((*at_least_one)[0].data, payloads[2]);
  EXPECT_TRUE(log->Read(payloads.size(), 10, 1 << 20)->empty());
  EXPECT_TRUE(log->Read(1000, 10, 1 << 20)->empty());
  EXPECT_TRUE(log->Read(0, 0, 1 << 20)->empty());

  auto s = log->stats();
  EXPECT_EQ(s.records, payloads.size());
  EXPECT_EQ(s.bytes, 5u + 0 + 100 + 100 + 4);
  EXPECT_GE(s.fsyncs, 1u);
  EXPECT_EQ(s.recovered_torn_bytes, 0u);
}

TEST(EventLogTest, WritesTheDocumentedByteLayout) {
  TempDir t;
  {
    auto log = OpenLog(Options(t));
    ASSERT_TRUE(log);
    ASSERT_EQ(*log->AppendSync("hello"), 0u);
    ASSERT_EQ(*log->AppendSync(std::string(1000, 'z')), 1u);
  }
  auto files = SegmentFiles(t.log_dir());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename().string(), "00000000000000000000.wal");
  EXPECT_EQ(ReadFile(files[0]), DocumentedRecord(0, "hello") + DocumentedRecord(1, std::string(1000, 'z')));
}

TEST(EventLogTest, ReadsAHandWrittenSegment) {
  TempDir t;
  fs::create_directories(t.log_dir());
  std::string seg;
  for (uint64_t o = 7; o < 10; ++o) seg += DocumentedRecord(o, PayloadForOffset(o, 50 + o * 333));
  WriteFile(t.log_dir() + "/00000000000000000007.wal", seg);
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->EndOffset(), 10u);
  EXPECT_EQ(log->stats().recovered_torn_bytes, 0u);
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all[i].offset, 7 + i);
    EXPECT_EQ(all[i].data, PayloadForOffset(7 + i, 50 + (7 + i) * 333));
  }
  EXPECT_EQ(*log->AppendSync("next"), 10u);
}

TEST(EventLogTest, ConcurrentAppendersGetDistinctContiguousOffsets) {
  TempDir t;
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  constexpr int kThreads = 8, kPerThread = 300;
  std::mutex mu;
  std::map<uint64_t, std::string> written;
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string p = MakePayload("t" + std::to_string(th) + "-" + std::to_string(i), 10 + (i * 37) % 2000);
        auto off = log->AppendSync(p);
        ASSERT_TRUE(off.has_value()) << off.error().ToString();
        std::lock_guard lk(mu);
        EXPECT_TRUE(written.emplace(*off, std::move(p)).second) << "offset " << *off << " given twice";
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(written.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(written.begin()->first, 0u);
  EXPECT_EQ(written.rbegin()->first, uint64_t{kThreads * kPerThread - 1});
  EXPECT_EQ(log->EndOffset(), uint64_t{kThreads * kPerThread});
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), written.size());
  for (const auto& rec : all) EXPECT_EQ(rec.data, written[rec.offset]) << "offset " << rec.offset;
}

TEST(EventLogTest, GroupCommitGroupsAsyncAppends) {
  TempDir t;
  auto log = OpenLog(Options(t, 256ull << 20, std::chrono::microseconds(2000)));
  ASSERT_TRUE(log);
  constexpr int kThreads = 8, kPerThread = 1250;
  Countdown done(kThreads * kPerThread);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kPerThread; ++i) {
        log->Append(MakePayload("t" + std::to_string(th) + "-" + std::to_string(i), 200), [&](Result<uint64_t> r) {
          if (!r) failures++;
          done.Done();
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(failures.load(), 0);
  auto s = log->stats();
  EXPECT_EQ(s.records, 10000u);
  EXPECT_LT(s.fsyncs * 20, s.records) << "fsyncs: " << s.fsyncs;
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 10000u);
  std::set<std::string> keys;
  for (const auto& r : all) {
    EXPECT_TRUE(PayloadIsIntact(r.data));
    keys.insert(r.data.substr(0, r.data.find('|')));
  }
  EXPECT_EQ(keys.size(), 10000u);
}

TEST(EventLogTest, GroupCommitGroupsSyncAppenders) {
  TempDir t;
  auto log = OpenLog(Options(t, 256ull << 20, std::chrono::microseconds(2000)));
  ASSERT_TRUE(log);
  constexpr int kThreads = 8, kPerThread = 100;
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) ASSERT_TRUE(log->AppendSync(std::string(4096, 'a')).has_value());
    });
  }
  for (auto& th : threads) th.join();
  auto s = log->stats();
  EXPECT_EQ(s.records, 800u);
  // Eight appenders with one record in flight each: ideally 100 fsyncs; allow for scheduling noise.
  EXPECT_LE(s.fsyncs * 3, s.records) << "fsyncs: " << s.fsyncs;
}

TEST(EventLogTest, ReadsAreConsistentDuringConcurrentAppends) {
  TempDir t;
  auto log = OpenLog(Options(t, 64 << 10));  // small segments: readers cross rolls as they happen
  ASSERT_TRUE(log);
  constexpr int kThreads = 4, kPerThread = 500;
  std::atomic<bool> appending{true};
  std::atomic<uint64_t> seen{0};
  std::thread reader([&] {
    uint64_t next = 0;
    for (;;) {
      bool more = appending.load();
      auto r = log->Read(next, 37, 20000);
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      // Everything returned is durable, contiguous and intact.
      uint64_t end = log->EndOffset();
      for (const auto& rec : *r) {
        ASSERT_EQ(rec.offset, next);
        ASSERT_LT(rec.offset, end);
        ASSERT_TRUE(PayloadIsIntact(rec.data)) << "offset " << rec.offset;
        ++next;
      }
      if (r->empty()) {
        if (!more) break;
        log->WaitForData(next, 10ms);
      }
    }
    seen = next;
  });
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kPerThread; ++i)
        ASSERT_TRUE(log->AppendSync(MakePayload("t" + std::to_string(th) + "-" + std::to_string(i), 50 + i * 7)));
    });
  }
  for (auto& th : threads) th.join();
  appending = false;
  reader.join();
  EXPECT_EQ(seen.load(), uint64_t{kThreads * kPerThread});
  EXPECT_GT(SegmentFiles(t.log_dir()).size(), 5u);
}

TEST(EventLogTest, RollsSegmentsAndReadsAcrossThem) {
  TempDir t;
  auto log = OpenLog(Options(t, 4096));
  ASSERT_TRUE(log);
  // 1000-byte payloads: 4 records (4080 bytes) per segment. Async so whole batches span rolls.
  Countdown done(50);
  for (uint64_t i = 0; i < 50; ++i)
    log->Append(PayloadForOffset(i, 1000), [&, i](Result<uint64_t> r) {
      EXPECT_TRUE(r.has_value());
      if (r) {
        EXPECT_EQ(*r, i);  // one appender: offsets follow queue order
      }
      done.Done();
    });
  ASSERT_TRUE(done.Wait());
  auto files = SegmentFiles(t.log_dir());
  ASSERT_EQ(files.size(), 13u);
  for (size_t k = 0; k < files.size(); ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "%020zu.wal", k * 4);
    EXPECT_EQ(fs::path(files[k]).filename().string(), name);
    EXPECT_LE(fs::file_size(files[k]), 4096u);
  }
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 50u);
  for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(all[i].data, PayloadForOffset(i, 1000));
  for (uint64_t from : {0, 3, 4, 6, 17, 47, 49}) {
    auto r = log->Read(from, 10, 1 << 20);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->size(), std::min<size_t>(10, 50 - from));
    for (size_t k = 0; k < r->size(); ++k) {
      EXPECT_EQ((*r)[k].offset, from + k);
      EXPECT_EQ((*r)[k].data, PayloadForOffset(from + k, 1000));
    }
  }
  // A record bigger than a segment gets a segment of its own.
  ASSERT_EQ(*log->AppendSync(std::string(10000, 'b')), 50u);
  ASSERT_EQ(*log->AppendSync("small"), 51u);
  EXPECT_EQ(fs::file_size(t.log_dir() + "/00000000000000000050.wal"), 10020u);
  EXPECT_EQ((*log->Read(50, 1, 0))[0].data, std::string(10000, 'b'));
  EXPECT_EQ((*log->Read(51, 1, 0))[0].data, "small");
}

TEST(EventLogTest, SparseIndexServesRandomReads) {
  TempDir t;
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  constexpr uint64_t kRecords = 3000;
  Countdown done(kRecords);
  for (uint64_t i = 0; i < kRecords; ++i)
    log->Append(PayloadForOffset(i, 20 + i % 300), [&](Result<uint64_t> r) { done.Done(); });
  ASSERT_TRUE(done.Wait());
  auto check = [&](FileEventLog& l) {
    for (uint64_t from : {0ull, 1ull, 63ull, 64ull, 65ull, 777ull, 1023ull, 2999ull}) {
      auto r = l.Read(from, 3, 1 << 20);
      ASSERT_TRUE(r.has_value());
      ASSERT_FALSE(r->empty());
      for (size_t k = 0; k < r->size(); ++k) {
        EXPECT_EQ((*r)[k].offset, from + k);
        EXPECT_EQ((*r)[k].data, PayloadForOffset(from + k, 20 + (from + k) % 300));
      }
    }
  };
  check(*log);
  log.reset();
  log = OpenLog(Options(t));  // the index rebuilt by the open-time scan
  ASSERT_TRUE(log);
  check(*log);
}

TEST(EventLogTest, ReopenAfterCleanCloseKeepsEverything) {
  TempDir t;
  {
    auto log = OpenLog(Options(t, 8192));
    ASSERT_TRUE(log);
    for (uint64_t i = 0; i < 100; ++i) ASSERT_EQ(*log->AppendSync(PayloadForOffset(i, 100 + i * 13)), i);
  }
  for (int round = 0; round < 2; ++round) {
    auto log = OpenLog(Options(t, 8192));
    ASSERT_TRUE(log);
    EXPECT_EQ(log->stats().recovered_torn_bytes, 0u);
    const uint64_t end = 100 + round;
    EXPECT_EQ(log->EndOffset(), end);
    auto all = ReadAll(*log);
    ASSERT_EQ(all.size(), end);
    for (uint64_t i = 0; i < end; ++i) EXPECT_EQ(all[i].data, PayloadForOffset(i, 100 + i * 13));
    ASSERT_EQ(*log->AppendSync(PayloadForOffset(end, 100 + end * 13)), end);
  }
}

TEST(EventLogTest, DestructorCompletesPendingAppends) {
  TempDir t;
  constexpr int kRecords = 2000;
  std::atomic<int> ok{0};
  {
    // A long window: the records are still queued when the log is destroyed.
    auto log = OpenLog(Options(t, 256ull << 20, std::chrono::microseconds(500000)));
    ASSERT_TRUE(log);
    for (int i = 0; i < kRecords; ++i)
      log->Append(PayloadForOffset(i), [&](Result<uint64_t> r) {
        if (r) ok++;
      });
  }
  EXPECT_EQ(ok.load(), kRecords);
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->EndOffset(), uint64_t{kRecords});
}

TEST(EventLogTest, SecondOpenIsAReadOnlySnapshot) {
  TempDir t;
  auto log = OpenLog(Options(t, 4096));
  ASSERT_TRUE(log);
  for (uint64_t i = 0; i < 10; ++i) ASSERT_EQ(*log->AppendSync(PayloadForOffset(i, 1000)), i);
  // The writer's next group, caught half-written.
  const std::string active = SegmentFiles(t.log_dir()).back();
  const std::string half = DocumentedRecord(10, PayloadForOffset(10, 1000)).substr(0, 300);
  AppendToFile(active, half);
  const auto size = fs::file_size(active);

  auto second = FileEventLog::Open(Options(t, 4096));
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  auto& ro = **second;
  EXPECT_EQ(ro.EndOffset(), 10u);
  EXPECT_EQ(ro.stats().recovered_torn_bytes, 0u);
  EXPECT_EQ(fs::file_size(active), size);  // the writer's tail is not the reader's to cut
  auto all = ReadAll(ro);
  ASSERT_EQ(all.size(), 10u);
  for (const auto& r : all) EXPECT_EQ(r.data, PayloadForOffset(r.offset, 1000));
  auto refused = ro.AppendSync("no");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ro.TruncateBefore(100).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(SegmentFiles(t.log_dir()).size(), 3u);
  second->reset();

  // The writer is unaffected: it overwrites its own half-written tail.
  fs::resize_file(active, size - half.size());
  EXPECT_EQ(*log->AppendSync(PayloadForOffset(10, 1000)), 10u);
  log.reset();
  auto reopened = OpenLog(Options(t, 4096));  // and the lock went with the writer
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened->AppendSync(PayloadForOffset(11, 1000)), 11u);
  EXPECT_EQ(ReadAll(*reopened).size(), 12u);
}

TEST(EventLogTest, ReadOnlySnapshotOfAnEmptyDirectory) {
  TempDir t;
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  fs::remove(t.log_dir() + "/00000000000000000000.wal");  // as if the writer had not created it yet
  auto ro = FileEventLog::Open(Options(t));
  ASSERT_TRUE(ro.has_value()) << ro.error().ToString();
  EXPECT_EQ((*ro)->EndOffset(), 0u);
  EXPECT_TRUE((*ro)->Read(0, 10, 1 << 20)->empty());
  EXPECT_FALSE((*ro)->WaitForData(0, 1ms));
  EXPECT_FALSE((*ro)->AppendSync("x").has_value());
}

TEST(EventLogTest, RejectsOversizedRecordsAndInvalidOptions) {
  TempDir t;
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  auto big = log->AppendSync(std::string((64u << 20) + 1, 'x'));
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*log->AppendSync("fine"), 0u);

  FileEventLogOptions o;
  EXPECT_EQ(FileEventLog::Open(o).error().code(), StatusCode::kInvalidArgument);
  o.dir = t.path() + "/other";
  o.segment_bytes = 0;
  EXPECT_EQ(FileEventLog::Open(o).error().code(), StatusCode::kInvalidArgument);
}

// Torn tails: the log is written, closed, then the last segment is damaged as a crash could.
enum class Damage { kGarbage, kPartialRecord, kPartialHeader, kFlippedPayloadByte, kCutMidRecord, kAllGarbage };

class TornTailTest : public ::testing::TestWithParam<Damage> {};

TEST_P(TornTailTest, RecoveryKeepsCompleteRecordsAndCutsTheTail) {
  TempDir t;
  constexpr uint64_t kRecords = 22;
  constexpr size_t kSize = 500;  // 520 framed; 5 per 3000-byte segment -> last segment holds 2
  {
    auto log = OpenLog(Options(t, 3000));
    ASSERT_TRUE(log);
    for (uint64_t i = 0; i < kRecords; ++i) ASSERT_EQ(*log->AppendSync(PayloadForOffset(i, kSize)), i);
  }
  auto files = SegmentFiles(t.log_dir());
  ASSERT_EQ(files.size(), 5u);
  const std::string last = files.back();
  const uint64_t last_size = fs::file_size(last);
  ASSERT_EQ(last_size, 2 * (kHeader + kSize));

  uint64_t expect_end = kRecords;
  uint64_t expect_cut = 0;
  switch (GetParam()) {
    case Damage::kGarbage: {
      const std::string garbage = "this is not a record, just some bytes";
      AppendToFile(last, garbage);
      expect_cut = garbage.size();
      break;
    }
    case Damage::kPartialRecord: {
      std::string rec = DocumentedRecord(kRecords, PayloadForOffset(kRecords, kSize));
      AppendToFile(last, rec.substr(0, kHeader + 100));
      expect_cut = kHeader + 100;
      break;
    }
    case Damage::kPartialHeader:
      AppendToFile(last, DocumentedRecord(kRecords, "x").substr(0, 7));
      expect_cut = 7;
      break;
    case Damage::kFlippedPayloadByte: {
      std::string data = ReadFile(last);
      data[data.size() - 10] ^= 0x01;
      WriteFile(last, data);
      expect_end = kRecords - 1;
      expect_cut = kHeader + kSize;
      break;
    }
    case Damage::kCutMidRecord:
      fs::resize_file(last, last_size - 100);
      expect_end = kRecords - 1;
      expect_cut = kHeader + kSize - 100;
      break;
    case Damage::kAllGarbage: {
      std::string data = ReadFile(last);
      for (auto& c : data) c = static_cast<char>(~c);
      WriteFile(last, data);
      expect_end = kRecords - 2;
      expect_cut = last_size;
      break;
    }
  }

  {
    auto log = OpenLog(Options(t, 3000));
    ASSERT_TRUE(log);
    EXPECT_EQ(log->stats().recovered_torn_bytes, expect_cut);
    EXPECT_EQ(log->EndOffset(), expect_end);
    auto all = ReadAll(*log);
    ASSERT_EQ(all.size(), expect_end);
    for (uint64_t i = 0; i < expect_end; ++i) EXPECT_EQ(all[i].data, PayloadForOffset(i, kSize));
    // Appends continue right after the last good record.
    EXPECT_EQ(*log->AppendSync(PayloadForOffset(expect_end, kSize)), expect_end);
  }
  auto log = OpenLog(Options(t, 3000));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->stats().recovered_torn_bytes, 0u);
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), expect_end + 1);
  for (uint64_t i = 0; i <= expect_end; ++i) EXPECT_EQ(all[i].data, PayloadForOffset(i, kSize));
}

INSTANTIATE_TEST_SUITE_P(Damages, TornTailTest,
                         ::testing::Values(Damage::kGarbage, Damage::kPartialRecord, Damage::kPartialHeader,
                                           Damage::kFlippedPayloadByte, Damage::kCutMidRecord, Damage::kAllGarbage));

TEST(EventLogTest, CorruptionInASealedSegmentIsAnErrorNotSilentLoss) {
  TempDir t;
  {
    auto log = OpenLog(Options(t, 3000));
    ASSERT_TRUE(log);
    for (uint64_t i = 0; i < 12; ++i) ASSERT_TRUE(log->AppendSync(PayloadForOffset(i, 500)));
  }
  auto files = SegmentFiles(t.log_dir());
  ASSERT_GE(files.size(), 2u);
  std::string data = ReadFile(files[0]);
  data[kHeader + 520 + 7] ^= 0x40;  // payload of offset 1
  WriteFile(files[0], data);
  auto log = FileEventLog::Open(Options(t, 3000));
  ASSERT_FALSE(log.has_value());
  EXPECT_EQ(log.error().code(), StatusCode::kInternal);
  EXPECT_NE(log.error().message().find("crc"), std::string::npos) << log.error().message();
  EXPECT_EQ(fs::file_size(files[0]), data.size());  // nothing was cut

  // A missing segment in the middle is a gap, also an error.
  data[kHeader + 520 + 7] ^= 0x40;
  WriteFile(files[0], data);
  ASSERT_TRUE(FileEventLog::Open(Options(t, 3000)).has_value());
  fs::remove(files[1]);
  auto gap = FileEventLog::Open(Options(t, 3000));
  ASSERT_FALSE(gap.has_value());
  EXPECT_EQ(gap.error().code(), StatusCode::kInternal);
}

TEST(EventLogTest, FailedWriteFailsTheGroupAndCutsBack) {
  TempDir t;
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  ASSERT_EQ(*log->AppendSync(std::string(1000, 'a')), 0u);
  const std::string seg = SegmentFiles(t.log_dir())[0];
  ASSERT_EQ(fs::file_size(seg), 1020u);

  // The file-size limit makes the next write stop halfway (then EFBIG), like a full disk.
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = 1500;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  auto failed = log->AppendSync(std::string(1000, 'b'));
  auto failed_too = log->AppendSync(std::string(1000, 'c'));
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), StatusCode::kInternal);
  ASSERT_FALSE(failed_too.has_value());
  EXPECT_EQ(fs::file_size(seg), 1020u);  // cut back to the last durable record
  EXPECT_EQ(log->EndOffset(), 1u);
  ASSERT_EQ(*log->AppendSync(std::string(1000, 'd')), 1u);  // failed appends consumed no offsets
  log.reset();

  log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->stats().recovered_torn_bytes, 0u);
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].data, std::string(1000, 'a'));
  EXPECT_EQ(all[1].data, std::string(1000, 'd'));
}

TEST(EventLogTest, TruncateBeforeDropsWholeSegmentsOnly) {
  TempDir t;
  auto log = OpenLog(Options(t, 4096));
  ASSERT_TRUE(log);
  for (uint64_t i = 0; i < 50; ++i) ASSERT_EQ(*log->AppendSync(PayloadForOffset(i, 1000)), i);
  ASSERT_EQ(SegmentFiles(t.log_dir()).size(), 13u);  // bases 0, 4, ..., 48

  ASSERT_TRUE(log->TruncateBefore(10).ok());  // [0,4) and [4,8) go; [8,12) holds offset 10
  auto files = SegmentFiles(t.log_dir());
  ASSERT_EQ(files.size(), 11u);
  EXPECT_EQ(fs::path(files[0]).filename().string(), "00000000000000000008.wal");
  EXPECT_EQ(log->EndOffset(), 50u);
  auto r = log->Read(0, 2, 1 << 20);  // below the first retained record: starts there
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].offset, 8u);
  EXPECT_EQ((*r)[0].data, PayloadForOffset(8, 1000));

  ASSERT_TRUE(log->TruncateBefore(1000).ok());  // never the active segment
  files = SegmentFiles(t.log_dir());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename().string(), "00000000000000000048.wal");
  EXPECT_EQ(ReadAll(*log).size(), 2u);
  EXPECT_EQ(*log->AppendSync(PayloadForOffset(50, 1000)), 50u);
  log.reset();

  log = OpenLog(Options(t, 4096));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->EndOffset(), 51u);
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].offset, 48u);
  for (const auto& rec : all) EXPECT_EQ(rec.data, PayloadForOffset(rec.offset, 1000));
}

TEST(EventLogTest, TruncateBeforeKeepsRecentlyWrittenSegments) {
  TempDir t;
  auto options = Options(t, 4096);
  options.min_retention = std::chrono::hours(1);
  auto log = OpenLog(options);
  ASSERT_TRUE(log);
  for (uint64_t i = 0; i < 20; ++i) ASSERT_EQ(*log->AppendSync(PayloadForOffset(i, 1000)), i);
  const size_t before = SegmentFiles(t.log_dir()).size();
  ASSERT_TRUE(log->TruncateBefore(1000).ok());
  EXPECT_EQ(SegmentFiles(t.log_dir()).size(), before);  // all written just now
  // Age the two oldest segments past the retention: only they go.
  auto files = SegmentFiles(t.log_dir());
  for (size_t k = 0; k < 2; ++k) {
    struct timespec old[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, files[k].c_str(), old, 0), 0);
  }
  ASSERT_TRUE(log->TruncateBefore(1000).ok());
  EXPECT_EQ(SegmentFiles(t.log_dir()).size(), before - 2);
  EXPECT_EQ(ReadAll(*log).front().offset, 8u);
}

TEST(EventLogTest, ReadsStayCorrectWhileSegmentsAreDropped) {
  TempDir t;
  auto log = OpenLog(Options(t, 4096));
  ASSERT_TRUE(log);
  Countdown done(400);
  for (uint64_t i = 0; i < 400; ++i) log->Append(PayloadForOffset(i, 1000), [&](Result<uint64_t>) { done.Done(); });
  ASSERT_TRUE(done.Wait());
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      auto r = log->Read(0, 50, 1 << 20);
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      ASSERT_FALSE(r->empty());
      for (size_t k = 0; k < r->size(); ++k) {
        ASSERT_EQ((*r)[k].offset, (*r)[0].offset + k);
        ASSERT_EQ((*r)[k].data, PayloadForOffset((*r)[k].offset, 1000));
      }
    }
  });
  for (uint64_t cut = 0; cut <= 400; cut += 8) ASSERT_TRUE(log->TruncateBefore(cut).ok());
  stop = true;
  reader.join();
  EXPECT_EQ(SegmentFiles(t.log_dir()).size(), 1u);
}

TEST(EventLogTest, CursorPersistsAcrossReopen) {
  TempDir t;
  const std::string dir = t.path() + "/cursors";
  {
    auto c = Cursor::Open(dir, "store");
    ASSERT_TRUE(c.has_value()) << c.error().ToString();
    EXPECT_EQ(c->offset(), 0u);
    ASSERT_TRUE(c->Commit(42).ok());
    EXPECT_EQ(c->offset(), 42u);
  }
  {
    auto c = Cursor::Open(dir, "store");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->offset(), 42u);
    ASSERT_TRUE(c->Commit(18446744073709551615ull).ok());
  }
  EXPECT_EQ(Cursor::Open(dir, "store")->offset(), 18446744073709551615ull);
  EXPECT_EQ(Cursor::Open(dir, "other")->offset(), 0u);  // independent per name
  EXPECT_EQ(ReadFile(dir + "/store.cursor"), "18446744073709551615\n");
  EXPECT_FALSE(fs::exists(dir + "/store.cursor.tmp"));

  WriteFile(dir + "/bad.cursor", "12x\n");
  auto bad = Cursor::Open(dir, "bad");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInternal);
  EXPECT_EQ(Cursor::Open(dir, "../escape").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Cursor::Open(dir, "").error().code(), StatusCode::kInvalidArgument);
}

TEST(EventLogTest, WaitForDataWakesOnAppend) {
  TempDir t;
  auto log = OpenLog(Options(t));
  ASSERT_TRUE(log);
  EXPECT_FALSE(log->WaitForData(0, 20ms));

  std::atomic<bool> woke{false};
  auto start = std::chrono::steady_clock::now();
  std::thread waiter([&] { woke = log->WaitForData(0, 10s); });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(woke.load());
  ASSERT_EQ(*log->AppendSync("wake up"), 0u);
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(log->WaitForData(0, 0ms));  // already there
  EXPECT_FALSE(log->WaitForData(1, 10ms));
}

}  // namespace
}  // namespace ward::events
