#include "sensor/disk_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "json/json.h"

namespace ward::sensor {

namespace {

constexpr char kMagic[4] = {'W', 'Q', 'B', '1'};
constexpr std::string_view kCursorFile = "cursor.json";

// Header integers are stored in the host's byte order (the queue never leaves the machine).
struct RecordHeader {
  uint32_t length = 0;
  uint32_t events = 0;
  uint32_t crc = 0;
  std::string batch_id;
};

void EncodeHeader(char* out, uint32_t length, uint32_t events, uint32_t crc, std::string_view batch_id) {
  std::memset(out, 0, kQueueRecordHeader);
  std::memcpy(out, kMagic, 4);
  std::memcpy(out + 4, &length, 4);
  std::memcpy(out + 8, &events, 4);
  std::memcpy(out + 12, &crc, 4);
  std::memcpy(out + 16, batch_id.data(), std::min(batch_id.size(), kMaxBatchIdBytes));
}

std::optional<RecordHeader> DecodeHeader(const char* in) {
  if (std::memcmp(in, kMagic, 4) != 0) return std::nullopt;
  RecordHeader h;
  std::memcpy(&h.length, in + 4, 4);
  std::memcpy(&h.events, in + 8, 4);
  std::memcpy(&h.crc, in + 12, 4);
  const char* id = in + 16;
  h.batch_id.assign(id, strnlen(id, kMaxBatchIdBytes));
  return h;
}

uint32_t Crc(std::string_view data) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

bool PreadFull(int fd, char* buf, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

// Walks the record headers of a segment file. Returns the end of the last complete record.
uint64_t ScanSegment(int fd, uint64_t size, uint64_t stop_at, uint64_t* events, uint64_t* batches) {
  uint64_t offset = 0;
  char header[kQueueRecordHeader];
  while (offset + kQueueRecordHeader <= size && offset < stop_at) {
    if (!PreadFull(fd, header, kQueueRecordHeader, offset)) break;
    auto h = DecodeHeader(header);
    if (!h) break;
    uint64_t end = offset + kQueueRecordHeader + h->length;
    if (end > size) break;
    *events += h->events;
    *batches += 1;
    offset = end;
  }
  return offset;
}

}  // namespace

DiskQueue::DiskQueue(DiskQueueOptions options) : options_(std::move(options)) {
  if (options_.segment_bytes == 0) options_.segment_bytes = std::min<uint64_t>(4ull * 1024 * 1024, options_.max_bytes / 8);
  options_.segment_bytes = std::max<uint64_t>(options_.segment_bytes, 4096);
}

DiskQueue::~DiskQueue() = default;

Result<std::unique_ptr<DiskQueue>> DiskQueue::Open(DiskQueueOptions options) {
  if (options.dir.empty()) return Err(InvalidArgument("disk queue needs a directory"));
  if (options.max_bytes < 4096) return Err(InvalidArgument("disk queue max_bytes must be at least 4096"));
  std::unique_ptr<DiskQueue> q(new DiskQueue(std::move(options)));
  WARD_RETURN_IF_ERROR(q->Load());
  return q;
}

std::string DiskQueue::SegmentPath(uint64_t index) const {
  char name[40];
  std::snprintf(name, sizeof(name), "seg-%016llu.wq", static_cast<unsigned long long>(index));
  return JoinPath(options_.dir, name);
}

Status DiskQueue::Load() {
  WARD_RETURN_IF_ERROR(MakeDirs(options_.dir, 0700));
  std::vector<uint64_t> indexes;
  if (DIR* d = ::opendir(options_.dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      unsigned long long idx = 0;
      char tail[8] = {};
      if (std::strlen(e->d_name) == 23 && std::sscanf(e->d_name, "seg-%16llu.%2s", &idx, tail) == 2 &&
          std::strcmp(tail, "wq") == 0) {
        indexes.push_back(idx);
      }
    }
    ::closedir(d);
  } else {
    return Internal("cannot list " + options_.dir + ": " + std::strerror(errno));
  }
  std::sort(indexes.begin(), indexes.end());
  for (uint64_t idx : indexes) {
    std::string path = SegmentPath(idx);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid()) return Internal("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Internal("cannot stat " + path);
    Segment seg;
    seg.index = idx;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    seg.bytes = ScanSegment(fd.get(), size, UINT64_MAX, &seg.events, &seg.batches);
    if (seg.bytes < size) {
      // Torn or corrupt tail (crash while appending): cut it off so appends stay aligned.
      log::Warn("disk queue: truncating damaged segment tail", {{"file", path}});
      if (::ftruncate(fd.get(), static_cast<off_t>(seg.bytes)) != 0) return Internal("cannot truncate " + path);
    }
    segments_.push_back(seg);
  }

  // Committed position and counters.
  cursor_segment_ = segments_.empty() ? 1 : segments_.front().index;
  cursor_offset_ = 0;
  if (auto text = ReadFile(JoinPath(options_.dir, kCursorFile), 1024 * 1024)) {
    if (auto v = json::Value::Parse(*text); v && v->is_object()) {
      cursor_segment_ = static_cast<uint64_t>(v->GetInt("segment").value_or(0));
      cursor_offset_ = static_cast<uint64_t>(v->GetInt("offset").value_or(0));
      if (const json::Value* d = v->Find("dropped"); d && d->is_object()) {
        for (const auto& m : d->members()) {
          if (m.value.is_int()) dropped_[m.key] = static_cast<uint64_t>(m.value.as_int());
        }
      }
    }
  }
  // Segments wholly before the cursor were consumed (their deletion did not happen before a crash).
  while (!segments_.empty() && segments_.front().index < cursor_segment_) {
    ::unlink(SegmentPath(segments_.front().index).c_str());
    segments_.pop_front();
  }
  if (segments_.empty()) {
    uint64_t next = std::max<uint64_t>(cursor_segment_, indexes.empty() ? 1 : indexes.back() + 1);
    WARD_RETURN_IF_ERROR(OpenWriter(next));
    segments_.push_back(Segment{next, 0, 0, 0});
    cursor_segment_ = next;
    cursor_offset_ = 0;
  } else {
    if (segments_.front().index != cursor_segment_) {
      // The cursor names a missing segment: resend from the oldest one (duplicates are harmless).
      cursor_segment_ = segments_.front().index;
      cursor_offset_ = 0;
    }
    Segment& head = segments_.front();
    uint64_t events = 0, batches = 0;
    if (cursor_offset_ > 0) {
      UniqueFd fd(::open(SegmentPath(head.index).c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return Internal("cannot open head segment");
      // Snap the cursor to a record boundary at or before the saved offset.
      cursor_offset_ = ScanSegment(fd.get(), head.bytes, std::min(cursor_offset_, head.bytes), &events, &batches);
    }
    consumed_events_ = events;
    consumed_batches_ = batches;
    WARD_RETURN_IF_ERROR(OpenWriter(segments_.back().index));
  }
  std::lock_guard lock(mu_);
  return SaveCursorLocked();
}

Status DiskQueue::OpenWriter(uint64_t index) {
  std::string path = SegmentPath(index);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return Internal("cannot open " + path + ": " + std::strerror(errno));
  writer_ = std::move(fd);
  return Status::Ok();
}

Status DiskQueue::Roll() {
  uint64_t next = segments_.back().index + 1;
  WARD_RETURN_IF_ERROR(OpenWriter(next));
  segments_.push_back(Segment{next, 0, 0, 0});
  return Status::Ok();
}

void DiskQueue::DropHeadLocked(std::string_view reason) {
  Segment head = segments_.front();
  uint64_t lost = head.events - consumed_events_;
  if (lost > 0) dropped_[std::string(reason)] += lost;
  RemoveHeadSegmentLocked();
}

void DiskQueue::RemoveHeadSegmentLocked() {
  const Segment& head = segments_.front();
  if (reader_index_ == head.index) {
    reader_.Reset();
    reader_index_ = UINT64_MAX;
  }
  ::unlink(SegmentPath(head.index).c_str());
  segments_.pop_front();
  cursor_segment_ = segments_.front().index;
  cursor_offset_ = 0;
  consumed_events_ = 0;
  consumed_batches_ = 0;
}

Status DiskQueue::SaveCursorLocked() {
  json::Writer w;
  w.StartObject();
  w.KV("segment", static_cast<int64_t>(cursor_segment_));
  w.KV("offset", static_cast<int64_t>(cursor_offset_));
  w.Key("dropped").StartObject();
  for (const auto& [reason, n] : dropped_) w.KV(reason, static_cast<int64_t>(n));
  w.EndObject();
  w.EndObject();
  return WriteFileAtomic(JoinPath(options_.dir, kCursorFile), w.str(), 0600, options_.fsync);
}

Status DiskQueue::Append(std::string_view batch_id, uint32_t events, std::string_view payload) {
  if (batch_id.empty() || batch_id.size() > kMaxBatchIdBytes) return InvalidArgument("batch id must be 1..64 bytes");
  uint64_t record = kQueueRecordHeader + payload.size();
  std::unique_lock lock(mu_);
  if (record > options_.max_bytes || payload.size() > UINT32_MAX) {
    dropped_["queue_full"] += events;
    return ResourceExhausted("batch larger than the queue");
  }
  uint64_t total = 0;
  for (const Segment& s : segments_) total += s.bytes;
  bool dropped_any = false;
  while (total + record > options_.max_bytes) {
    if (segments_.size() == 1) WARD_RETURN_IF_ERROR(Roll());
    total -= segments_.front().bytes;
    DropHeadLocked("queue_full");
    dropped_any = true;
  }
  if (segments_.back().bytes > 0 && segments_.back().bytes + record > options_.segment_bytes) {
    WARD_RETURN_IF_ERROR(Roll());
  }
  char header[kQueueRecordHeader];
  EncodeHeader(header, static_cast<uint32_t>(payload.size()), events, Crc(payload), batch_id);
  iovec iov[2] = {{header, kQueueRecordHeader}, {const_cast<char*>(payload.data()), payload.size()}};
  Segment& back = segments_.back();
  size_t written = 0;
  while (written < record) {
    // Re-slice the iovecs after a partial write.
    iovec parts[2];
    int count = 0;
    size_t skip = written;
    for (const iovec& v : iov) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      parts[count++] = {static_cast<char*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    ssize_t n = ::writev(writer_.get(), parts, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      // Keep the segment aligned on record boundaries.
      if (::ftruncate(writer_.get(), static_cast<off_t>(back.bytes)) != 0) {
        log::Error("disk queue: cannot truncate after failed write");
      }
      dropped_["queue_write_error"] += events;
      return Internal(std::string("disk queue write: ") + std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  if (options_.fsync) ::fdatasync(writer_.get());
  back.bytes += record;
  back.events += events;
  back.batches += 1;
  if (dropped_any) SaveCursorLocked();
  lock.unlock();
  cv_.notify_all();
  return Status::Ok();
}

std::optional<QueuedBatch> DiskQueue::ReadAtCursorLocked() {
  while (true) {
    Segment& head = segments_.front();
    if (cursor_offset_ >= head.bytes) {
      if (segments_.size() == 1) return std::nullopt;
      // Fully consumed and no longer written: delete it.
      RemoveHeadSegmentLocked();
      SaveCursorLocked();
      continue;
    }
    if (reader_index_ != head.index) {
      reader_.Reset(::open(SegmentPath(head.index).c_str(), O_RDONLY | O_CLOEXEC));
      reader_index_ = reader_.valid() ? head.index : UINT64_MAX;
    }
    char header[kQueueRecordHeader];
    std::optional<RecordHeader> h;
    QueuedBatch batch;
    bool ok = reader_.valid() && PreadFull(reader_.get(), header, kQueueRecordHeader, cursor_offset_) &&
              (h = DecodeHeader(header)).has_value() &&
              cursor_offset_ + kQueueRecordHeader + h->length <= head.bytes;
    if (ok) {
      batch.payload.resize(h->length);
      ok = PreadFull(reader_.get(), batch.payload.data(), h->length, cursor_offset_ + kQueueRecordHeader) &&
           Crc(batch.payload) == h->crc;
    }
    if (!ok && h && reader_.valid() && cursor_offset_ + kQueueRecordHeader + h->length <= head.bytes) {
      // Intact header, damaged payload: skip just this record.
      log::Error("disk queue: corrupt batch skipped", {{"file", SegmentPath(head.index)}, {"batchId", h->batch_id}});
      dropped_["queue_corrupt"] += h->events;
      cursor_offset_ += kQueueRecordHeader + h->length;
      consumed_events_ += h->events;
      consumed_batches_ += 1;
      SaveCursorLocked();
      continue;
    }
    if (!ok) {
      // Unreadable header (disk corruption, external tampering): skip the rest of this segment.
      log::Error("disk queue: corrupt record, skipping segment", {{"file", SegmentPath(head.index)}});
      if (segments_.size() == 1 && !Roll().ok()) return std::nullopt;
      DropHeadLocked("queue_corrupt");
      SaveCursorLocked();
      continue;
    }
    batch.segment = head.index;
    batch.offset = cursor_offset_;
    batch.next_offset = cursor_offset_ + kQueueRecordHeader + h->length;
    batch.batch_id = std::move(h->batch_id);
    batch.events = h->events;
    return batch;
  }
}

std::optional<QueuedBatch> DiskQueue::Peek(std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock lock(mu_);
  while (true) {
    if (shutdown_) return std::nullopt;
    if (auto b = ReadAtCursorLocked()) return b;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      if (shutdown_) return std::nullopt;
      return ReadAtCursorLocked();
    }
  }
}

Status DiskQueue::Commit(const QueuedBatch& batch) {
  std::lock_guard lock(mu_);
  if (batch.segment != cursor_segment_ || batch.offset != cursor_offset_) return Status::Ok();  // dropped meanwhile
  cursor_offset_ = batch.next_offset;
  consumed_events_ += batch.events;
  consumed_batches_ += 1;
  if (cursor_offset_ >= segments_.front().bytes && segments_.size() > 1) {
    if (reader_index_ == segments_.front().index) {
      reader_.Reset();
      reader_index_ = UINT64_MAX;
    }
    ::unlink(SegmentPath(segments_.front().index).c_str());
    segments_.pop_front();
    cursor_segment_ = segments_.front().index;
    cursor_offset_ = 0;
    consumed_events_ = 0;
    consumed_batches_ = 0;
  }
  return SaveCursorLocked();
}

void DiskQueue::CountDropped(std::string_view reason, uint64_t events) {
  if (events == 0) return;
  std::lock_guard lock(mu_);
  dropped_[std::string(reason)] += events;
  // Persisted with the next cursor update; losing a few counts on a crash is acceptable.
}

QueueStats DiskQueue::Stats() const {
  std::lock_guard lock(mu_);
  QueueStats s;
  for (const Segment& seg : segments_) {
    s.pending_events += seg.events;
    s.pending_bytes += seg.bytes;
    s.pending_batches += seg.batches;
    s.disk_bytes += seg.bytes;
  }
  s.pending_events -= consumed_events_;
  s.pending_bytes -= cursor_offset_;
  s.pending_batches -= consumed_batches_;
  s.dropped = dropped_;
  return s;
}

void DiskQueue::Shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

}  // namespace ward::sensor
