#include "events/columnar_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "events/column_bytes.h"
#include "events/event_store.h"

namespace ward::events::columnar {
namespace {

constexpr char kSegmentMagic[8] = {'W', 'R', 'D', 'S', 'E', 'G', '0', '1'};
constexpr char kSegmentEndMagic[8] = {'W', 'R', 'D', 'S', 'E', 'G', 'N', 'D'};
constexpr char kMetaMagic[8] = {'W', 'R', 'D', 'M', 'E', 'T', 'A', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 64;
constexpr size_t kTrailerBytes = 32;
constexpr size_t kPayloadHeaderBytes = 8;
// Refuse absurd frame sizes from a damaged footer before allocating for them.
constexpr uint32_t kMaxFrameRaw = 1u << 31;
// A block is cut early when its string bytes (summed over all columns) would pass this, so every
// u32 offset inside a block fits.
constexpr uint64_t kMaxBlockStringBytes = 1ull << 30;
constexpr size_t kWriteBufferBytes = 4u << 20;

Status Corrupt(const std::string& path, std::string_view what) { return Internal("corrupt segment " + path + ": " + std::string(what)); }

size_t Align8(size_t n) { return (n + 7) & ~size_t{7}; }

int BitWidth(uint64_t v) { return 64 - std::countl_zero(v); }

std::string Prefix(std::string_view s, bool* truncated) {
  *truncated = s.size() > kZonePrefixBytes;
  return std::string(s.substr(0, kZonePrefixBytes));
}

// Sequential file writer that tracks the offset; flushes in large writes.
class FileWriter {
 public:
  FileWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Write(std::string_view data) {
    buffer_.append(data);
    offset_ += data.size();
    return buffer_.size() >= kWriteBufferBytes ? Flush() : Status::Ok();
  }
  Status Flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Err(Internal(ErrnoMessage("write", path_)));
      }
      done += static_cast<size_t>(n);
    }
    buffer_.clear();
    return Status::Ok();
  }
  uint64_t offset() const { return offset_; }

 private:
  int fd_;
  std::string path_;
  std::string buffer_;
  uint64_t offset_ = 0;
};

Status PReadAll(int fd, void* buf, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Internal(ErrnoMessage("read", path));
    }
    if (r == 0) return Corrupt(path, "unexpected end of file");
    done += static_cast<size_t>(r);
  }
  return Status::Ok();
}

void WriteZone(ByteWriter& w, const Zone& z, ColumnType type) {
  w.U32(z.null_count);
  if (z.AllNull()) return;
  if (IsIntType(type)) {
    w.I64(z.imin);
    w.I64(z.imax);
  } else if (type == ColumnType::kReal) {
    w.F64(z.rmin);
    w.F64(z.rmax);
  } else {
    w.U8(static_cast<uint8_t>((z.smin_trunc ? 1 : 0) | (z.smax_trunc ? 2 : 0)));
    w.Str(z.smin);
    w.Str(z.smax);
  }
}

bool ReadZone(ByteReader& r, Zone* z, ColumnType type) {
  if (!r.U32(&z->null_count) || z->null_count > z->rows) return false;
  if (z->AllNull()) return true;
  if (IsIntType(type)) return r.I64(&z->imin) && r.I64(&z->imax);
  if (type == ColumnType::kReal) return r.F64(&z->rmin) && r.F64(&z->rmax);
  uint8_t flags;
  std::string_view mn, mx;
  if (!r.U8(&flags) || !r.Str(&mn) || !r.Str(&mx)) return false;
  z->smin_trunc = flags & 1;
  z->smax_trunc = flags & 2;
  z->smin = mn;
  z->smax = mx;
  return true;
}

void WriteFrameRef(ByteWriter& w, const FrameRef& f) {
  w.U64(f.offset);
  w.U32(f.stored);
  w.U32(f.raw);
}

bool ReadFrameRef(ByteReader& r, FrameRef* f, uint64_t data_end) {
  return r.U64(&f->offset) && r.U32(&f->stored) && r.U32(&f->raw) && f->offset >= kHeaderBytes && f->offset <= data_end &&
         f->stored <= data_end - f->offset && f->raw <= kMaxFrameRaw;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ColumnData, Chunk, Zone

void ColumnData::Reserve(size_t n) {
  nulls.reserve(n);
  if (IsIntType(type)) ints.reserve(n);
  else if (type == ColumnType::kReal) reals.reserve(n);
  else offsets.reserve(n + 1);
}

void ColumnData::AppendNull() {
  nulls.push_back(1);
  ++null_count;
  if (IsIntType(type)) ints.push_back(0);
  else if (type == ColumnType::kReal) reals.push_back(0);
  else offsets.push_back(static_cast<uint32_t>(bytes.size()));
}

bool ColumnData::Append(const CellValue& v) {
  if (v.index() == 0) {
    AppendNull();
    return true;
  }
  if (IsIntType(type)) {
    const int64_t* p = std::get_if<int64_t>(&v);
    if (p == nullptr) return false;
    ints.push_back(*p);
  } else if (type == ColumnType::kReal) {
    const double* p = std::get_if<double>(&v);
    if (p == nullptr) return false;
    reals.push_back(*p);
  } else {
    const std::string* p = std::get_if<std::string>(&v);
    if (p == nullptr) return false;
    bytes.append(*p);
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
  }
  nulls.push_back(0);
  return true;
}

void ColumnData::AppendRange(const ColumnData& other, size_t begin, size_t end) {
  nulls.insert(nulls.end(), other.nulls.begin() + begin, other.nulls.begin() + end);
  for (size_t i = begin; i < end; ++i) null_count += other.nulls[i];
  if (IsIntType(type)) {
    ints.insert(ints.end(), other.ints.begin() + begin, other.ints.begin() + end);
  } else if (type == ColumnType::kReal) {
    reals.insert(reals.end(), other.reals.begin() + begin, other.reals.begin() + end);
  } else {
    const uint32_t base = other.offsets[begin];
    const uint32_t shift = static_cast<uint32_t>(bytes.size());
    bytes.append(other.bytes, base, other.offsets[end] - base);
    for (size_t i = begin + 1; i <= end; ++i) offsets.push_back(other.offsets[i] - base + shift);
  }
}

void ColumnData::AppendOne(const ColumnData& other, size_t row) {
  const uint8_t is_null = other.nulls[row];
  nulls.push_back(is_null);
  null_count += is_null;
  if (IsIntType(type)) {
    ints.push_back(other.ints[row]);
  } else if (type == ColumnType::kReal) {
    reals.push_back(other.reals[row]);
  } else {
    bytes.append(other.bytes, other.offsets[row], other.offsets[row + 1] - other.offsets[row]);
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
  }
}

void ColumnData::AppendView(const ColumnView& v) {
  const size_t n = v.rows;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t is_null = v.IsNull(i) ? 1 : 0;
    nulls.push_back(is_null);
    null_count += is_null;
    if (IsIntType(type)) {
      ints.push_back(is_null ? 0 : v.ints[i]);
    } else if (type == ColumnType::kReal) {
      reals.push_back(is_null ? 0 : v.reals[i]);
    } else {
      if (!is_null) bytes.append(v.Str(i));
      offsets.push_back(static_cast<uint32_t>(bytes.size()));
    }
  }
}

