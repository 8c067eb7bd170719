#pragma once
// Bounded on-disk queue of compressed telemetry batches, so events survive network outages and
// sensor restarts.
//
// Layout in `dir`: append-only segment files "seg-<16 digits>.wq" holding records
//   [magic "WQB1"][u32 payload length][u32 event count][u32 crc32(payload)][64-byte batch id][payload]
// and "cursor.json" with the committed read position {"segment","offset"} and the drop counters.
// A record is committed (consumed) only after the server accepted it, so a crash re-sends at most the
// batch in flight, under the same batch id (the server deduplicates).
// When appending would exceed max_bytes, whole oldest segments are dropped and their unsent events
// counted under "queue_full". A torn record at the end of the last segment (crash mid-append) is
// truncated away on open.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "sensor/util.h"

namespace ward::sensor {

struct DiskQueueOptions {
  std::string dir;
  uint64_t max_bytes = 128ull * 1024 * 1024;
  uint64_t segment_bytes = 0;  // 0 = min(4 MiB, max_bytes / 8)
  bool fsync = true;           // fdatasync each append and cursor update
};

struct QueuedBatch {
  uint64_t segment = 0;
  uint64_t offset = 0;
  uint64_t next_offset = 0;
  std::string batch_id;
  uint32_t events = 0;
  std::string payload;
};

struct QueueStats {
  uint64_t pending_events = 0;
  uint64_t pending_bytes = 0;
  uint64_t pending_batches = 0;
  uint64_t disk_bytes = 0;
  std::map<std::string, uint64_t> dropped;
};

inline constexpr size_t kQueueRecordHeader = 80;
inline constexpr size_t kMaxBatchIdBytes = 64;

class DiskQueue {
 public:
  static Result<std::unique_ptr<DiskQueue>> Open(DiskQueueOptions options);
  ~DiskQueue();
  DiskQueue(const DiskQueue&) = delete;
  DiskQueue& operator=(const DiskQueue&) = delete;

  // Appends one batch (payload already compressed). Drops oldest data to stay within max_bytes.
  Status Append(std::string_view batch_id, uint32_t events, std::string_view payload);
  // The oldest uncommitted batch, waiting up to `wait` for one. nullopt on timeout or Shutdown().
  // Returns the same batch again until it is committed.
  std::optional<QueuedBatch> Peek(std::chrono::milliseconds wait);
  // Marks `batch` consumed. Ignored when it was meanwhile dropped for space.
  Status Commit(const QueuedBatch& batch);
  void CountDropped(std::string_view reason, uint64_t events);
  QueueStats Stats() const;
  // Wakes Peek() callers; later Peeks return immediately.
  void Shutdown();

 private:
  struct Segment {
    uint64_t index = 0;
    uint64_t bytes = 0;
    uint64_t events = 0;
    uint64_t batches = 0;
  };

  explicit DiskQueue(DiskQueueOptions options);
  Status Load();
  std::string SegmentPath(uint64_t index) const;
  Status OpenWriter(uint64_t index);
  Status Roll();
  void DropHeadLocked(std::string_view reason);
  // Deletes the head segment's file and moves the cursor to the start of the next segment.
  void RemoveHeadSegmentLocked();
  Status SaveCursorLocked();
  // Reads the record at the cursor; fixes up the cursor past fully consumed segments.
  std::optional<QueuedBatch> ReadAtCursorLocked();

  DiskQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Segment> segments_;  // oldest first; back() is the one being written
  UniqueFd writer_;
  UniqueFd reader_;
  uint64_t reader_index_ = UINT64_MAX;
  // Committed read position; consumed_* describe the head segment's consumed part.
  uint64_t cursor_segment_ = 0;
  uint64_t cursor_offset_ = 0;
  uint64_t consumed_events_ = 0;
  uint64_t consumed_batches_ = 0;
  std::map<std::string, uint64_t> dropped_;
  bool shutdown_ = false;
};

}  // namespace ward::sensor
