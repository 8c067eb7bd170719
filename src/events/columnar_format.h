#pragma once
// Internals of ColumnarStore (not an API for other modules): rows in columnar form, the encoding
// of column blocks, zone maps, the term index and the segment file itself.
// The on-disk format is described in prose in docs/storage-format.md ("Columnar event store").
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "events/rows.h"
#include "events/schema.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace ward::events::columnar {

inline constexpr int64_t kTicksPerDay = 86400 * kTicksPerSecond;
// Zone maps keep at most this many bytes of a string min/max (a prefix; flagged when cut).
inline constexpr size_t kZonePrefixBytes = 64;
// Terms longer than this are not indexed (base64 blobs and the like); they never prune.
inline constexpr size_t kMaxIndexedTermBytes = 64;

inline bool IsIntType(ColumnType t) {
  return t == ColumnType::kDatetime || t == ColumnType::kLong || t == ColumnType::kInt || t == ColumnType::kBool;
}
inline bool IsStringType(ColumnType t) { return t == ColumnType::kString || t == ColumnType::kDynamic; }

// KQL term characters: ASCII letters and digits, and every non-ASCII byte (see TermsOf).
inline bool IsTermByte(unsigned char c) { return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }
inline char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// A read-only view of one column over `rows` rows: a tail chunk's column or a decoded block.
// Strings are plain (offsets has rows+1 entries) or dictionary-coded (offsets/bytes describe the
// dictionary of dict_size entries and codes has one code of code_width bytes per row).
struct ColumnView {
  ColumnType type = ColumnType::kString;
  size_t rows = 0;
  bool all_null = false;
  const uint8_t* nulls = nullptr;  // 1 = null, one per row; nullptr when the block has no nulls
  const int64_t* ints = nullptr;
  const double* reals = nullptr;
  const uint32_t* offsets = nullptr;
  const char* bytes = nullptr;
  size_t dict_size = 0;
  const void* codes = nullptr;
  uint8_t code_width = 0;  // 0 = plain strings

  bool IsNull(size_t row) const { return all_null || (nulls != nullptr && nulls[row] != 0); }
  // Entry i of the plain strings or of the dictionary.
  std::string_view Entry(size_t i) const { return {bytes + offsets[i], offsets[i + 1] - offsets[i]}; }
  uint32_t Code(size_t row) const {
    switch (code_width) {
      case 1: return static_cast<const uint8_t*>(codes)[row];
      case 2: return static_cast<const uint16_t*>(codes)[row];
      default: return static_cast<const uint32_t*>(codes)[row];
    }
  }
  std::string_view Str(size_t row) const { return code_width ? Entry(Code(row)) : Entry(row); }
};

// One column of rows in memory (tail chunks, and segment input). Null cells hold 0 / "".
struct ColumnData {
  ColumnType type = ColumnType::kString;
  std::vector<uint8_t> nulls;  // 1 = null
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<uint32_t> offsets{0};  // strings: end offsets, rows + 1 entries
  std::string bytes;
  size_t null_count = 0;

  ColumnData() = default;
  explicit ColumnData(ColumnType t) : type(t) {}
  size_t rows() const { return nulls.size(); }
  void Reserve(size_t n);
  // False (and nothing appended) when the value's kind does not fit the column type.
  bool Append(const CellValue& v);
  void AppendNull();
  void AppendRange(const ColumnData& other, size_t begin, size_t end);
  void AppendOne(const ColumnData& other, size_t row);
  void AppendView(const ColumnView& v);  // all rows of a view
  ColumnView View() const;
  size_t MemoryBytes() const;
};

// Unsealed rows of one partition in columnar form: built from an appended batch, immutable once
// published (scans hold shared_ptrs to chunks while appends add new ones).
struct Chunk {
  size_t rows = 0;
  uint64_t note_seq = 0;  // NoteLogOffset calls seen before these rows were appended
  int64_t min_ts = std::numeric_limits<int64_t>::max(), max_ts = std::numeric_limits<int64_t>::min();  // non-null Timestamps
  std::vector<ColumnData> columns;  // one per table column, schema order
  size_t MemoryBytes() const;
};