ColumnView ColumnData::View() const {
  ColumnView v;
  v.type = type;
  v.rows = rows();
  v.all_null = v.rows > 0 && null_count == v.rows;
  v.nulls = null_count > 0 ? nulls.data() : nullptr;
  v.ints = ints.data();
  v.reals = reals.data();
  v.offsets = offsets.data();
  v.bytes = bytes.data();
  return v;
}

size_t ColumnData::MemoryBytes() const {
  return nulls.capacity() + ints.capacity() * 8 + reals.capacity() * 8 + offsets.capacity() * 4 + bytes.capacity() + sizeof(*this);
}

size_t Chunk::MemoryBytes() const {
  size_t n = sizeof(*this);
  for (const ColumnData& c : columns) n += c.MemoryBytes();
  return n;
}

void Zone::Merge(const Zone& o, ColumnType type) {
  if (o.AllNull()) {
    rows += o.rows;
    null_count += o.null_count;
    return;
  }
  const bool first = AllNull();
  rows += o.rows;
  null_count += o.null_count;
  if (first) {
    imin = o.imin, imax = o.imax, rmin = o.rmin, rmax = o.rmax;
    smin = o.smin, smax = o.smax, smin_trunc = o.smin_trunc, smax_trunc = o.smax_trunc;
    return;
  }
  if (IsIntType(type)) {
    imin = std::min(imin, o.imin);
    imax = std::max(imax, o.imax);
  } else if (type == ColumnType::kReal) {
    rmin = std::min(rmin, o.rmin);
    rmax = std::max(rmax, o.rmax);
  } else {
    // Equal prefixes: an exact min is the smaller value; a cut max hides a larger one.
    if (o.smin < smin) smin = o.smin, smin_trunc = o.smin_trunc;
    else if (o.smin == smin) smin_trunc = smin_trunc && o.smin_trunc;
    if (o.smax > smax) smax = o.smax, smax_trunc = o.smax_trunc;
    else if (o.smax == smax) smax_trunc = smax_trunc || o.smax_trunc;
  }
}

// ---------------------------------------------------------------------------------------------
// Block encoding

