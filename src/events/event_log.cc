// FileEventLog: segment files of CRC-framed records, appended by one commit thread with group commit.
//
// On-disk layout (docs/storage-format.md, "Event log", says the same in prose):
//
//   <dir>/LOCK                      flock()ed by the writing FileEventLog; later openers are read-only
//   <dir>/<base:%020llu>.wal        segments; base = offset of the segment's first record
//   <cursor dir>/<name>.cursor      consumer cursors (class Cursor): decimal offset + "\n"
//
// A segment has no file header: it is a plain concatenation of records. All integers little-endian.
//
//   byte  0..3    u32 magic    0x474F4C57 (the bytes "WLOG")
//   byte  4..7    u32 length   payload bytes, at most kMaxRecordBytes (64 MiB)
//   byte  8..11   u32 crc      CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, init and final
//                              xor 0xFFFFFFFF) over bytes 4..7, then bytes 12..19, then the payload
//   byte 12..19   u64 offset   the record's log offset = base + its index in the segment
//   byte 20..     payload      `length` opaque bytes
//
// Invariants the recovery in Open() relies on:
//   - Offsets are contiguous: segment k+1's base is segment k's base plus its record count.
//   - Only the last segment is ever written. A segment is rolled only after everything written to it
//     was fdatasync'ed, so an invalid record anywhere but in the last segment is corruption (error),
//     while an invalid record in the last segment is a torn tail from a crash (cut at open).
//   - A failed write or fdatasync is cut back (ftruncate) to the last durable position before any
//     later write, so a failed group never leaves bytes behind that a later group would follow.
//   - Offsets are assigned by the commit thread when it writes, so failed appends consume none and
//     EndOffset() == number of durable records ever appended.
#include "events/event_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "common/log.h"

namespace ward::events {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kMagic = 0x474F4C57;  // "WLOG" on disk
constexpr size_t kHeaderBytes = 20;
constexpr uint32_t kMaxRecordBytes = 64u << 20;
// Sparse index density: an entry every this many records or bytes, whichever comes first, so a
// read seeks to within 64 records (and at most ~1 MiB of headers) of its start.
constexpr uint64_t kIndexEveryRecords = 64;
constexpr uint64_t kIndexEveryBytes = 1u << 20;
constexpr size_t kReadChunkBytes = 256u << 10;
constexpr size_t kMaxIov = IOV_MAX;

// ---------------------------------------------------------------------------------------------
// CRC-32C. Hardware (SSE4.2) when available, slicing-by-8 tables otherwise; both give the
// standard value (crc32c("123456789") == 0xE3069283).

constexpr std::array<std::array<uint32_t, 256>, 8> MakeCrcTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (int s = 1; s < 8; ++s)
    for (uint32_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}
constexpr auto kCrcTables = MakeCrcTables();

uint32_t Crc32cSoftware(uint32_t c, const unsigned char* p, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      uint32_t lo = static_cast<uint32_t>(w) ^ c;
      uint32_t hi = static_cast<uint32_t>(w >> 32);
      c = kCrcTables[7][lo & 0xFF] ^ kCrcTables[6][(lo >> 8) & 0xFF] ^ kCrcTables[5][(lo >> 16) & 0xFF] ^
          kCrcTables[4][lo >> 24] ^ kCrcTables[3][hi & 0xFF] ^ kCrcTables[2][(hi >> 8) & 0xFF] ^
          kCrcTables[1][(hi >> 16) & 0xFF] ^ kCrcTables[0][hi >> 24];
      p += 8;
      n -= 8;
    }
  }
  while (n--) c = (c >> 8) ^ kCrcTables[0][(c ^ *p++) & 0xFF];
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t c, const unsigned char* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c64 = _mm_crc32_u64(c64, w);
    p += 8;
    n -= 8;
  }
  c = static_cast<uint32_t>(c64);
  while (n--) c = _mm_crc32_u8(c, *p++);
  return c;
}
bool HaveSse42() {
  // __builtin_cpu_init first: this may run before the runtime's own CPU detection (static init).
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return have;
}
#endif

// Continues a CRC-32C: Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b).
uint32_t Crc32c(uint32_t crc, const void* data, size_t n) {
  auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (HaveSse42()) return ~Crc32cHardware(c, p, n);
#endif
  return ~Crc32cSoftware(c, p, n);
}

// ---------------------------------------------------------------------------------------------
// Record framing.

void Put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

struct Header {
  uint32_t magic;
  uint32_t length;
  uint32_t crc;
  uint64_t offset;
};

Header DecodeHeader(const char* h) { return {Get32(h), Get32(h + 4), Get32(h + 8), Get64(h + 12)}; }

uint32_t RecordCrc(const char* header, const char* payload, size_t n) {
  uint32_t crc = Crc32c(0, header + 4, 4);
  crc = Crc32c(crc, header + 12, 8);
  return Crc32c(crc, payload, n);
}