// Per-block (and per-segment) statistics. Min/max cover the non-null values; for strings they are
// byte-wise prefixes of at most kZonePrefixBytes: smin <= every value, and every value's prefix of
// that length <= smax (exactly smax when not truncated). Reals: NaN widens the range to ±inf.
struct Zone {
  uint32_t rows = 0;
  uint32_t null_count = 0;
  int64_t imin = 0, imax = 0;
  double rmin = 0, rmax = 0;
  std::string smin, smax;
  bool smin_trunc = false, smax_trunc = false;

  bool AllNull() const { return null_count == rows; }
  void Merge(const Zone& other, ColumnType type);
};

// Block payload encodings (first byte of a decompressed column chunk).
enum class Encoding : uint8_t { kAllNull = 0, kIntPacked = 1, kFloat64 = 3, kStringPlain = 4, kStringDict = 5 };

// Encodes `col` (the rows of one block) as an uncompressed block payload, computes the block's
// zone and, when `terms` is given, adds the block's terms to the term index.
class TermIndexBuilder;
void EncodeBlock(const ColumnData& col, std::string* payload, Zone* zone, TermIndexBuilder* terms, uint32_t block);

// A decompressed block payload plus the view over it (the view points into `buffer`).
struct DecodedBlock {
  std::vector<uint64_t> buffer;  // 8-byte aligned, so arrays are read in place
  std::vector<uint8_t> nulls;    // the null bitmap expanded to bytes
  std::vector<int64_t> ints;     // unpacked integers
  ColumnView view;
};
// Parses a payload already decompressed into out->buffer (raw_size bytes); validates every offset.
Status ParseBlock(size_t raw_size, ColumnType type, size_t expected_rows, DecodedBlock* out);