void EncodeBlock(const ColumnData& col, std::string* payload, Zone* zone, TermIndexBuilder* terms, uint32_t block) {
  const size_t rows = col.rows();
  payload->clear();
  ByteWriter w(payload);
  *zone = Zone{};
  zone->rows = static_cast<uint32_t>(rows);
  zone->null_count = static_cast<uint32_t>(col.null_count);
  auto header = [&](Encoding e, bool has_nulls) {
    w.U8(static_cast<uint8_t>(e));
    w.U8(has_nulls ? 1 : 0);
    w.U16(0);
    w.U32(static_cast<uint32_t>(rows));
    if (has_nulls) {
      std::string bitmap((rows + 7) / 8, '\0');
      for (size_t i = 0; i < rows; ++i) {
        if (col.nulls[i]) bitmap[i >> 3] = static_cast<char>(bitmap[i >> 3] | (1 << (i & 7)));
      }
      w.Bytes(bitmap);
      w.PadTo(8);
    }
  };
  if (rows == 0 || col.null_count == rows) {
    header(Encoding::kAllNull, false);
    return;
  }
  const bool has_nulls = col.null_count > 0;

  if (IsIntType(col.type)) {
    // Null cells take the previous value, so they cost nothing in the delta stream.
    std::vector<int64_t> values(col.ints.begin(), col.ints.end());
    bool seen = false;
    int64_t prev = 0;
    for (size_t i = 0; i < rows; ++i) {
      if (col.nulls[i]) {
        values[i] = prev;
        continue;
      }
      prev = values[i];
      if (!seen) zone->imin = zone->imax = prev, seen = true;
      zone->imin = std::min(zone->imin, prev);
      zone->imax = std::max(zone->imax, prev);
    }
    if (has_nulls) {  // leading nulls: start the stream at the first value
      size_t first = 0;
      while (col.nulls[first]) ++first;
      for (size_t i = 0; i < first; ++i) values[i] = values[first];
    }
    // Frame of reference: offsets from a base in 0, 1, 2, 4 or 8 bytes; of the differences between
    // neighbours when those need clearly fewer bits than the values (timestamps, ids).
    auto sub = [](int64_t a, int64_t b) { return static_cast<uint64_t>(a) - static_cast<uint64_t>(b); };
    int64_t dmin = 0, dmax = 0;
    for (size_t i = 1; i < rows; ++i) {
      const int64_t d = static_cast<int64_t>(sub(values[i], values[i - 1]));
      if (i == 1) dmin = dmax = d;
      dmin = std::min(dmin, d);
      dmax = std::max(dmax, d);
    }
    const int delta_bits = rows > 1 ? BitWidth(sub(dmax, dmin)) : 64;
    const int range_bits = BitWidth(sub(zone->imax, zone->imin));
    const bool delta = rows > 1 && delta_bits + 4 <= range_bits;
    const int64_t base = delta ? dmin : zone->imin;
    const uint64_t span = delta ? sub(dmax, dmin) : sub(zone->imax, zone->imin);
    const uint8_t width = span == 0 ? 0 : span <= 0xff ? 1 : span <= 0xffff ? 2 : span <= 0xffffffffu ? 4 : 8;
    header(Encoding::kIntPacked, has_nulls);
    w.I64(values[0]);
    w.I64(base);
    w.U8(width);
    w.U8(delta ? 1 : 0);
    w.U16(0);
    w.U32(0);
    for (size_t i = 0; i < rows && width > 0; ++i) {
      const uint64_t u = delta ? (i == 0 ? 0 : sub(sub(values[i], values[i - 1]), base)) : sub(values[i], base);
      switch (width) {
        case 1: w.U8(static_cast<uint8_t>(u)); break;
        case 2: w.U16(static_cast<uint16_t>(u)); break;
        case 4: w.U32(static_cast<uint32_t>(u)); break;
        default: w.U64(u); break;
      }
    }
    return;
  }

  if (col.type == ColumnType::kReal) {
    bool seen = false;
    for (size_t i = 0; i < rows; ++i) {
      if (col.nulls[i]) continue;
      double v = col.reals[i];
      if (std::isnan(v)) {  // NaN compares false with everything: widen instead of tracking it
        zone->rmin = -INFINITY, zone->rmax = INFINITY, seen = true;
        break;
      }
      if (!seen) zone->rmin = zone->rmax = v, seen = true;
      zone->rmin = std::min(zone->rmin, v);
      zone->rmax = std::max(zone->rmax, v);
    }
    header(Encoding::kFloat64, has_nulls);
    w.Bytes(std::string_view(reinterpret_cast<const char*>(col.reals.data()), rows * 8));
    return;
  }

  // Strings: dictionary when there are few distinct values, else plain.
  auto str = [&](size_t i) { return std::string_view(col.bytes).substr(col.offsets[i], col.offsets[i + 1] - col.offsets[i]); };
  const size_t max_dict = std::max<size_t>(1, rows / 4);
  std::unordered_map<std::string_view, uint32_t> dict;
  std::vector<std::string_view> entries;
  std::vector<uint32_t> codes(rows, 0);
  bool use_dict = true;
  dict.reserve(std::min<size_t>(max_dict, 1024));
  for (size_t i = 0; i < rows; ++i) {
    if (col.nulls[i]) continue;
    auto [it, inserted] = dict.try_emplace(str(i), static_cast<uint32_t>(entries.size()));
    if (inserted) {
      entries.push_back(it->first);
      if (entries.size() > max_dict) {
        use_dict = false;
        break;
      }
    }
    codes[i] = it->second;
  }
  if (!use_dict) {
    entries.clear();
    for (size_t i = 0; i < rows; ++i) {
      if (!col.nulls[i]) entries.push_back(str(i));
    }
  }
  // Zone and terms come from the distinct values (all values when plain).
  std::string_view mn = entries[0], mx = entries[0];
  for (std::string_view e : entries) {
    if (e < mn) mn = e;
    if (e > mx) mx = e;
    if (terms != nullptr) terms->Add(e, block);
  }
  zone->smin = Prefix(mn, &zone->smin_trunc);
  zone->smax = Prefix(mx, &zone->smax_trunc);

  if (use_dict) {
    header(Encoding::kStringDict, has_nulls);
    const uint32_t width = entries.size() <= 0x100 ? 1 : entries.size() <= 0x10000 ? 2 : 4;
    w.U32(static_cast<uint32_t>(entries.size()));
    w.U32(width);
    uint32_t off = 0;
    w.U32(0);
    for (std::string_view e : entries) w.U32(off += static_cast<uint32_t>(e.size()));
    w.PadTo(8);
    for (std::string_view e : entries) w.Bytes(e);
    w.PadTo(8);
    for (size_t i = 0; i < rows; ++i) {
      if (width == 1) w.U8(static_cast<uint8_t>(codes[i]));
      else if (width == 2) w.U16(static_cast<uint16_t>(codes[i]));
      else w.U32(codes[i]);
    }
  } else {
    header(Encoding::kStringPlain, has_nulls);
    const uint32_t base = col.offsets[0];
    for (size_t i = 0; i <= rows; ++i) w.U32(col.offsets[i] - base);
    w.PadTo(8);
    w.Bytes(std::string_view(col.bytes).substr(base, col.offsets[rows] - base));
  }
}

namespace {

template <typename U>
void Widen(const U* __restrict in, size_t n, uint64_t base, int64_t* __restrict out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(base + in[i]);
}

// out[i] = base + packed[i] (wrapping); packed values are `width` bytes, little-endian.
void UnpackInts(const void* packed, uint8_t width, size_t n, uint64_t base, int64_t* out) {
  switch (width) {
    case 0: std::fill(out, out + n, static_cast<int64_t>(base)); break;
    case 1: Widen(static_cast<const uint8_t*>(packed), n, base, out); break;
    case 2: Widen(static_cast<const uint16_t*>(packed), n, base, out); break;
    case 4: Widen(static_cast<const uint32_t*>(packed), n, base, out); break;
    default: Widen(static_cast<const uint64_t*>(packed), n, base, out); break;
  }
}

}  // namespace