void EncodeHeader(char* h, uint64_t offset, std::string_view payload) {
  Put32(h, kMagic);
  Put32(h + 4, static_cast<uint32_t>(payload.size()));
  Put64(h + 12, offset);
  Put32(h + 8, RecordCrc(h, payload.data(), payload.size()));
}

// ---------------------------------------------------------------------------------------------
// POSIX helpers.

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

Status IoError(std::string_view what, const std::string& path, int err) {
  return Internal(std::string(what) + " " + path + ": " + std::error_code(err, std::generic_category()).message());
}

// Reads up to n bytes at pos; fewer only at end of file.
Result<size_t> PreadFully(int fd, char* buf, size_t n, uint64_t pos, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(pos + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Err(IoError("read", path, errno));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

// Writes every iovec at pos (handles partial writes and batches longer than IOV_MAX).
Status PwritevFully(int fd, std::vector<iovec>& iov, uint64_t pos, const std::string& path) {
  size_t i = 0;
  while (i < iov.size()) {
    int count = static_cast<int>(std::min(iov.size() - i, kMaxIov));
    ssize_t n = ::pwritev(fd, &iov[i], count, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    if (n == 0) return Internal("write " + path + ": no progress");
    pos += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (left > 0) {
      if (left >= iov[i].iov_len) {
        left -= iov[i].iov_len;
        ++i;
      } else {
        iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
        left = 0;
      }
    }
  }
  return Status::Ok();
}

// Makes directory entries (created, renamed or removed files) durable.
Status SyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return IoError("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return IoError("fsync directory", dir, errno);
  return Status::Ok();
}

// create_directories, plus an fsync of the parent of each directory it creates: records synced into a
// directory whose own entry was lost in a power cut would be lost with it.
Status CreateDirectoryDurably(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path path = std::filesystem::absolute(dir, ec);
  if (ec) return Internal("resolve directory " + dir + ": " + ec.message());
  std::vector<std::filesystem::path> created;
  for (auto p = path; !p.empty() && p != p.parent_path(); p = p.parent_path()) {
    if (std::filesystem::exists(p, ec)) break;
    created.push_back(p);
  }
  std::filesystem::create_directories(path, ec);
  if (ec) return Internal("create directory " + dir + ": " + ec.message());
  for (auto it = created.rbegin(); it != created.rend(); ++it) WARD_RETURN_IF_ERROR(SyncDir(it->parent_path().string()));
  return Status::Ok();
}

std::string SegmentPath(const std::string& dir, uint64_t base) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.wal", static_cast<unsigned long long>(base));
  return dir + "/" + name;
}

std::optional<uint64_t> ParseSegmentName(std::string_view name) {
  if (name.size() != 24 || !name.ends_with(".wal")) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, v);
  if (ec != std::errc() || p != name.data() + 20) return std::nullopt;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Segments and reading.

struct IndexEntry {
  uint64_t offset;
  uint64_t pos;
};

struct Segment {
  uint64_t base = 0;
  std::string path;
  UniqueFd fd;  // kept open for reads (and writes, while active); closes when the last reader lets go
  // Guarded by Impl::state_mu (written by Open and the commit thread only).
  uint64_t end = 0;   // one past the last durable record
  uint64_t size = 0;  // durable bytes
  std::vector<IndexEntry> index;

  void AddToIndex(uint64_t offset, uint64_t pos) {
    if (index.empty() || offset - index.back().offset >= kIndexEveryRecords || pos - index.back().pos >= kIndexEveryBytes)
      index.push_back({offset, pos});
  }
  // The last index entry at or before `offset` (the segment start when none).
  IndexEntry Seek(uint64_t offset) const {
    auto it = std::upper_bound(index.begin(), index.end(), offset,
                               [](uint64_t v, const IndexEntry& e) { return v < e.offset; });
    if (it == index.begin()) return {base, 0};
    return *std::prev(it);
  }
};

// Buffered pread over [0, limit) of one segment: small records are parsed out of 256 KiB chunks
// instead of costing two syscalls each.
class SegmentReader {
 public:
  SegmentReader(const Segment& seg, uint64_t limit) : fd_(seg.fd.get()), path_(seg.path), limit_(limit) {}

  // Pointer to bytes [pos, pos+n), or nullptr when they extend past the limit.
  Result<const char*> Fetch(uint64_t pos, size_t n) {
    if (n == 0) return pos <= limit_ ? "" : nullptr;
    if (pos >= buf_pos_ && pos + n <= buf_pos_ + buf_len_) return buf_.get() + (pos - buf_pos_);
    if (pos + n > limit_) return static_cast<const char*>(nullptr);
    size_t want = static_cast<size_t>(std::max<uint64_t>(n, std::min<uint64_t>(kReadChunkBytes, limit_ - pos)));
    if (want > buf_cap_) {
      buf_ = std::make_unique<char[]>(want);
      buf_cap_ = want;
    }
    buf_len_ = 0;
    WARD_ASSIGN_OR_RETURN(size_t got, PreadFully(fd_, buf_.get(), want, pos, path_));
    buf_pos_ = pos;
    buf_len_ = got;
    if (got < n) return Err(Internal("segment " + path_ + " is shorter than its durable size"));
    return buf_.get();
  }

 private:
  int fd_;
  const std::string& path_;
  uint64_t limit_;
  std::unique_ptr<char[]> buf_;
  size_t buf_cap_ = 0;
  uint64_t buf_pos_ = 0;
  size_t buf_len_ = 0;
};

struct ScanResult {
  uint64_t valid_bytes = 0;  // where the first invalid record starts (== file size when all are valid)
  std::string problem;       // why the record at valid_bytes is invalid; empty when none is
};

// Validates every record of a segment from the start, filling in its end offset and index.
Result<ScanResult> ScanSegment(Segment& seg, uint64_t file_size) {
  SegmentReader reader(seg, file_size);
  uint64_t pos = 0;
  uint64_t offset = seg.base;
  ScanResult r;
  while (pos < file_size) {
    WARD_ASSIGN_OR_RETURN(const char* h, reader.Fetch(pos, kHeaderBytes));
    if (h == nullptr) {
      r.problem = "partial header";
      break;
    }
    Header hd = DecodeHeader(h);
    char header[kHeaderBytes];
    std::memcpy(header, h, kHeaderBytes);  // Fetch of the payload may move the buffer
    if (hd.magic != kMagic) {
      r.problem = "bad magic";
      break;
    }
    if (hd.length > kMaxRecordBytes) {
      r.problem = "length out of bounds";
      break;
    }
    if (hd.offset != offset) {
      r.problem = "unexpected offset " + std::to_string(hd.offset) + " (expected " + std::to_string(offset) + ")";
      break;
    }
    WARD_ASSIGN_OR_RETURN(const char* payload, reader.Fetch(pos + kHeaderBytes, hd.length));
    if (payload == nullptr) {
      r.problem = "partial payload";
      break;
    }
    if (RecordCrc(header, payload, hd.length) != hd.crc) {
      r.problem = "crc mismatch";
      break;
    }
    seg.AddToIndex(offset, pos);
    pos += kHeaderBytes + hd.length;
    ++offset;
  }
  r.valid_bytes = pos;
  seg.end = offset;
  seg.size = pos;
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct FileEventLog::Impl {
  struct Pending {
    std::string data;
    AppendCallback done;
    Clock::time_point enqueued;
  };

  FileEventLogOptions options;
  UniqueFd lock_fd;

  // Appenders -> commit thread.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Pending> pending;
  size_t pending_bytes = 0;
  bool stopping = false;

  // Durable state, published by the commit thread to readers.
  std::mutex state_mu;
  std::condition_variable data_cv;
  std::vector<std::shared_ptr<Segment>> segments;  // by base; back() is the active segment
  uint64_t durable_end = 0;
  bool closed = false;
  Stats stats;

  // Serialises TruncateBefore so segments are always unlinked oldest first (no gaps after a crash).
  std::mutex truncate_mu;

  // Owned by the commit thread once it runs.
  std::shared_ptr<Segment> active;
  uint64_t next_offset = 0;
  bool read_only = false;  // another FileEventLog holds the directory: appends and truncation refused
  Status broken;           // sticky: set when a failed group could not be cut back, or read-only
  std::thread committer;

  Status CreateSegment(uint64_t base, std::shared_ptr<Segment>* out);
  Status Roll();
  Status WriteGroup(std::vector<Pending>& batch, size_t begin, size_t end, std::vector<Result<uint64_t>>& results);
  void CommitBatch(std::vector<Pending> batch);
  void CommitLoop();
  void Shutdown();
};

Status FileEventLog::Impl::CreateSegment(uint64_t base, std::shared_ptr<Segment>* out) {
  auto seg = std::make_shared<Segment>();
  seg->base = base;
  seg->end = base;
  seg->path = SegmentPath(options.dir, base);
  seg->fd = UniqueFd(::open(seg->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!seg->fd.valid()) return IoError("create segment", seg->path, errno);
  // The new name must survive a crash, or recovery would see the log end early.
  if (Status s = SyncDir(options.dir); !s.ok()) {
    ::unlink(seg->path.c_str());
    return s;
  }
  *out = std::move(seg);
  return Status::Ok();
}

Status FileEventLog::Impl::Roll() {
  std::shared_ptr<Segment> seg;
  WARD_RETURN_IF_ERROR(CreateSegment(next_offset, &seg));
  {
    std::lock_guard lk(state_mu);
    segments.push_back(seg);
  }
  active = std::move(seg);
  return Status::Ok();
}

// Writes batch[begin, end) to the active segment with one pwritev and one fdatasync, then publishes.
Status FileEventLog::Impl::WriteGroup(std::vector<Pending>& batch, size_t begin, size_t end,
                                      std::vector<Result<uint64_t>>& results) {
  const size_t n = end - begin;
  const uint64_t start_pos = active->size;
  const uint64_t first_offset = next_offset;
  std::vector<std::array<char, kHeaderBytes>> headers(n);
  std::vector<iovec> iov;
  iov.reserve(2 * n);
  uint64_t bytes = 0, payload_bytes = 0;
  for (size_t k = 0; k < n; ++k) {
    const std::string& data = batch[begin + k].data;
    EncodeHeader(headers[k].data(), first_offset + k, data);
    iov.push_back({headers[k].data(), kHeaderBytes});
    if (!data.empty()) iov.push_back({const_cast<char*>(data.data()), data.size()});
    bytes += kHeaderBytes + data.size();
    payload_bytes += data.size();
  }

  Status s = PwritevFully(active->fd.get(), iov, start_pos, active->path);
  bool synced = false;
  if (s.ok()) {
    synced = true;
    if (::fdatasync(active->fd.get()) != 0) s = IoError("fdatasync", active->path, errno);
  }
  if (!s.ok()) {
    // Cut the group off again: the next group must start at a durable record boundary, and after a
    // failed fdatasync the kernel may already have dropped the dirty pages, so they cannot be retried.
    if (::ftruncate(active->fd.get(), static_cast<off_t>(start_pos)) != 0 || ::fdatasync(active->fd.get()) != 0) {
      broken = Internal("event log " + options.dir + " could not cut back a failed write (" + s.message() +
                        "); appends fail until it is reopened");
      log::Error("event log: failed write could not be cut back", {{"segment", active->path}});
    }
    log::Error("event log: group commit failed", {{"segment", active->path}, {"error", s.message()}});
    if (synced) {
      std::lock_guard lk(state_mu);
      ++stats.fsyncs;
    }
    return s;
  }

  {
    std::lock_guard lk(state_mu);
    uint64_t pos = start_pos;
    for (size_t k = 0; k < n; ++k) {
      active->AddToIndex(first_offset + k, pos);
      pos += kHeaderBytes + batch[begin + k].data.size();
    }
    active->size = start_pos + bytes;
    active->end = first_offset + n;
    durable_end = first_offset + n;
    stats.records += n;
    stats.bytes += payload_bytes;
    ++stats.fsyncs;
  }
  data_cv.notify_all();
  next_offset = first_offset + n;
  for (size_t k = 0; k < n; ++k) results[begin + k] = first_offset + k;
  return Status::Ok();
}

void FileEventLog::Impl::CommitBatch(std::vector<Pending> batch) {
  std::vector<Result<uint64_t>> results(batch.size(), Err(Internal("not written")));
  // Oversized records are refused individually; the rest of the batch proceeds.
  std::vector<Pending> writable;
  std::vector<size_t> slot;  // writable[i] answers results[slot[i]]
  writable.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].data.size() > kMaxRecordBytes) {
      results[i] = Err(InvalidArgument("event log record of " + std::to_string(batch[i].data.size()) +
                                       " bytes exceeds the limit of " + std::to_string(kMaxRecordBytes)));
    } else {
      slot.push_back(i);
      writable.push_back(std::move(batch[i]));
    }
  }

  std::vector<Result<uint64_t>> wresults(writable.size(), Err(Internal("not written")));
  size_t i = 0;
  while (i < writable.size()) {
    Status s = broken;
    // Split the batch at segment boundaries so segments stay near segment_bytes; each part is synced
    // before the next segment is created (only the last segment may ever hold a torn tail).
    if (s.ok() && active->size > 0 && active->size + kHeaderBytes + writable[i].data.size() > options.segment_bytes)
      s = Roll();
    size_t j = i;
    if (s.ok()) {
      uint64_t size = active->size;
      while (j < writable.size() && (j == i || size + kHeaderBytes + writable[j].data.size() <= options.segment_bytes)) {
        size += kHeaderBytes + writable[j].data.size();
        ++j;
      }
      s = WriteGroup(writable, i, j, wresults);
    }
    if (!s.ok()) {
      for (size_t k = i; k < writable.size(); ++k) wresults[k] = Err(s);
      break;
    }
    i = j;
  }
  for (size_t k = 0; k < writable.size(); ++k) {
    results[slot[k]] = std::move(wresults[k]);
    batch[slot[k]].done = std::move(writable[k].done);
  }

  // Callbacks run without any lock held, so they may call back into the log (but must not block on it).
  for (size_t k = 0; k < batch.size(); ++k) {
    if (!batch[k].done) continue;
    try {
      batch[k].done(std::move(results[k]));
    } catch (const std::exception& e) {
      log::Error("event log: append callback threw", {{"error", e.what()}});
    } catch (...) {
      log::Error("event log: append callback threw");
    }
  }
}

void FileEventLog::Impl::CommitLoop() {
  const auto window = std::chrono::duration_cast<Clock::duration>(options.group_commit_window);
  std::unique_lock lk(queue_mu);
  for (;;) {
    queue_cv.wait(lk, [&] { return stopping || !pending.empty(); });
    if (pending.empty()) break;  // stopping, and everything is drained
    // The window is counted from the oldest pending record, so records that queued up during the
    // previous fdatasync go out at once and no record waits more than one window.
    if (!stopping && window.count() > 0) {
      queue_cv.wait_until(lk, pending.front().enqueued + window,
                          [&] { return stopping || pending_bytes >= options.max_batch_bytes; });
    }
    std::vector<Pending> batch;
    size_t bytes = 0;
    while (!pending.empty() && (batch.empty() || bytes + pending.front().data.size() <= options.max_batch_bytes)) {
      bytes += pending.front().data.size();
      batch.push_back(std::move(pending.front()));
      pending.pop_front();
    }
    pending_bytes -= bytes;
    lk.unlock();
    CommitBatch(std::move(batch));
    lk.lock();
  }
}

void FileEventLog::Impl::Shutdown() {
  {
    std::lock_guard lk(queue_mu);
    stopping = true;
  }
  queue_cv.notify_all();
  if (committer.joinable()) committer.join();
  {
    std::lock_guard lk(state_mu);
    closed = true;
  }
  data_cv.notify_all();
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<FileEventLog>> FileEventLog::Open(FileEventLogOptions options) {
  if (options.dir.empty()) return Err(InvalidArgument("event log directory is empty"));
  if (options.segment_bytes == 0) return Err(InvalidArgument("event log segment_bytes must be positive"));
  if (options.max_batch_bytes == 0) return Err(InvalidArgument("event log max_batch_bytes must be positive"));
  if (options.group_commit_window.count() < 0) return Err(InvalidArgument("event log group_commit_window is negative"));
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  if (options.cursor_dir.empty()) options.cursor_dir = options.dir + "/cursors";

  WARD_RETURN_IF_ERROR(CreateDirectoryDurably(options.dir));

  std::unique_ptr<FileEventLog> log(new FileEventLog());
  log->impl_ = std::make_unique<Impl>();
  Impl& im = *log->impl_;
  im.options = options;
  const std::string& dir = im.options.dir;

  // Two writers on one directory would interleave records, and a second opener cutting the "torn
  // tail" would cut the writer's in-flight group. So the first opener locks the directory (the kernel
  // drops the lock if it dies) and later openers get a read-only snapshot, e.g. `ward admin events`
  // next to a running server: it sees the records durable at open, never writes, truncates or deletes.
  std::string lock_path = dir + "/LOCK";
  im.lock_fd = UniqueFd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!im.lock_fd.valid()) return Err(IoError("open", lock_path, errno));
  if (::flock(im.lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Err(IoError("lock", lock_path, errno));
    im.lock_fd.Reset();
    im.read_only = true;
    im.broken = FailedPrecondition("event log " + dir + " is open read-only: another FileEventLog holds it");
  }

  std::vector<uint64_t> bases;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (auto base = ParseSegmentName(entry.path().filename().string())) bases.push_back(*base);
  }
  if (ec) return Err(Internal("list event log directory " + dir + ": " + ec.message()));
  std::sort(bases.begin(), bases.end());

  uint64_t expected = bases.empty() ? 0 : bases.front();
  for (size_t k = 0; k < bases.size(); ++k) {
    auto seg = std::make_shared<Segment>();
    seg->base = bases[k];
    seg->path = SegmentPath(dir, bases[k]);
    if (seg->base != expected) {
      return Err(Internal("event log segment " + seg->path + " starts at offset " + std::to_string(seg->base) +
                          " but the previous segment ends at " + std::to_string(expected)));
    }
    seg->fd = UniqueFd(::open(seg->path.c_str(), (im.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!seg->fd.valid()) {
      // The writer's TruncateBefore may remove the oldest segments while a read-only snapshot lists them.
      if (errno == ENOENT && im.read_only && im.segments.empty() && k + 1 < bases.size()) {
        expected = bases[k + 1];
        continue;
      }
      return Err(IoError("open segment", seg->path, errno));
    }
    struct stat st;
    if (::fstat(seg->fd.get(), &st) != 0) return Err(IoError("stat segment", seg->path, errno));
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    WARD_ASSIGN_OR_RETURN(ScanResult scan, ScanSegment(*seg, file_size));
    if (scan.valid_bytes < file_size) {
      const bool last = k + 1 == bases.size();
      std::string where = "byte " + std::to_string(scan.valid_bytes) + " (offset " + std::to_string(seg->end) +
                          "): " + scan.problem;
      // Only the last segment can be torn by a crash; anywhere else, cutting would lose acknowledged records.
      if (!last) return Err(Internal("corrupt record in sealed event log segment " + seg->path + " at " + where));
      if (im.read_only) {
        // The writer's group in flight (or a tail it will cut itself): a snapshot ends before it.
        expected = seg->end;
        im.segments.push_back(std::move(seg));
        break;
      }
      if (::ftruncate(seg->fd.get(), static_cast<off_t>(scan.valid_bytes)) != 0)
        return Err(IoError("truncate torn tail of", seg->path, errno));
      if (::fsync(seg->fd.get()) != 0) return Err(IoError("fsync", seg->path, errno));
      im.stats.recovered_torn_bytes += file_size - scan.valid_bytes;
      log::Warn("event log: cut torn tail",
                {{"segment", seg->path}, {"at", where}, {"bytes", std::to_string(file_size - scan.valid_bytes)}});
    }
    expected = seg->end;
    im.segments.push_back(std::move(seg));
  }
  if (im.segments.empty() && !im.read_only) {
    std::shared_ptr<Segment> seg;
    WARD_RETURN_IF_ERROR(im.CreateSegment(0, &seg));
    im.segments.push_back(std::move(seg));
  }
  if (!im.segments.empty()) {
    im.active = im.segments.back();
    im.durable_end = im.next_offset = im.active->end;
  }

  try {
    im.committer = std::thread([&im] { im.CommitLoop(); });
  } catch (const std::system_error& e) {
    return Err(Internal(std::string("start event log commit thread: ") + e.what()));
  }
  return log;
}

FileEventLog::~FileEventLog() {
  if (impl_) impl_->Shutdown();
}

void FileEventLog::Append(std::string record, std::string /*key: one partition keeps every order*/, AppendCallback done) {
  Impl& im = *impl_;
  bool notify = false;
  {
    std::lock_guard lk(im.queue_mu);
    if (!im.stopping) {
      const bool was_empty = im.pending.empty();
      const bool was_below = im.pending_bytes < im.options.max_batch_bytes;
      im.pending_bytes += record.size();
      im.pending.push_back({std::move(record), std::move(done), Clock::now()});
      // Wake the commit thread only when it has something new to decide on.
      notify = was_empty || (was_below && im.pending_bytes >= im.options.max_batch_bytes);
      done = nullptr;
    }
  }
  if (notify) im.queue_cv.notify_one();
  if (done) done(Err(Unavailable("event log is closing")));
}

Result<uint64_t> EventLog::AppendSync(std::string record, std::string key) {
  // Shared so the promise outlives set_value even if this thread wakes and returns first.
  auto promise = std::make_shared<std::promise<Result<uint64_t>>>();
  auto future = promise->get_future();
  Append(std::move(record), std::move(key), [promise](Result<uint64_t> r) { promise->set_value(std::move(r)); });
  return future.get();
}

// Reads from the first retained record when `from` is below it (after TruncateBefore): the caller
// sees the gap from the first record's offset.
Result<std::vector<LogRecord>> FileEventLog::Read(uint64_t from, size_t max_records, size_t max_bytes) {
  struct Part {
    std::shared_ptr<Segment> seg;
    IndexEntry start;
    uint64_t end;
    uint64_t size;
  };
  std::vector<Part> parts;
  {
    Impl& im = *impl_;
    std::lock_guard lk(im.state_mu);
    if (max_records == 0 || from >= im.durable_end || im.segments.empty()) return std::vector<LogRecord>{};
    from = std::max(from, im.segments.front()->base);
    auto it = std::upper_bound(im.segments.begin(), im.segments.end(), from,
                               [](uint64_t v, const std::shared_ptr<Segment>& s) { return v < s->base; });
    uint64_t want = max_records;
    for (auto s = std::prev(it); s != im.segments.end() && want > 0; ++s) {
      const Segment& seg = **s;
      if (seg.end <= from) continue;
      IndexEntry start = seg.base <= from ? seg.Seek(from) : IndexEntry{seg.base, 0};
      parts.push_back({*s, start, seg.end, seg.size});
      want -= std::min<uint64_t>(want, seg.end - std::max(from, seg.base));
    }
  }

  std::vector<LogRecord> out;
  size_t bytes = 0;
  for (const Part& part : parts) {
    SegmentReader reader(*part.seg, part.size);
    uint64_t pos = part.start.pos;
    for (uint64_t offset = part.start.offset; offset < part.end; ++offset) {
      if (out.size() >= max_records) return out;
      WARD_ASSIGN_OR_RETURN(const char* h, reader.Fetch(pos, kHeaderBytes));
      if (h == nullptr) return Err(Internal("event log segment " + part.seg->path + " is missing durable records"));
      char header[kHeaderBytes];
      std::memcpy(header, h, kHeaderBytes);
      Header hd = DecodeHeader(header);
      if (hd.magic != kMagic || hd.offset != offset || hd.length > kMaxRecordBytes) {
        return Err(Internal("corrupt record header in event log segment " + part.seg->path + " at byte " +
                            std::to_string(pos) + " (offset " + std::to_string(offset) + ")"));
      }
      if (offset >= from) {
        if (!out.empty() && bytes + hd.length > max_bytes) return out;
        WARD_ASSIGN_OR_RETURN(const char* payload, reader.Fetch(pos + kHeaderBytes, hd.length));
        if (payload == nullptr) return Err(Internal("event log segment " + part.seg->path + " is missing durable records"));
        // Durable bytes were validated at open, but the disk may rot afterwards: never hand out garbage.
        if (RecordCrc(header, payload, hd.length) != hd.crc) {
          return Err(Internal("crc mismatch in event log segment " + part.seg->path + " at byte " + std::to_string(pos) +
                              " (offset " + std::to_string(offset) + ")"));
        }
        out.push_back({offset, std::string(payload, hd.length)});
        bytes += hd.length;
      }
      pos += kHeaderBytes + hd.length;
    }
  }
  return out;
}

uint64_t FileEventLog::EndOffset() {
  std::lock_guard lk(impl_->state_mu);
  return impl_->durable_end;
}

bool FileEventLog::WaitForData(uint64_t offset, std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  std::unique_lock lk(im.state_mu);
  im.data_cv.wait_for(lk, timeout, [&] { return im.durable_end > offset || im.closed; });
  return im.durable_end > offset;
}

Status FileEventLog::TruncateBefore(uint64_t offset) {
  Impl& im = *impl_;
  if (im.read_only) return im.broken;
  std::lock_guard truncate_lock(im.truncate_mu);
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard lk(im.state_mu);
    size_t n = 0;
    // Never the last (active) segment, even when all of its records are below `offset`.
    const auto now = std::chrono::system_clock::now();
    auto recent = [&](const Segment& seg) {
      if (im.options.min_retention.count() == 0) return false;
      struct stat st;
      if (::fstat(seg.fd.get(), &st) != 0) return true;  // unknown age: keep it
      auto modified = std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
      return now - modified < im.options.min_retention;
    };
    while (n + 1 < im.segments.size() && im.segments[n]->end <= offset && !recent(*im.segments[n])) ++n;
    doomed.assign(im.segments.begin(), im.segments.begin() + static_cast<std::ptrdiff_t>(n));
    im.segments.erase(im.segments.begin(), im.segments.begin() + static_cast<std::ptrdiff_t>(n));
  }
  // Oldest first, each removal durable before the next: a crash leaves a contiguous suffix of the log.
  // Readers still holding a segment keep reading it through their open descriptor.
  for (const auto& seg : doomed) {
    if (::unlink(seg->path.c_str()) != 0 && errno != ENOENT) return IoError("remove segment", seg->path, errno);
    WARD_RETURN_IF_ERROR(SyncDir(im.options.dir));
  }
  return Status::Ok();
}

FileEventLog::Stats FileEventLog::stats() {
  std::lock_guard lk(impl_->state_mu);
  return impl_->stats;
}

// ---------------------------------------------------------------------------------------------

Result<Cursor> Cursor::Open(const std::string& dir, const std::string& name) {
  if (dir.empty()) return Err(InvalidArgument("cursor directory is empty"));
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || name.find('\0') != std::string::npos)
    return Err(InvalidArgument("invalid cursor name '" + name + "'"));
  WARD_RETURN_IF_ERROR(CreateDirectoryDurably(dir));
  Cursor c;
  c.path_ = dir + "/" + name + ".cursor";
  UniqueFd fd(::open(c.path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return c;
    return Err(IoError("open cursor", c.path_, errno));
  }
  c.exists_ = true;
  char buf[64];
  WARD_ASSIGN_OR_RETURN(size_t n, PreadFully(fd.get(), buf, sizeof buf, 0, c.path_));
  std::string_view text(buf, n);
  if (text.ends_with('\n')) text.remove_suffix(1);
  uint64_t offset = 0;
  auto [p, err] = std::from_chars(text.data(), text.data() + text.size(), offset);
  if (text.empty() || err != std::errc() || p != text.data() + text.size())
    return Err(Internal("corrupt cursor file " + c.path_));
  c.offset_ = offset;
  return c;
}

Status Cursor::Commit(uint64_t offset) {
  if (path_.empty()) return FailedPrecondition("cursor was not opened");
  const std::string tmp = path_ + ".tmp";
  const std::string text = std::to_string(offset) + "\n";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return IoError("create", tmp, errno);
    std::vector<iovec> iov{{const_cast<char*>(text.data()), text.size()}};
    WARD_RETURN_IF_ERROR(PwritevFully(fd.get(), iov, 0, tmp));
    // Data before rename: otherwise a crash could leave the new name pointing at an empty file.
    if (::fsync(fd.get()) != 0) return IoError("fsync", tmp, errno);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return IoError("rename", tmp, errno);
  WARD_RETURN_IF_ERROR(SyncDir(std::filesystem::path(path_).parent_path().string()));
  offset_ = offset;
  exists_ = true;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Positions and the file log's consumer groups: a group is a Cursor file, a member reads with Read.

bool Reached(const LogPosition& position, const LogPosition& target) {
  for (size_t p = 0; p < target.size(); ++p) {
    if ((p < position.size() ? position[p] : 0) < target[p]) return false;
  }
  return true;
}

uint64_t RecordsBehind(const LogPosition& position, const LogPosition& end) {
  uint64_t behind = 0;
  for (size_t p = 0; p < end.size(); ++p) {
    uint64_t at = p < position.size() ? position[p] : 0;
    if (end[p] > at) behind += end[p] - at;
  }
  return behind;
}

LogPosition MinPosition(const LogPosition& a, const LogPosition& b) {
  LogPosition out(std::max(a.size(), b.size()), 0);
  // A partition one side does not name is one it needs nothing of: the other side decides.
  for (size_t p = 0; p < out.size(); ++p) {
    if (p >= a.size()) out[p] = b[p];
    else if (p >= b.size()) out[p] = a[p];
    else out[p] = std::min(a[p], b[p]);
  }
  return out;
}

uint64_t TotalOffset(const LogPosition& position) {
  uint64_t total = 0;
  for (uint64_t v : position) total += v;
  return total;
}

namespace {

class FileLogConsumer final : public LogConsumer {
 public:
  FileLogConsumer(FileEventLog& log, Cursor cursor) : log_(log), cursor_(std::move(cursor)), next_(cursor_.offset()) {}

  Result<std::vector<LogRecord>> Poll(size_t max_records, size_t max_bytes, std::chrono::milliseconds timeout) override {
    if (!log_.WaitForData(next_, timeout)) return std::vector<LogRecord>{};
    WARD_ASSIGN_OR_RETURN(std::vector<LogRecord> records, log_.Read(next_, max_records, max_bytes));
    if (!records.empty()) next_ = records.back().offset + 1;
    return records;
  }
  Status Commit() override { return next_ == cursor_.offset() ? Status::Ok() : cursor_.Commit(next_); }
  Status Seek(const LogPosition& position) override {
    if (position.size() != 1) return InvalidArgument("the file event log has one partition");
    next_ = position[0];
    return Status::Ok();
  }
  LogPosition position() override { return {next_}; }
  LogPosition committed() override { return {cursor_.offset()}; }

 private:
  FileEventLog& log_;
  Cursor cursor_;
  uint64_t next_;
};

}  // namespace

Result<std::unique_ptr<LogConsumer>> FileEventLog::OpenConsumer(const std::string& group) {
  WARD_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(impl_->options.cursor_dir, group));
  return std::unique_ptr<LogConsumer>(std::make_unique<FileLogConsumer>(*this, std::move(cursor)));
}

Result<std::optional<LogPosition>> FileEventLog::CommittedPosition(const std::string& group) {
  WARD_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(impl_->options.cursor_dir, group));
  if (!cursor.exists()) return std::optional<LogPosition>();
  return std::optional<LogPosition>(LogPosition{cursor.offset()});
}

Status FileEventLog::CommitGroup(const std::string& group, const LogPosition& position) {
  if (position.size() != 1) return InvalidArgument("the file event log has one partition");
  WARD_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(impl_->options.cursor_dir, group));
  return cursor.Commit(position[0]);
}