// Collects term -> blocks postings while a segment is written, then serialises them.
class TermIndexBuilder {
 public:
  void Add(std::string_view text, uint32_t block);  // all terms of text occur in block
  std::string Serialize() const;                    // uncompressed term index payload
  bool empty() const { return postings_.empty(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<uint32_t>, Hash, std::equal_to<>> postings_;
  std::string scratch_;
};

// A decoded term index of one column of one segment: sorted terms with their block lists.
class TermIndex {
 public:
  static Result<std::shared_ptr<const TermIndex>> Parse(std::vector<uint64_t> buffer, size_t raw_size);
  // Appends the blocks containing `term` (already lower-cased) to `blocks` in ascending order.
  void Lookup(std::string_view term, std::vector<uint32_t>* blocks) const;
  size_t term_count() const { return term_count_; }

 private:
  std::vector<uint64_t> buffer_;
  size_t term_count_ = 0;
  const uint32_t* term_offsets_ = nullptr;
  const char* terms_ = nullptr;
  const uint32_t* posting_offsets_ = nullptr;
  const uint8_t* postings_ = nullptr;
  size_t postings_size_ = 0;
};

// Location of a zstd frame in a segment file.
struct FrameRef {
  uint64_t offset = 0;
  uint32_t stored = 0;  // compressed bytes in the file
  uint32_t raw = 0;     // decompressed bytes
};

struct SegmentColumn {
  std::string name;
  ColumnType type = ColumnType::kString;
  std::vector<FrameRef> blocks;  // one per block
  std::vector<Zone> zones;       // one per block
  Zone total;                    // merged over all blocks
  bool has_term_index = false;
  FrameRef term_index;
};

// RAII file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Reusable zstd contexts (one per thread of work; not thread-safe).
class Compressor {
 public:
  Compressor();
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  // A frame of `in`: zstd level 1 with a content checksum, or, when that saves less than 15%
  // (random ids, hashes), the bytes themselves followed by their CRC-32C, which reads back at
  // memory speed. Readers tell them apart by size: a stored frame is exactly 4 bytes longer than
  // its content, a zstd frame is always shorter.
  Status MakeFrame(std::string_view in, std::string* out);

 private:
  ZSTD_CCtx_s* cctx_;
};
// CRC-32C with the SSE4.2 instruction when the CPU has it (the table version otherwise).
uint32_t Crc32cFast(const void* data, size_t n);

class Decompressor {
 public:
  Decompressor();
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  // Reads the frame at `ref` from fd and decompresses it into `out` (8-byte aligned).
  Status ReadFrame(int fd, const FrameRef& ref, std::vector<uint64_t>* out);

 private:
  ZSTD_DCtx_s* dctx_;
  std::string compressed_;
};

// An immutable segment file: header fields and the parsed footer (zone maps, directory), kept in
// memory for as long as the segment exists. Column data and term indexes are read on demand.
class Segment {
 public:
  // Reads and validates header, trailer and footer.
  static Result<std::shared_ptr<Segment>> Load(const std::string& path);

  const std::string& path() const { return path_; }
  uint64_t checkpoint() const { return checkpoint_; }
  uint64_t rows() const { return rows_; }
  size_t block_count() const { return block_rows_.size(); }
  uint32_t block_rows(size_t b) const { return block_rows_[b]; }
  int64_t min_ts() const { return min_ts_; }
  int64_t max_ts() const { return max_ts_; }
  uint64_t file_bytes() const { return file_bytes_; }
  const SegmentColumn* Column(std::string_view name) const;
  // The term index of `col` (which must belong to this segment), read through fd and cached.
  Result<std::shared_ptr<const TermIndex>> TermIndexOf(const SegmentColumn& col, int fd, Decompressor& dec) const;
  // Checkpoint ids of the segments of the same partition whose rows this one took over (merge).
  const std::vector<uint64_t>& replaces() const { return replaces_; }
  // Deletes the file once the last reference is gone (a merge replaced it; scans may still read it).
  void MarkObsolete() const { obsolete_ = true; }
  ~Segment();

 private:
  std::string path_;
  std::vector<uint64_t> replaces_;
  mutable std::atomic<bool> obsolete_{false};
  uint64_t checkpoint_ = 0;
  uint64_t rows_ = 0;
  int64_t min_ts_ = 0, max_ts_ = 0;
  uint64_t file_bytes_ = 0;
  std::vector<uint32_t> block_rows_;
  std::vector<SegmentColumn> columns_;
  std::unordered_map<std::string_view, size_t> by_name_;
  mutable std::mutex term_mu_;
  mutable std::unordered_map<const SegmentColumn*, std::shared_ptr<const TermIndex>> term_cache_;
};

struct SegmentWriteOptions {
  size_t block_rows = 8192;
  uint64_t checkpoint = 0;
  std::vector<uint64_t> replaces;  // recorded in the footer (see Segment::replaces)
};
// Writes the rows of `chunks` (all of `table`) as the segment file dir/name, sorted by Timestamp:
// temp file, fsync, rename, fsync of the directory. Returns the loaded segment.
Result<std::shared_ptr<Segment>> WriteSegment(const std::string& dir, const std::string& name, const TableDef& table,
                                              const std::vector<std::shared_ptr<const Chunk>>& chunks, const SegmentWriteOptions& options);

// All rows of a segment as chunks (one per block), in the columns of `table`: what a merge
// rewrites. Columns the segment lacks (or holds with another type) read as null.
Result<std::vector<std::shared_ptr<const Chunk>>> ReadSegmentChunks(const Segment& segment, const TableDef& table);

// store.meta: the committed checkpoint and the durable log offset.
struct StoreMeta {
  uint64_t checkpoint = 0;
  uint64_t durable_log_offset = 0;
};
Result<StoreMeta> ReadStoreMeta(const std::string& path);  // NotFound when missing
Status WriteStoreMeta(const std::string& path, const StoreMeta& meta);

// File helpers.
Status FsyncDir(const std::string& dir);
Status WriteFileDurably(const std::string& path, std::string_view data);  // temp + fsync + rename + dir fsync
std::string ErrnoMessage(std::string_view what, const std::string& path);

// "YYYY-MM-DD" for a day number (days since 1970-01-01) and back.
std::string DayName(int64_t day);
std::optional<int64_t> ParseDayName(std::string_view name);
// The partition day of a timestamp; clamped to years 0000..9999 so names stay well-formed.
int64_t DayOf(int64_t ticks);
// Tenant ids the stores accept (they name directories): 1-128 of [A-Za-z0-9._-], not "." or "..".
bool ValidTenant(std::string_view tenant);

}  // namespace ward::events::columnar