Status ParseBlock(size_t raw_size, ColumnType type, size_t expected_rows, DecodedBlock* out) {
  const char* base = reinterpret_cast<const char*>(out->buffer.data());
  ByteReader r(std::string_view(base, raw_size));
  auto bad = [](std::string_view what) { return Internal("corrupt column block: " + std::string(what)); };
  uint8_t enc, flags;
  uint16_t reserved;
  uint32_t rows;
  if (!r.U8(&enc) || !r.U8(&flags) || !r.U16(&reserved) || !r.U32(&rows)) return bad("short header");
  if (rows != expected_rows) return bad("row count mismatch");
  ColumnView& v = out->view;
  v = ColumnView{};
  v.type = type;
  v.rows = rows;
  if (enc == static_cast<uint8_t>(Encoding::kAllNull)) {
    v.all_null = rows > 0;
    return Status::Ok();
  }
  if (flags & 1) {
    std::string_view bitmap;
    if (!r.Bytes((rows + 7) / 8, &bitmap) || !r.AlignTo(8)) return bad("short null bitmap");
    out->nulls.resize(rows);
    const auto* bits = reinterpret_cast<const uint8_t*>(bitmap.data());
    for (size_t i = 0; i < rows; ++i) out->nulls[i] = (bits[i >> 3] >> (i & 7)) & 1;
    v.nulls = out->nulls.data();
  }
  auto here = [&] { return base + r.pos(); };
  switch (static_cast<Encoding>(enc)) {
    case Encoding::kIntPacked: {
      if (!IsIntType(type)) return bad("integer block in a non-integer column");
      int64_t first, base;
      uint8_t width, delta;
      if (!r.I64(&first) || !r.I64(&base) || !r.U8(&width) || !r.U8(&delta) || !r.Skip(6)) return bad("short integer header");
      if (width != 0 && width != 1 && width != 2 && width != 4 && width != 8) return bad("bad integer width");
      const void* packed = here();
      if (!r.Skip(size_t{rows} * width)) return bad("short integer data");
      out->ints.resize(rows);
      UnpackInts(packed, width, rows, static_cast<uint64_t>(base), out->ints.data());
      if (delta && rows > 0) {
        // Prefix sum (wrapping, as written); the first offset is unused.
        uint64_t acc = static_cast<uint64_t>(first);
        int64_t* vals = out->ints.data();
        vals[0] = first;
        for (size_t i = 1; i < rows; ++i) vals[i] = static_cast<int64_t>(acc += static_cast<uint64_t>(vals[i]));
      }
      v.ints = out->ints.data();
      return Status::Ok();
    }
    case Encoding::kFloat64: {
      if (type != ColumnType::kReal) return bad("real block in a non-real column");
      v.reals = reinterpret_cast<const double*>(here());
      if (!r.Skip(size_t{rows} * 8)) return bad("short real data");
      return Status::Ok();
    }
    case Encoding::kStringPlain:
    case Encoding::kStringDict: {
      if (!IsStringType(type)) return bad("string block in a non-string column");
      const bool is_dict = enc == static_cast<uint8_t>(Encoding::kStringDict);
      uint32_t entries = rows, width = 0;
      if (is_dict && (!r.U32(&entries) || !r.U32(&width) || (width != 1 && width != 2 && width != 4) || entries == 0)) {
        return bad("bad dictionary header");
      }
      const auto* offsets = reinterpret_cast<const uint32_t*>(here());
      if (!r.Skip((size_t{entries} + 1) * 4) || !r.AlignTo(8)) return bad("short offsets");
      // Offsets must start at 0 and never decrease; the last one bounds the bytes section.
      uint32_t bad_order = offsets[0];
      for (size_t i = 0; i < entries; ++i) bad_order |= offsets[i] > offsets[i + 1];
      if (bad_order) return bad("offsets out of order");
      v.offsets = offsets;
      v.bytes = here();
      if (!r.Skip(offsets[entries])) return bad("short string bytes");
      if (!is_dict) return Status::Ok();
      if (!r.AlignTo(8)) return bad("short padding");
      v.codes = here();
      v.code_width = static_cast<uint8_t>(width);
      v.dict_size = entries;
      if (!r.Skip(size_t{rows} * width)) return bad("short codes");
      uint32_t max_code = 0;
      if (width == 1) {
        for (size_t i = 0; i < rows; ++i) max_code = std::max<uint32_t>(max_code, static_cast<const uint8_t*>(v.codes)[i]);
      } else if (width == 2) {
        for (size_t i = 0; i < rows; ++i) max_code = std::max<uint32_t>(max_code, static_cast<const uint16_t*>(v.codes)[i]);
      } else {
        for (size_t i = 0; i < rows; ++i) max_code = std::max(max_code, static_cast<const uint32_t*>(v.codes)[i]);
      }
      if (rows > 0 && max_code >= entries) return bad("dictionary code out of range");
      return Status::Ok();
    }
    default:
      return bad("unknown encoding " + std::to_string(enc));
  }
}

// ---------------------------------------------------------------------------------------------
// Term index

void TermIndexBuilder::Add(std::string_view text, uint32_t block) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && !IsTermByte(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < n && IsTermByte(static_cast<unsigned char>(text[i]))) ++i;
    const size_t len = i - start;
    if (len == 0 || len > kMaxIndexedTermBytes) continue;
    scratch_.resize(len);
    for (size_t k = 0; k < len; ++k) scratch_[k] = LowerAscii(text[start + k]);
    auto it = postings_.find(std::string_view(scratch_));
    if (it == postings_.end()) {
      postings_.emplace(scratch_, std::vector<uint32_t>{block});
    } else if (it->second.back() != block) {
      it->second.push_back(block);
    }
  }
}

