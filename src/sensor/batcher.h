#pragma once
// Turns emitted events into compressed NDJSON batches in the disk queue: a batch is cut at
// max_events or max_delay after its first event, whichever comes first. Also numbers events
// (ReportId, increasing per device and persisted across restarts).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "sensor/disk_queue.h"
#include "sensor/event.h"

namespace ward::sensor {

std::string ZstdCompress(std::string_view data, int level = 3);
Result<std::string> ZstdDecompress(std::string_view data, size_t max_bytes = 64 * 1024 * 1024);

// Unix seconds x 1,000,000: where new counters start (room for a million ReportIds per second of
// uptime before a later reinstall's base could overlap).
int64_t ReportIdBase();

// Persisted, increasing counter. Reserves blocks on disk so only one write per `block` ids is needed;
// after a crash numbering resumes past the reserved block (gaps are fine, repeats are not).
class ReportIdCounter {
 public:
  static Result<std::unique_ptr<ReportIdCounter>> Open(std::string path, int64_t block = 10'000);
  int64_t Next();

 private:
  ReportIdCounter(std::string path, int64_t next, int64_t block) : path_(std::move(path)), next_(next), reserved_(next), block_(block) {}
  std::mutex mu_;
  std::string path_;
  int64_t next_;
  int64_t reserved_;
  int64_t block_;
};

struct BatcherOptions {
  size_t max_events = 1000;
  std::chrono::milliseconds max_delay{1000};
  int zstd_level = 3;
  size_t max_pending_events = 200'000;  // beyond this, events are dropped ("sensor_buffer_full")
};

class Batcher : public EventSink {
 public:
  Batcher(DiskQueue* queue, ReportIdCounter* ids, BatcherOptions options = {});
  ~Batcher() override;

  void Start();
  // Flushes what is pending and stops the thread.
  void Stop();

  void Emit(json::Value event) override;
  void CountDropped(std::string_view reason, uint64_t events) override;
  // Writes pending events to the queue now (from any thread).
  void Flush();
  uint64_t emitted() const;

 private:
  void Run();
  void FlushLocked(std::unique_lock<std::mutex>& lock);

  DiskQueue* queue_;
  ReportIdCounter* ids_;
  BatcherOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  size_t pending_events_ = 0;
  std::chrono::steady_clock::time_point first_pending_{};
  uint64_t emitted_ = 0;
  bool stop_ = false;
  std::mutex flush_mu_;  // serialises compress+append so batches keep their order
  std::thread thread_;
};

}  // namespace ward::sensor