Result<LogPosition> FileEventLog::PositionAt(int64_t ticks, const RecordTime& time_of) {
  // Received times grow with offsets (to within concurrent appends), so a binary search finds the
  // first record at or after `ticks`.
  WARD_ASSIGN_OR_RETURN(auto first, Read(0, 1, 1));
  uint64_t lo = first.empty() ? EndOffset() : first[0].offset;
  uint64_t hi = EndOffset();
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    WARD_ASSIGN_OR_RETURN(auto rec, Read(mid, 1, 1));
    if (rec.empty()) break;
    if (time_of(rec[0]) < ticks) lo = rec[0].offset + 1;
    else hi = mid;
  }
  return LogPosition{lo};
}

Result<int64_t> FileEventLog::EarliestRetainedTicks(const RecordTime& time_of) {
  WARD_ASSIGN_OR_RETURN(auto first, Read(0, 1, 1));
  if (first.empty() || first[0].offset == 0) return int64_t{0};
  return time_of(first[0]);
}

Result<std::vector<LogRecord>> FileEventLog::ReadRecent(size_t max_records) {
  uint64_t end = EndOffset();
  uint64_t from = end > max_records ? end - max_records : 0;
  std::vector<LogRecord> out;
  while (from < end) {
    WARD_ASSIGN_OR_RETURN(std::vector<LogRecord> records, Read(from, 4096, 64ull << 20));
    if (records.empty()) break;
    from = records.back().offset + 1;
    std::move(records.begin(), records.end(), std::back_inserter(out));
  }
  return out;
}

Status FileEventLog::ReleaseBefore(const LogPosition& oldest_needed) {
  return oldest_needed.empty() ? Status::Ok() : TruncateBefore(oldest_needed[0]);
}

}  // namespace ward::events