std::string TermIndexBuilder::Serialize() const {
  std::vector<const std::pair<const std::string, std::vector<uint32_t>>*> sorted;
  sorted.reserve(postings_.size());
  for (const auto& e : postings_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::string out;
  ByteWriter w(&out);
  w.U32(static_cast<uint32_t>(sorted.size()));
  uint32_t off = 0;
  w.U32(0);
  for (auto* e : sorted) w.U32(off += static_cast<uint32_t>(e->first.size()));
  for (auto* e : sorted) w.Bytes(e->first);
  w.PadTo(4);
  std::string postings;
  ByteWriter pw(&postings);
  std::vector<uint32_t> ends;
  ends.reserve(sorted.size());
  for (auto* e : sorted) {
    uint32_t prev = 0;
    for (uint32_t b : e->second) {  // ascending: store gaps
      pw.Varint(b - prev);
      prev = b;
    }
    ends.push_back(static_cast<uint32_t>(postings.size()));
  }
  w.U32(0);
  for (uint32_t end : ends) w.U32(end);
  w.Bytes(postings);
  return out;
}

Result<std::shared_ptr<const TermIndex>> TermIndex::Parse(std::vector<uint64_t> buffer, size_t raw_size) {
  auto index = std::make_shared<TermIndex>();
  index->buffer_ = std::move(buffer);
  const char* base = reinterpret_cast<const char*>(index->buffer_.data());
  ByteReader r(std::string_view(base, raw_size));
  auto bad = [] { return Err(Internal("corrupt term index")); };
  uint32_t count;
  if (!r.U32(&count) || count > raw_size / 8) return bad();
  index->term_count_ = count;
  index->term_offsets_ = reinterpret_cast<const uint32_t*>(base + r.pos());
  if (!r.Skip((size_t{count} + 1) * 4)) return bad();
  index->terms_ = base + r.pos();
  uint32_t bad_order = index->term_offsets_[0];
  for (size_t i = 0; i < count; ++i) bad_order |= index->term_offsets_[i] > index->term_offsets_[i + 1];
  if (bad_order || !r.Skip(index->term_offsets_[count]) || !r.AlignTo(4)) return bad();
  index->posting_offsets_ = reinterpret_cast<const uint32_t*>(base + r.pos());
  if (!r.Skip((size_t{count} + 1) * 4)) return bad();
  bad_order = index->posting_offsets_[0];
  for (size_t i = 0; i < count; ++i) bad_order |= index->posting_offsets_[i] > index->posting_offsets_[i + 1];
  index->postings_ = reinterpret_cast<const uint8_t*>(base + r.pos());
  index->postings_size_ = r.remaining();
  if (bad_order || index->posting_offsets_[count] > index->postings_size_) return bad();
  return std::shared_ptr<const TermIndex>(std::move(index));
}

void TermIndex::Lookup(std::string_view term, std::vector<uint32_t>* blocks) const {
  size_t lo = 0, hi = term_count_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    std::string_view t(terms_ + term_offsets_[mid], term_offsets_[mid + 1] - term_offsets_[mid]);
    if (t < term) lo = mid + 1;
    else hi = mid;
  }
  if (lo == term_count_) return;
  std::string_view found(terms_ + term_offsets_[lo], term_offsets_[lo + 1] - term_offsets_[lo]);
  if (found != term) return;
  ByteReader r(std::string_view(reinterpret_cast<const char*>(postings_) + posting_offsets_[lo], posting_offsets_[lo + 1] - posting_offsets_[lo]));
  uint64_t block = 0, gap;
  while (r.remaining() > 0 && r.Varint(&gap)) {
    block += gap;
    blocks->push_back(static_cast<uint32_t>(block));
  }
}

// ---------------------------------------------------------------------------------------------
// Files, compression

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::string ErrnoMessage(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Internal(ErrnoMessage("open", dir));
  if (::fsync(fd.get()) != 0) return Internal(ErrnoMessage("fsync", dir));
  return Status::Ok();
}

Status WriteFileDurably(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return Internal(ErrnoMessage("create", tmp));
    FileWriter w(fd.get(), tmp);
    Status st = w.Write(data);
    if (st.ok()) st = w.Flush();
    if (st.ok() && ::fsync(fd.get()) != 0) st = Internal(ErrnoMessage("fsync", tmp));
    if (!st.ok()) {
      ::unlink(tmp.c_str());
      return st;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Internal(ErrnoMessage("rename", tmp));
    ::unlink(tmp.c_str());
    return st;
  }
  const size_t slash = path.rfind('/');
  return FsyncDir(slash == std::string::npos ? "." : path.substr(0, slash));
}

Compressor::Compressor() : cctx_(ZSTD_createCCtx()) {
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
}
Compressor::~Compressor() { ZSTD_freeCCtx(cctx_); }

Status Compressor::MakeFrame(std::string_view in, std::string* out) {
  if (in.size() >= 64) {
    out->resize(ZSTD_compressBound(in.size()));
    size_t n = ZSTD_compress2(cctx_, out->data(), out->size(), in.data(), in.size());
    if (ZSTD_isError(n)) return Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
    if (n * 100 <= in.size() * 85) {
      out->resize(n);
      return Status::Ok();
    }
  }
  out->assign(in);
  const uint32_t crc = Crc32cFast(in.data(), in.size());
  out->append(reinterpret_cast<const char*>(&crc), 4);
  return Status::Ok();
}

namespace {

__attribute__((target("sse4.2"))) uint32_t Crc32cHw(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t crc = 0xffffffffu;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    crc = __builtin_ia32_crc32di(crc, v);
  }
  uint32_t c = static_cast<uint32_t>(crc);
  for (; n > 0; --n, ++p) c = __builtin_ia32_crc32qi(c, *p);
  return ~c;
}

}  // namespace

uint32_t Crc32cFast(const void* data, size_t n) {
  static const bool kHw = __builtin_cpu_supports("sse4.2");
  return kHw ? Crc32cHw(data, n) : Crc32c(std::string_view(static_cast<const char*>(data), n));
}

Decompressor::Decompressor() : dctx_(ZSTD_createDCtx()) {}
Decompressor::~Decompressor() { ZSTD_freeDCtx(dctx_); }

Status Decompressor::ReadFrame(int fd, const FrameRef& ref, std::vector<uint64_t>* out) {
  // Grow only: the buffer is reused across blocks and zero-filling it would cost a pass.
  if (out->size() * 8 < size_t{ref.raw} + 4) out->resize(Align8(size_t{ref.raw} + 4) / 8);
  if (size_t{ref.stored} == size_t{ref.raw} + 4) {  // stored frame: bytes + CRC-32C
    WARD_RETURN_IF_ERROR(PReadAll(fd, out->data(), ref.stored, ref.offset, "segment"));
    uint32_t crc;
    std::memcpy(&crc, reinterpret_cast<const char*>(out->data()) + ref.raw, 4);
    if (crc != Crc32cFast(out->data(), ref.raw)) return Internal("corrupt segment frame: checksum mismatch");
    return Status::Ok();
  }
  compressed_.resize(ref.stored);
  WARD_RETURN_IF_ERROR(PReadAll(fd, compressed_.data(), ref.stored, ref.offset, "segment"));
  size_t n = ZSTD_decompressDCtx(dctx_, out->data(), ref.raw, compressed_.data(), compressed_.size());
  if (ZSTD_isError(n)) return Internal(std::string("corrupt segment frame: ") + ZSTD_getErrorName(n));
  if (n != ref.raw) return Internal("corrupt segment frame: size mismatch");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Segments

Segment::~Segment() {
  if (obsolete_) ::unlink(path_.c_str());
}

Result<std::vector<std::shared_ptr<const Chunk>>> ReadSegmentChunks(const Segment& segment, const TableDef& table) {
  Fd fd(::open(segment.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Err(Internal(ErrnoMessage("open", segment.path())));
  Decompressor dec;
  DecodedBlock decoded;
  std::vector<std::shared_ptr<const Chunk>> chunks;
  for (size_t b = 0; b < segment.block_count(); ++b) {
    auto chunk = std::make_shared<Chunk>();
    chunk->rows = segment.block_rows(b);
    for (const ColumnDef& def : table.columns) {
      ColumnData col(def.type);
      col.Reserve(chunk->rows);
      const SegmentColumn* sc = segment.Column(def.name);
      if (sc != nullptr && sc->type == def.type) {
        Status st = dec.ReadFrame(fd.get(), sc->blocks[b], &decoded.buffer);
        if (st.ok()) st = ParseBlock(sc->blocks[b].raw, sc->type, chunk->rows, &decoded);
        if (!st.ok()) return Err(Internal(segment.path() + ": " + st.message()));
        col.AppendView(decoded.view);
      } else {
        for (size_t i = 0; i < chunk->rows; ++i) col.AppendNull();
      }
      chunk->columns.push_back(std::move(col));
    }
    if (table.timestamp_column >= 0) {
      const ColumnData& ts = chunk->columns[table.timestamp_column];
      for (size_t i = 0; i < chunk->rows; ++i) {
        if (ts.nulls[i]) continue;
        chunk->min_ts = std::min(chunk->min_ts, ts.ints[i]);
        chunk->max_ts = std::max(chunk->max_ts, ts.ints[i]);
      }
    }
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

const SegmentColumn* Segment::Column(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &columns_[it->second];
}

Result<std::shared_ptr<const TermIndex>> Segment::TermIndexOf(const SegmentColumn& col, int fd, Decompressor& dec) const {
  {
    std::lock_guard lock(term_mu_);
    auto it = term_cache_.find(&col);
    if (it != term_cache_.end()) return it->second;
  }
  std::vector<uint64_t> buffer;
  Status st = dec.ReadFrame(fd, col.term_index, &buffer);
  if (!st.ok()) return Err(Internal(path_ + ": " + st.message()));
  WARD_ASSIGN_OR_RETURN(auto index, TermIndex::Parse(std::move(buffer), col.term_index.raw));
  std::lock_guard lock(term_mu_);
  return term_cache_.try_emplace(&col, std::move(index)).first->second;
}

Result<std::shared_ptr<Segment>> Segment::Load(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Err(Internal(ErrnoMessage("open", path)));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Err(Internal(ErrnoMessage("stat", path)));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderBytes + kTrailerBytes) return Err(Corrupt(path, "too short"));
  char header[kHeaderBytes], trailer[kTrailerBytes];
  WARD_RETURN_IF_ERROR(PReadAll(fd.get(), header, kHeaderBytes, 0, path));
  WARD_RETURN_IF_ERROR(PReadAll(fd.get(), trailer, kTrailerBytes, size - kTrailerBytes, path));

  auto seg = std::make_shared<Segment>();
  seg->path_ = path;
  seg->file_bytes_ = size;
  ByteReader h(std::string_view(header, kHeaderBytes));
  std::string_view magic;
  uint32_t version, block_count, nominal_rows, reserved, crc;
  uint16_t table_id, column_count;
  h.Bytes(8, &magic);
  h.U32(&version), h.U16(&table_id), h.U16(&column_count), h.U64(&seg->checkpoint_), h.U64(&seg->rows_);
  h.I64(&seg->min_ts_), h.I64(&seg->max_ts_), h.U32(&block_count), h.U32(&nominal_rows), h.U32(&reserved), h.U32(&crc);
  if (magic != std::string_view(kSegmentMagic, 8)) return Err(Corrupt(path, "bad magic"));
  if (crc != Crc32c(std::string_view(header, kHeaderBytes - 4))) return Err(Corrupt(path, "header checksum mismatch"));
  if (version != kFormatVersion) return Err(Corrupt(path, "unsupported version " + std::to_string(version)));

  ByteReader t(std::string_view(trailer, kTrailerBytes));
  FrameRef footer;
  uint32_t t_reserved, t_crc;
  std::string_view end_magic;
  t.U64(&footer.offset), t.U32(&footer.stored), t.U32(&footer.raw), t.U32(&t_reserved), t.U32(&t_crc), t.Bytes(8, &end_magic);
  if (end_magic != std::string_view(kSegmentEndMagic, 8)) return Err(Corrupt(path, "bad trailer magic (torn write?)"));
  if (t_crc != Crc32c(std::string_view(trailer, 20))) return Err(Corrupt(path, "trailer checksum mismatch"));
  const uint64_t data_end = size - kTrailerBytes;
  if (footer.offset < kHeaderBytes || footer.offset > data_end || footer.stored != data_end - footer.offset || footer.raw > kMaxFrameRaw) {
    return Err(Corrupt(path, "bad footer location"));
  }
  Decompressor dec;
  std::vector<uint64_t> buffer;
  Status read = dec.ReadFrame(fd.get(), footer, &buffer);
  if (!read.ok()) return Err(Corrupt(path, read.message()));
  ByteReader r(std::string_view(reinterpret_cast<const char*>(buffer.data()), footer.raw));
  uint32_t blocks, columns;
  if (!r.U32(&blocks) || blocks != block_count || blocks > r.remaining() / 4) return Err(Corrupt(path, "bad block count"));
  seg->block_rows_.resize(blocks);
  uint64_t total = 0;
  for (uint32_t& n : seg->block_rows_) {
    r.U32(&n);
    total += n;
  }
  if (total != seg->rows_) return Err(Corrupt(path, "block rows do not add up"));
  if (!r.U32(&columns) || columns != column_count) return Err(Corrupt(path, "bad column count"));
  seg->columns_.resize(columns);
  for (SegmentColumn& c : seg->columns_) {
    std::string_view name;
    uint8_t type, flags;
    if (!r.Str(&name) || !r.U8(&type) || !r.U8(&flags) || type > static_cast<uint8_t>(ColumnType::kReal)) return Err(Corrupt(path, "bad column"));
    c.name = name;
    c.type = static_cast<ColumnType>(type);
    c.has_term_index = flags & 1;
    if (c.has_term_index && !ReadFrameRef(r, &c.term_index, footer.offset)) return Err(Corrupt(path, "bad term index location"));
    if (blocks > r.remaining() / 20) return Err(Corrupt(path, "short column directory"));
    c.blocks.resize(blocks);
    c.zones.resize(blocks);
    for (uint32_t b = 0; b < blocks; ++b) {
      c.zones[b].rows = seg->block_rows_[b];
      if (!ReadFrameRef(r, &c.blocks[b], footer.offset) || !ReadZone(r, &c.zones[b], c.type)) return Err(Corrupt(path, "bad block entry"));
      c.total.Merge(c.zones[b], c.type);
    }
  }
  uint32_t replaced;
  if (!r.U32(&replaced) || replaced > r.remaining() / 8) return Err(Corrupt(path, "bad replaced-segment list"));
  seg->replaces_.resize(replaced);
  for (uint64_t& id : seg->replaces_) r.U64(&id);
  if (r.remaining() != 0) return Err(Corrupt(path, "trailing footer bytes"));
  for (size_t i = 0; i < seg->columns_.size(); ++i) seg->by_name_.emplace(seg->columns_[i].name, i);
  return seg;
}

Result<std::shared_ptr<Segment>> WriteSegment(const std::string& dir, const std::string& name, const TableDef& table,
                                              const std::vector<std::shared_ptr<const Chunk>>& chunks, const SegmentWriteOptions& options) {
  // Row order: by Timestamp (nulls first), stable, so blocks get tight time zone maps.
  struct RowRef {
    int64_t ts;
    uint32_t chunk, row;
  };
  std::vector<RowRef> order;
  size_t total_rows = 0;
  for (const auto& c : chunks) total_rows += c->rows;
  order.reserve(total_rows);
  const int ts_col = table.timestamp_column;
  int64_t min_ts = 0, max_ts = 0;
  bool any_ts = false;
  for (uint32_t ci = 0; ci < chunks.size(); ++ci) {
    const Chunk& c = *chunks[ci];
    for (uint32_t r = 0; r < c.rows; ++r) {
      int64_t ts = std::numeric_limits<int64_t>::min();
      if (ts_col >= 0 && !c.columns[ts_col].nulls[r]) {
        ts = c.columns[ts_col].ints[r];
        if (!any_ts) min_ts = max_ts = ts, any_ts = true;
        min_ts = std::min(min_ts, ts);
        max_ts = std::max(max_ts, ts);
      }
      order.push_back({ts, ci, r});
    }
  }
  std::stable_sort(order.begin(), order.end(), [](const RowRef& a, const RowRef& b) { return a.ts < b.ts; });

  // Block boundaries: block_rows rows, or fewer when the strings would overflow u32 offsets.
  std::vector<uint32_t> block_sizes;
  {
    size_t start = 0;
    while (start < order.size()) {
      size_t end = start;
      uint64_t bytes = 0;
      while (end < order.size() && end - start < options.block_rows) {
        const Chunk& c = *chunks[order[end].chunk];
        uint64_t row_bytes = 0;
        for (const ColumnData& col : c.columns) {
          if (IsStringType(col.type)) row_bytes += col.offsets[order[end].row + 1] - col.offsets[order[end].row];
        }
        if (end > start && bytes + row_bytes > kMaxBlockStringBytes) break;
        bytes += row_bytes;
        ++end;
      }
      block_sizes.push_back(static_cast<uint32_t>(end - start));
      start = end;
    }
  }

  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Err(Internal(ErrnoMessage("create", tmp)));
  auto fail = [&](Status st) {
    ::unlink(tmp.c_str());
    return Err(std::move(st));
  };
  FileWriter out(fd.get(), tmp);
  Compressor comp;
  std::string payload, frame;
  auto write_frame = [&](std::string_view raw, FrameRef* ref) -> Status {
    WARD_RETURN_IF_ERROR(comp.MakeFrame(raw, &frame));
    ref->offset = out.offset();
    ref->stored = static_cast<uint32_t>(frame.size());
    ref->raw = static_cast<uint32_t>(raw.size());
    return out.Write(frame);
  };
  if (Status st = out.Write(std::string(kHeaderBytes, '\0')); !st.ok()) return fail(st);

  // Column-major: all blocks of a column are contiguous, so a scan of few columns reads little.
  std::vector<SegmentColumn> cols(table.columns.size());
  for (size_t c = 0; c < table.columns.size(); ++c) {
    SegmentColumn& sc = cols[c];
    sc.name = table.columns[c].name;
    sc.type = table.columns[c].type;
    sc.has_term_index = IsStringType(sc.type) && IsTermIndexedColumn(sc.name);
    TermIndexBuilder terms;
    size_t pos = 0;
    for (uint32_t b = 0; b < block_sizes.size(); ++b) {
      ColumnData block(sc.type);
      block.Reserve(block_sizes[b]);
      // Rows mostly arrive in time order: copy runs of consecutive rows of a chunk at once.
      for (size_t end = pos + block_sizes[b]; pos < end;) {
        size_t run = pos + 1;
        while (run < end && order[run].chunk == order[pos].chunk && order[run].row == order[run - 1].row + 1) ++run;
        const ColumnData& src = chunks[order[pos].chunk]->columns[c];
        if (run - pos == 1) block.AppendOne(src, order[pos].row);
        else block.AppendRange(src, order[pos].row, order[pos].row + (run - pos));
        pos = run;
      }
      Zone zone;
      EncodeBlock(block, &payload, &zone, sc.has_term_index ? &terms : nullptr, b);
      FrameRef ref;
      if (Status st = write_frame(payload, &ref); !st.ok()) return fail(st);
      sc.blocks.push_back(ref);
      sc.zones.push_back(std::move(zone));
    }
    if (sc.has_term_index) {
      if (Status st = write_frame(terms.Serialize(), &sc.term_index); !st.ok()) return fail(st);
    }
  }

  std::string footer_raw;
  ByteWriter fw(&footer_raw);
  fw.U32(static_cast<uint32_t>(block_sizes.size()));
  for (uint32_t n : block_sizes) fw.U32(n);
  fw.U32(static_cast<uint32_t>(cols.size()));
  for (const SegmentColumn& sc : cols) {
    fw.Str(sc.name);
    fw.U8(static_cast<uint8_t>(sc.type));
    fw.U8(sc.has_term_index ? 1 : 0);
    if (sc.has_term_index) WriteFrameRef(fw, sc.term_index);
    for (size_t b = 0; b < sc.blocks.size(); ++b) {
      WriteFrameRef(fw, sc.blocks[b]);
      WriteZone(fw, sc.zones[b], sc.type);
    }
  }
  fw.U32(static_cast<uint32_t>(options.replaces.size()));
  for (uint64_t id : options.replaces) fw.U64(id);
  FrameRef footer;
  if (Status st = write_frame(footer_raw, &footer); !st.ok()) return fail(st);
  std::string trailer;
  ByteWriter tw(&trailer);
  tw.U64(footer.offset);
  tw.U32(footer.stored);
  tw.U32(footer.raw);
  tw.U32(0);
  tw.U32(Crc32c(trailer));
  tw.Bytes(std::string_view(kSegmentEndMagic, 8));
  if (Status st = out.Write(trailer); !st.ok()) return fail(st);
  if (Status st = out.Flush(); !st.ok()) return fail(st);

  std::string header;
  ByteWriter hw(&header);
  hw.Bytes(std::string_view(kSegmentMagic, 8));
  hw.U32(kFormatVersion);
  hw.U16(table.id);
  hw.U16(static_cast<uint16_t>(cols.size()));
  hw.U64(options.checkpoint);
  hw.U64(total_rows);
  hw.I64(min_ts);
  hw.I64(max_ts);
  hw.U32(static_cast<uint32_t>(block_sizes.size()));
  hw.U32(static_cast<uint32_t>(options.block_rows));
  hw.U32(0);
  hw.U32(Crc32c(header));
  if (::pwrite(fd.get(), header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) return fail(Internal(ErrnoMessage("write", tmp)));
  if (::fsync(fd.get()) != 0) return fail(Internal(ErrnoMessage("fsync", tmp)));
  fd = Fd();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(Internal(ErrnoMessage("rename", tmp)));
  WARD_RETURN_IF_ERROR(FsyncDir(dir));
  return Segment::Load(path);
}

// ---------------------------------------------------------------------------------------------
// store.meta, days

Result<StoreMeta> ReadStoreMeta(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Err(NotFound(path));
    return Err(Internal(ErrnoMessage("open", path)));
  }
  char buf[64];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n != 36) return Err(Internal("corrupt " + path + ": wrong size"));
  ByteReader r(std::string_view(buf, 36));
  std::string_view magic;
  uint32_t version, reserved, crc;
  StoreMeta meta;
  r.Bytes(8, &magic), r.U32(&version), r.U32(&reserved), r.U64(&meta.checkpoint), r.U64(&meta.durable_log_offset), r.U32(&crc);
  if (magic != std::string_view(kMetaMagic, 8) || crc != Crc32c(std::string_view(buf, 32))) return Err(Internal("corrupt " + path));
  if (version != kFormatVersion) return Err(Internal(path + ": unsupported version"));
  return meta;
}

Status WriteStoreMeta(const std::string& path, const StoreMeta& meta) {
  std::string buf;
  ByteWriter w(&buf);
  w.Bytes(std::string_view(kMetaMagic, 8));
  w.U32(kFormatVersion);
  w.U32(0);
  w.U64(meta.checkpoint);
  w.U64(meta.durable_log_offset);
  w.U32(Crc32c(buf));
  return WriteFileDurably(path, buf);
}

namespace {
// Days from 1970-01-01 of 0000-01-01 and 9999-12-31 (proleptic Gregorian).
constexpr int64_t kMinDay = -719528;
constexpr int64_t kMaxDay = 2932896;
}  // namespace

int64_t DayOf(int64_t ticks) {
  int64_t day = ticks / kTicksPerDay;
  if (ticks % kTicksPerDay < 0) --day;
  return std::clamp(day, kMinDay, kMaxDay);
}

bool ValidTenant(std::string_view t) {
  if (t.empty() || t.size() > 128 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

std::string DayName(int64_t day) { return FormatIsoTicks(day * kTicksPerDay).substr(0, 10); }

std::optional<int64_t> ParseDayName(std::string_view name) {
  if (name.size() != 10 || name[4] != '-' || name[7] != '-') return std::nullopt;
  auto ticks = ParseIsoTicks(name);
  if (!ticks || *ticks % kTicksPerDay != 0) return std::nullopt;
  int64_t day = *ticks / kTicksPerDay;
  if (day < kMinDay || day > kMaxDay || DayName(day) != name) return std::nullopt;
  return day;
}

}  // namespace ward::events::columnar
