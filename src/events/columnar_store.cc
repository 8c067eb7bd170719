#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <shared_mutex>
#include <thread>

#include "common/log.h"
#include "events/columnar_eval.h"
#include "events/columnar_format.h"
#include "events/event_store.h"

namespace ward::events {

using namespace columnar;  // NOLINT: internal building blocks of this file

namespace {

namespace fs = std::filesystem;

// A chunk is cut at this many string bytes, and tail chunks are only merged below it, so the u32
// offsets inside chunks never overflow.
constexpr size_t kMaxChunkStringBytes = 256u << 20;
// Tail chunks merge only up to this many rows: enough to keep per-chunk overhead small for tiny
// appends, without re-copying the rows of ordinary batches (hundreds of rows) again and again.
constexpr size_t kMergeChunkRows = 1024;

struct PartitionKey {
  std::string tenant;
  uint16_t table = 0;
  int64_t day = 0;
  auto operator<=>(const PartitionKey&) const = default;
};

struct Partition {
  std::string dir;  // <root>/<tenant>/<table>/<YYYY-MM-DD>
  const TableDef* table = nullptr;
  bool dir_exists = false;  // touched by the checkpoint only (under seal_mu)
  // Guarded by Impl::mu.
  std::vector<std::shared_ptr<const Segment>> segments;  // ascending checkpoint
  std::vector<std::shared_ptr<const Chunk>> sealing;     // being written; still scanned
  std::vector<std::shared_ptr<const Chunk>> tail;        // unsealed, oldest first
  size_t tail_rows = 0;
};

// Tenant ids become directory names: refuse anything that could escape or collide.
std::string SegmentName(uint64_t checkpoint) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "seg-%012llu.col", static_cast<unsigned long long>(checkpoint));
  return buf;
}

std::optional<uint64_t> ParseSegmentName(std::string_view name) {
  if (!name.starts_with("seg-") || !name.ends_with(".col") || name.size() <= 8) return std::nullopt;
  std::string_view digits = name.substr(4, name.size() - 8);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  return v;
}

size_t ChunkStringBytes(const Chunk& c) {
  size_t n = 0;
  for (const ColumnData& col : c.columns) n += col.bytes.size();
  return n;
}

std::shared_ptr<Chunk> MergeChunks(const Chunk& a, const Chunk& b) {
  auto m = std::make_shared<Chunk>();
  m->rows = a.rows + b.rows;
  m->note_seq = std::max(a.note_seq, b.note_seq);
  m->min_ts = std::min(a.min_ts, b.min_ts);
  m->max_ts = std::max(a.max_ts, b.max_ts);
  m->columns.reserve(a.columns.size());
  for (size_t c = 0; c < a.columns.size(); ++c) {
    ColumnData col(a.columns[c].type);
    col.Reserve(m->rows);
    col.bytes.reserve(a.columns[c].bytes.size() + b.columns[c].bytes.size());
    col.AppendRange(a.columns[c], 0, a.rows);
    col.AppendRange(b.columns[c], 0, b.rows);
    m->columns.push_back(std::move(col));
  }
  return m;
}

// Appends rows of `v` to `out`: those listed in idx, or the range [begin, begin+n) when idx is null.
// Fixed-width data is written through resized buffers, not per-row push_back.
void AppendValues(ColumnVector& out, const ColumnView& v, const uint32_t* idx, size_t begin, size_t n) {
  const size_t old = out.nulls.size();
  out.nulls.resize(old + n);  // zero-filled: not null
  uint8_t* nulls = out.nulls.data() + old;
  if (v.all_null) {
    std::memset(nulls, 1, n);
    if (IsIntType(out.type)) out.ints.resize(old + n);
    else if (out.type == ColumnType::kReal) out.reals.resize(old + n);
    else out.strings.resize(old + n);
    return;
  }
  if (v.nulls != nullptr) {
    if (idx == nullptr) std::memcpy(nulls, v.nulls + begin, n);
    else for (size_t k = 0; k < n; ++k) nulls[k] = v.nulls[idx[k]];
  }
  auto gather = [&](auto* dst, const auto* src) {
    if (idx == nullptr) std::memcpy(dst, src + begin, n * sizeof(*dst));
    else for (size_t k = 0; k < n; ++k) dst[k] = src[idx[k]];
  };
  if (IsIntType(out.type)) {
    out.ints.resize(old + n);
    gather(out.ints.data() + old, v.ints);
  } else if (out.type == ColumnType::kReal) {
    out.reals.resize(old + n);
    gather(out.reals.data() + old, v.reals);
  } else {
    out.strings.reserve(old + n);
    for (size_t k = 0; k < n; ++k) {
      const size_t r = idx ? idx[k] : begin + k;
      if (v.IsNull(r)) out.strings.emplace_back();
      else out.strings.emplace_back(v.Str(r));
    }
  }
}

}  // namespace

struct ColumnarStore::Impl {
  ColumnarStoreOptions options;
  const SchemaRegistry* registry = nullptr;

  // Partition map, partition contents, log-offset notes and the unsealed-age clock.
  mutable std::shared_mutex mu;
  std::map<PartitionKey, std::shared_ptr<Partition>> partitions;
  uint64_t note_seq = 0;
  uint64_t noted = 0;
  bool tracking = false;  // NoteLogOffset has been called
  bool has_unsealed = false;
  std::chrono::steady_clock::time_point unsealed_since;

  // One checkpoint or retention pass at a time.
  std::mutex seal_mu;
  uint64_t checkpoint = 0;  // last committed (guarded by seal_mu)
  std::vector<std::string> stale;  // uncommitted files found at open (guarded by seal_mu)
  std::atomic<uint64_t> durable{0};

  std::string MetaPath() const { return options.dir + "/store.meta"; }

  std::shared_ptr<Partition> GetOrCreateLocked(const PartitionKey& key) {
    auto& slot = partitions[key];
    if (!slot) {
      slot = std::make_shared<Partition>();
      slot->table = &registry->table(key.table);
      slot->dir = options.dir + "/" + key.tenant + "/" + slot->table->name + "/" + DayName(key.day);
    }
    return slot;
  }

  // Adds a chunk to a tail; neighbours of the same sealability merge like a binary counter, so a
  // tail fed by small appends holds O(log) small chunks instead of thousands.
  void AddChunkLocked(Partition& p, std::shared_ptr<const Chunk> chunk) {
    p.tail_rows += chunk->rows;
    p.tail.push_back(std::move(chunk));
    while (p.tail.size() >= 2) {
      const Chunk& a = *p.tail[p.tail.size() - 2];
      const Chunk& b = *p.tail.back();
      const bool same_class = (a.note_seq < note_seq) == (b.note_seq < note_seq);
      if (!same_class || a.rows > b.rows || a.rows + b.rows > std::min(kMergeChunkRows, options.block_rows) ||
          ChunkStringBytes(a) + ChunkStringBytes(b) > kMaxChunkStringBytes) {
        break;
      }
      auto merged = MergeChunks(a, b);
      p.tail.pop_back();
      p.tail.back() = std::move(merged);
    }
  }

  Status Checkpoint(bool wait);
  Status OpenExisting();
};

// ---------------------------------------------------------------------------------------------
// Open

Result<std::unique_ptr<ColumnarStore>> ColumnarStore::Open(ColumnarStoreOptions options, const SchemaRegistry& registry) {
  if (options.dir.empty()) return Err(InvalidArgument("columnar store: empty directory"));
  if (options.block_rows == 0) options.block_rows = 8192;
  if (options.seal_rows == 0) options.seal_rows = 1;
  std::unique_ptr<ColumnarStore> store(new ColumnarStore());
  store->impl_ = std::make_unique<Impl>();
  store->impl_->options = std::move(options);
  store->impl_->registry = &registry;
  WARD_RETURN_IF_ERROR(store->impl_->OpenExisting());
  return store;
}

Status ColumnarStore::Impl::OpenExisting() {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Internal("create " + options.dir + ": " + ec.message());
  StoreMeta meta;
  if (auto m = ReadStoreMeta(MetaPath()); m) meta = *m;
  else if (m.error().code() != StatusCode::kNotFound) return m.error();
  checkpoint = meta.checkpoint;
  durable = meta.durable_log_offset;
  noted = meta.durable_log_offset;

  auto subdirs = [](const fs::path& dir, std::vector<fs::path>* out) -> Status {
    std::error_code e;
    for (fs::directory_iterator it(dir, e), end; !e && it != end; it.increment(e)) {
      if (it->is_directory(e)) out->push_back(it->path());
    }
    // A directory removed meanwhile (retention in a server sharing the store) just lists nothing.
    if (e && e != std::errc::no_such_file_or_directory) return Internal("list " + dir.string() + ": " + e.message());
    std::sort(out->begin(), out->end());
    return Status::Ok();
  };
  std::vector<fs::path> tenants;
  WARD_RETURN_IF_ERROR(subdirs(options.dir, &tenants));
  for (const fs::path& tenant_dir : tenants) {
    const std::string tenant = tenant_dir.filename().string();
    if (!ValidTenant(tenant)) continue;
    std::vector<fs::path> tables;
    WARD_RETURN_IF_ERROR(subdirs(tenant_dir, &tables));
    for (const fs::path& table_dir : tables) {
      const TableDef* table = registry->Find(table_dir.filename().string());
      if (table == nullptr) {
        log::Warn("columnar store: ignoring directory of unknown table", {{"path", table_dir.string()}});
        continue;
      }
      std::vector<fs::path> days;
      WARD_RETURN_IF_ERROR(subdirs(table_dir, &days));
      for (const fs::path& day_dir : days) {
        auto day = ParseDayName(day_dir.filename().string());
        if (!day) continue;
        std::vector<std::pair<uint64_t, std::string>> files;
        for (fs::directory_iterator it(day_dir, ec), end; !ec && it != end; it.increment(ec)) {
          const std::string name = it->path().filename().string();
          // Leftovers of a checkpoint that died before committing: temp files, and segments newer
          // than the committed checkpoint. Not loaded; deleted by the first checkpoint of this
          // process (Open itself writes nothing: `ward admin events` opens the store of a running
          // server, whose in-flight checkpoint looks just like this).
          if (name.ends_with(".tmp")) {
            stale.push_back(it->path().string());
            continue;
          }
          auto seq = ParseSegmentName(name);
          if (!seq) continue;
          if (*seq > checkpoint) {
            stale.push_back(it->path().string());
            continue;
          }
          files.emplace_back(*seq, it->path().string());
        }
        if (ec && ec != std::errc::no_such_file_or_directory) return Internal("list " + day_dir.string() + ": " + ec.message());
        ec.clear();
        std::sort(files.begin(), files.end());
        auto p = GetOrCreateLocked(PartitionKey{tenant, table->id, *day});
        p->dir_exists = true;
        for (const auto& [seq, path] : files) {
          auto seg = Segment::Load(path);
          if (!seg) {
            if (!fs::exists(path, ec)) continue;  // dropped by a concurrent writer's retention
            return seg.error();
          }
          p->segments.push_back(std::move(*seg));
        }
        // A committed merge whose inputs were not yet deleted: the inputs are superseded.
        std::vector<uint64_t> replaced;
        for (const auto& seg : p->segments) replaced.insert(replaced.end(), seg->replaces().begin(), seg->replaces().end());
        std::erase_if(p->segments, [&](const std::shared_ptr<const Segment>& seg) {
          if (std::find(replaced.begin(), replaced.end(), seg->checkpoint()) == replaced.end()) return false;
          stale.push_back(seg->path());
          return true;
        });
      }
    }
  }
  return Status::Ok();
}

ColumnarStore::~ColumnarStore() = default;

// ---------------------------------------------------------------------------------------------
// Append, checkpoints

Status ColumnarStore::Append(const RowBatch& batch) {
  Impl& s = *impl_;
  if (!ValidTenant(batch.tenant_id)) return InvalidArgument("invalid tenant id");
  const auto& tables = s.registry->tables();
  // Group rows by partition, keeping their order.
  std::map<std::pair<uint16_t, int64_t>, std::vector<const Row*>> groups;
  for (const Row& row : batch.rows) {
    if (row.table >= tables.size()) return InvalidArgument("unknown table id " + std::to_string(row.table));
    const TableDef& t = tables[row.table];
    if (row.values.size() != t.columns.size()) return InvalidArgument("row of " + t.name + " has the wrong number of values");
    int64_t ts = batch.received_ticks;
    if (t.timestamp_column >= 0) {
      if (const int64_t* v = std::get_if<int64_t>(&row.values[t.timestamp_column])) ts = *v;
    }
    groups[{row.table, DayOf(ts)}].push_back(&row);
  }
  // Build the chunks outside the lock.
  struct Built {
    PartitionKey key;
    std::vector<std::shared_ptr<Chunk>> chunks;
  };
  std::vector<Built> built;
  for (const auto& [gk, rows] : groups) {
    const TableDef& t = tables[gk.first];
    Built b{PartitionKey{batch.tenant_id, gk.first, gk.second}, {}};
    std::shared_ptr<Chunk> chunk;
    size_t chunk_bytes = 0;
    for (const Row* row : rows) {
      if (!chunk || chunk->rows >= s.options.block_rows || chunk_bytes >= kMaxChunkStringBytes) {
        chunk = std::make_shared<Chunk>();
        chunk_bytes = 0;
        for (const ColumnDef& c : t.columns) chunk->columns.emplace_back(c.type);
        for (ColumnData& c : chunk->columns) c.Reserve(std::min(rows.size(), s.options.block_rows));
        b.chunks.push_back(chunk);
      }
      for (size_t c = 0; c < t.columns.size(); ++c) {
        if (!chunk->columns[c].Append(row->values[c])) {
          return InvalidArgument("value of the wrong kind for " + t.name + "." + t.columns[c].name);
        }
        if (const std::string* str = std::get_if<std::string>(&row->values[c])) chunk_bytes += str->size();
      }
      if (t.timestamp_column >= 0) {
        if (const int64_t* v = std::get_if<int64_t>(&row->values[t.timestamp_column])) {
          chunk->min_ts = std::min(chunk->min_ts, *v);
          chunk->max_ts = std::max(chunk->max_ts, *v);
        }
      }
      ++chunk->rows;
    }
    built.push_back(std::move(b));
  }

  bool seal = false;
  {
    std::unique_lock lock(s.mu);
    const auto now = std::chrono::steady_clock::now();
    for (Built& b : built) {
      auto p = s.GetOrCreateLocked(b.key);
      for (auto& chunk : b.chunks) {
        chunk->note_seq = s.note_seq;
        s.AddChunkLocked(*p, std::move(chunk));
      }
      seal |= p->tail_rows >= s.options.seal_rows;
    }
    if (!built.empty() && !s.has_unsealed) {
      s.has_unsealed = true;
      s.unsealed_since = now;
    }
    seal |= s.has_unsealed && now - s.unsealed_since >= s.options.seal_age;
  }
  // The rows are in: a failed checkpoint must not fail the Append (the caller would append them
  // again). The tails stay in memory and the next checkpoint retries. A busy checkpoint is not
  // waited for: the next Append re-checks.
  if (seal) {
    if (Status st = s.Checkpoint(/*wait=*/false); !st.ok()) log::Warn("columnar store: sealing deferred", {{"error", st.message()}});
  }
  return Status::Ok();
}

Status ColumnarStore::Flush() { return impl_->Checkpoint(/*wait=*/true); }

void ColumnarStore::NoteLogOffset(uint64_t next_offset) {
  std::unique_lock lock(impl_->mu);
  impl_->noted = next_offset;
  impl_->tracking = true;
  ++impl_->note_seq;
}

uint64_t ColumnarStore::durable_log_offset() const { return impl_->durable.load(); }

// Seals every tail chunk whose rows are covered by a NoteLogOffset (all chunks when offsets are not
// tracked) into one segment per partition, then commits them with store.meta. The checkpoint id
// names the segments; on open, segments newer than the committed checkpoint are ignored (and
// deleted by the next checkpoint), so the segments and the durable offset change together.
Status ColumnarStore::Impl::Checkpoint(bool wait) {
  std::unique_lock seal(seal_mu, std::defer_lock);
  if (wait) seal.lock();
  else if (!seal.try_lock()) return Status::Ok();

  struct Job {
    std::shared_ptr<Partition> partition;
    std::vector<std::shared_ptr<const Chunk>> chunks;
    std::vector<std::shared_ptr<const Segment>> merge;  // small segments rewritten with the chunks
    std::shared_ptr<Segment> segment;
  };
  std::vector<Job> jobs;
  uint64_t offset;
  {
    std::unique_lock lock(mu);
    bool remaining = false;
    for (auto& [key, p] : partitions) {
      if (p->tail.empty()) continue;
      // Noted chunks form a prefix of the tail (note_seq only grows).
      size_t n = 0;
      while (n < p->tail.size() && (!tracking || p->tail[n]->note_seq < note_seq)) ++n;
      if (n < p->tail.size()) remaining = true;
      if (n == 0) continue;
      Job job{p, {}, {}, nullptr};
      job.chunks.assign(p->tail.begin(), p->tail.begin() + n);
      p->tail.erase(p->tail.begin(), p->tail.begin() + n);
      size_t rows = 0;
      for (const auto& c : job.chunks) rows += c->rows;
      p->tail_rows -= rows;
      p->sealing = job.chunks;
      // Merge policy (a binary counter): newest segments no larger than what is being written, up to
      // seal_rows in all. Frequent small flushes then leave O(log) small segments per partition, and
      // each row is rewritten O(log(seal_rows / flush size)) times.
      for (size_t i = p->segments.size(); i-- > 0;) {
        const uint64_t seg_rows = p->segments[i]->rows();
        if (seg_rows > rows || rows + seg_rows > options.seal_rows) break;
        job.merge.push_back(p->segments[i]);
        rows += seg_rows;
      }
      jobs.push_back(std::move(job));
    }
    offset = tracking ? noted : durable.load();
    has_unsealed = remaining;
    unsealed_since = std::chrono::steady_clock::now();
  }
  if (jobs.empty() && offset == durable.load()) return Status::Ok();

  // Uncommitted leftovers would otherwise be mistaken for this checkpoint's output next time.
  for (const std::string& path : stale) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  stale.clear();
  const uint64_t cp = checkpoint + 1;
  auto rollback = [&](Status st) {
    std::error_code ec;
    for (Job& job : jobs) {
      if (job.segment) fs::remove(job.segment->path(), ec);
    }
    std::unique_lock lock(mu);
    for (Job& job : jobs) {
      Partition& p = *job.partition;
      p.tail.insert(p.tail.begin(), job.chunks.begin(), job.chunks.end());
      for (const auto& c : job.chunks) p.tail_rows += c->rows;
      p.sealing.clear();
    }
    has_unsealed = has_unsealed || !jobs.empty();
    log::Error("columnar store: checkpoint failed", {{"error", st.message()}});
    return st;
  };
  for (Job& job : jobs) {
    Partition& p = *job.partition;
    if (!p.dir_exists) {
      std::error_code ec;
      fs::create_directories(p.dir, ec);
      if (ec) return rollback(Internal("create " + p.dir + ": " + ec.message()));
      // Make the new directory entries durable too (day, table and tenant levels).
      fs::path d(p.dir);
      for (int i = 0; i < 3; ++i) {
        d = d.parent_path();
        if (Status st = FsyncDir(d.string()); !st.ok()) return rollback(st);
      }
      p.dir_exists = true;
    }
    SegmentWriteOptions wo{options.block_rows, cp, {}};
    std::vector<std::shared_ptr<const Chunk>> input;
    std::vector<std::shared_ptr<const Segment>> merged;
    for (const auto& old : job.merge) {
      auto rows = ReadSegmentChunks(*old, *p.table);
      if (!rows) {  // an unreadable segment stays as it is rather than blocking every checkpoint
        log::Warn("columnar store: segment not merged", {{"error", rows.error().message()}});
        continue;
      }
      input.insert(input.end(), rows->begin(), rows->end());
      wo.replaces.push_back(old->checkpoint());
      merged.push_back(old);
    }
    job.merge = std::move(merged);
    input.insert(input.end(), job.chunks.begin(), job.chunks.end());
    auto seg = WriteSegment(p.dir, SegmentName(cp), *p.table, input, wo);
    if (!seg) return rollback(seg.error());
    job.segment = std::move(*seg);
  }
  if (Status st = WriteStoreMeta(MetaPath(), StoreMeta{cp, offset}); !st.ok()) return rollback(st);
  {
    std::unique_lock lock(mu);
    for (Job& job : jobs) {
      auto& segs = job.partition->segments;
      for (const auto& old : job.merge) {
        old->MarkObsolete();  // the file goes when the last scan holding it finishes
        std::erase(segs, old);
      }
      segs.push_back(std::move(job.segment));
      job.partition->sealing.clear();
    }
  }
  checkpoint = cp;
  durable = offset;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Retention

Result<int> ColumnarStore::ApplyRetention(int64_t now_ticks) {
  Impl& s = *impl_;
  const int64_t retention_ticks = std::chrono::duration_cast<std::chrono::seconds>(s.options.retention).count() * kTicksPerSecond;
  const int64_t cutoff = now_ticks - retention_ticks;
  std::lock_guard seal(s.seal_mu);
  std::vector<std::shared_ptr<Partition>> dropped;
  {
    std::unique_lock lock(s.mu);
    for (auto it = s.partitions.begin(); it != s.partitions.end();) {
      // The whole day [day, day+1) must lie before the cutoff.
      if ((it->first.day + 1) * kTicksPerDay <= cutoff) {
        dropped.push_back(it->second);
        it = s.partitions.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Scans that still hold these segments read them through open descriptors or skip them.
  Status first_error;
  for (const auto& p : dropped) {
    std::error_code ec;
    fs::remove_all(p->dir, ec);
    if (ec && first_error.ok()) first_error = Internal("remove " + p->dir + ": " + ec.message());
    fs::path table_dir = fs::path(p->dir).parent_path();
    fs::remove(table_dir, ec);  // only succeeds when empty
    fs::remove(table_dir.parent_path(), ec);
  }
  if (!first_error.ok()) return Err(first_error);
  return static_cast<int>(dropped.size());
}

// ---------------------------------------------------------------------------------------------
// Scan

namespace {

class Scanner {
 public:
  Scanner(const TableDef& table, const ScanRequest& req, const std::function<bool(ColumnBatch&&)>& sink)
      : table_(table), req_(req), sink_(sink) {}

  Status Init() {
    if (req_.columns.empty()) {
      for (size_t i = 0; i < table_.columns.size(); ++i) out_cols_.push_back(static_cast<int>(i));
    } else {
      for (const std::string& name : req_.columns) {
        int c = table_.Find(name);
        if (c < 0) return InvalidArgument("unknown column '" + name + "' in table " + table_.name);
        out_cols_.push_back(c);
      }
    }
    for (const Predicate& p : req_.predicates) {
      WARD_ASSIGN_OR_RETURN(auto cp, CompilePredicate(table_, p));
      preds_.push_back(std::move(cp));
    }
    if (req_.from_ticks || req_.to_ticks) {
      if (table_.timestamp_column < 0) return InvalidArgument("table " + table_.name + " has no Timestamp column");
      const std::string& ts = table_.columns[table_.timestamp_column].name;
      if (req_.from_ticks) preds_.push_back(*CompilePredicate(table_, Predicate{ts, Predicate::Op::kGreaterEq, {*req_.from_ticks}}));
      if (req_.to_ticks) preds_.push_back(*CompilePredicate(table_, Predicate{ts, Predicate::Op::kLess, {*req_.to_ticks}}));
    }
    std::stable_sort(preds_.begin(), preds_.end(), [](const auto& a, const auto& b) { return a.cost < b.cost; });
    batch_rows_ = std::max<size_t>(1, req_.batch_rows);
    decoded_.resize(table_.columns.size());
    decoded_tag_.assign(table_.columns.size(), -1);
    NewBatch();
    return Status::Ok();
  }

  bool done() const { return stop_; }
  ScanStats& stats() { return stats_; }

  void CountSkippedSegments(const std::vector<std::shared_ptr<const Segment>>& segs) {
    for (const auto& seg : segs) {
      ++stats_.segments_total, ++stats_.segments_skipped;
      stats_.blocks_total += seg->block_count(), stats_.blocks_skipped += seg->block_count();
    }
  }

  Status ScanSegment(const Segment& seg) {
    ++stats_.segments_total;
    const size_t blocks = seg.block_count();
    stats_.blocks_total += blocks;
    auto skip_segment = [&] {
      ++stats_.segments_skipped;
      stats_.blocks_skipped += blocks;
      return Status::Ok();
    };
    // Column lookups; a column the segment lacks (older schema) or holds with another type reads
    // as null, which no predicate matches.
    std::vector<const SegmentColumn*> pcols(preds_.size());
    for (size_t i = 0; i < preds_.size(); ++i) {
      pcols[i] = seg.Column(preds_[i].column_name);
      if (pcols[i] != nullptr && pcols[i]->type != preds_[i].type) pcols[i] = nullptr;
      if (pcols[i] == nullptr || CheckZone(preds_[i], pcols[i]->total) == ZoneVerdict::kNone) return skip_segment();
    }
    Fd fd;
    bool gone = false;
    auto open = [&]() -> Status {
      if (fd.valid() || gone) return Status::Ok();
      fd = Fd(::open(seg.path().c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.valid()) return Status::Ok();
      if (errno == ENOENT) {  // dropped by retention after our snapshot
        gone = true;
        return Status::Ok();
      }
      return Internal(ErrnoMessage("open", seg.path()));
    };
    // Term index: blocks that can hold every required term of some operand.
    std::vector<uint8_t> candidate(blocks, 1);
    std::vector<uint8_t> allowed;
    std::vector<uint32_t> list, acc;
    for (size_t i = 0; i < preds_.size(); ++i) {
      const CompiledPredicate& p = preds_[i];
      if (!p.uses_term_index || !pcols[i]->has_term_index) continue;
      WARD_RETURN_IF_ERROR(open());
      if (gone) return Status::Ok();
      WARD_ASSIGN_OR_RETURN(auto index, seg.TermIndexOf(*pcols[i], fd.get(), dec_));
      allowed.assign(blocks, 0);
      for (const auto& terms : p.terms) {
        if (terms.empty()) {
          allowed.assign(blocks, 1);
          break;
        }
        for (size_t t = 0; t < terms.size(); ++t) {
          list.clear();
          index->Lookup(terms[t], &list);
          if (t == 0) {
            acc = list;
          } else {
            std::vector<uint32_t> both;
            std::set_intersection(acc.begin(), acc.end(), list.begin(), list.end(), std::back_inserter(both));
            acc.swap(both);
          }
          if (acc.empty()) break;
        }
        for (uint32_t b : acc) {
          if (b < blocks) allowed[b] = 1;
        }
      }
      for (size_t b = 0; b < blocks; ++b) candidate[b] &= allowed[b];
    }
    if (std::find(candidate.begin(), candidate.end(), 1) == candidate.end()) return skip_segment();

    std::vector<const SegmentColumn*> ocols(out_cols_.size());
    for (size_t k = 0; k < out_cols_.size(); ++k) {
      const ColumnDef& def = table_.columns[out_cols_[k]];
      ocols[k] = seg.Column(def.name);
      if (ocols[k] != nullptr && ocols[k]->type != def.type) ocols[k] = nullptr;
    }
    std::vector<const CompiledPredicate*> active;
    std::vector<const SegmentColumn*> active_cols;
    for (size_t b = 0; b < blocks && !stop_; ++b) {
      if (!candidate[b]) {
        ++stats_.blocks_skipped;
        continue;
      }
      active.clear();
      active_cols.clear();
      bool none = false;
      for (size_t i = 0; i < preds_.size() && !none; ++i) {
        ZoneVerdict v = CheckZone(preds_[i], pcols[i]->zones[b]);
        if (v == ZoneVerdict::kNone) none = true;
        else if (v == ZoneVerdict::kSome) active.push_back(&preds_[i]), active_cols.push_back(pcols[i]);
      }
      if (none) {
        ++stats_.blocks_skipped;
        continue;
      }
      WARD_RETURN_IF_ERROR(open());
      if (gone) return Status::Ok();
      const size_t rows = seg.block_rows(b);
      stats_.rows_scanned += rows;
      ++block_tag_;
      scratch_.NewBlock();
      sel_.assign(rows, 1);
      bool any = true;
      for (size_t i = 0; i < active.size() && any; ++i) {
        WARD_ASSIGN_OR_RETURN(const ColumnView* view, Decode(seg, *active_cols[i], active[i]->column, b, fd.get()));
        Evaluate(*active[i], *view, sel_.data(), scratch_);
        any = std::memchr(sel_.data(), 1, rows) != nullptr;
      }
      if (!any) continue;
      views_.resize(out_cols_.size());
      for (size_t k = 0; k < out_cols_.size(); ++k) {
        if (ocols[k] == nullptr) {
          views_[k] = NullView(table_.columns[out_cols_[k]].type, rows);
        } else {
          WARD_ASSIGN_OR_RETURN(const ColumnView* view, Decode(seg, *ocols[k], out_cols_[k], b, fd.get()));
          views_[k] = *view;
        }
      }
      Emit(rows);
    }
    return Status::Ok();
  }

  void ScanChunk(const Chunk& chunk) {
    if (chunk.rows == 0) return;
    // Only the time range prunes tail chunks; everything else is evaluated.
    if (table_.timestamp_column >= 0) {
      Zone z;
      z.rows = static_cast<uint32_t>(chunk.rows);
      z.null_count = static_cast<uint32_t>(chunk.columns[table_.timestamp_column].null_count);
      z.imin = chunk.min_ts, z.imax = chunk.max_ts;
      for (const CompiledPredicate& p : preds_) {
        if (p.column == table_.timestamp_column && CheckZone(p, z) == ZoneVerdict::kNone) return;
      }
    }
    stats_.rows_scanned += chunk.rows;
    scratch_.NewBlock();
    sel_.assign(chunk.rows, 1);
    for (const CompiledPredicate& p : preds_) {
      Evaluate(p, chunk.columns[p.column].View(), sel_.data(), scratch_);
      if (std::memchr(sel_.data(), 1, chunk.rows) == nullptr) return;
    }
    views_.resize(out_cols_.size());
    for (size_t k = 0; k < out_cols_.size(); ++k) views_[k] = chunk.columns[out_cols_[k]].View();
    Emit(chunk.rows);
  }

  void Finish() {
    if (!stop_ && batch_.rows > 0) FlushBatch();
  }

 private:
  static ColumnView NullView(ColumnType type, size_t rows) {
    ColumnView v;
    v.type = type;
    v.rows = rows;
    v.all_null = true;
    return v;
  }

  Result<const ColumnView*> Decode(const Segment& seg, const SegmentColumn& col, int column, size_t b, int fd) {
    DecodedBlock& d = decoded_[column];
    if (decoded_tag_[column] == block_tag_) return &d.view;
    Status st = dec_.ReadFrame(fd, col.blocks[b], &d.buffer);
    if (st.ok()) st = ParseBlock(col.blocks[b].raw, col.type, seg.block_rows(b), &d);
    if (!st.ok()) return Err(Internal(seg.path() + " column " + col.name + " block " + std::to_string(b) + ": " + st.message()));
    decoded_tag_[column] = block_tag_;
    return &d.view;
  }

  void NewBatch() {
    batch_ = ColumnBatch{};
    const size_t expect = std::min<size_t>(batch_rows_, 8192);
    for (int c : out_cols_) {
      batch_.names.push_back(table_.columns[c].name);
      ColumnVector v;
      v.type = table_.columns[c].type;
      v.nulls.reserve(expect);
      if (IsIntType(v.type)) v.ints.reserve(expect);
      else if (v.type == ColumnType::kReal) v.reals.reserve(expect);
      else v.strings.reserve(expect);
      batch_.columns.push_back(std::move(v));
    }
  }

  void FlushBatch() {
    if (!sink_(std::move(batch_))) stop_ = true;
    NewBatch();
  }

  // Appends the selected rows of views_ (sel_ over `rows`) to batches, honouring batch size and limit.
  void Emit(size_t rows) {
    // Branch-free compaction of the selection into row numbers.
    idx_.resize(rows);
    uint32_t* idx = idx_.data();
    size_t count = 0;
    for (size_t i = 0; i < rows; ++i) {
      idx[count] = static_cast<uint32_t>(i);
      count += sel_[i];
    }
    if (count == 0) return;
    const bool all = count == rows;
    size_t pos = 0;
    while (pos < count && !stop_) {
      size_t take = std::min(count - pos, batch_rows_ - batch_.rows);
      if (req_.limit) take = std::min<size_t>(take, *req_.limit - stats_.rows_returned);
      for (size_t k = 0; k < views_.size(); ++k) AppendValues(batch_.columns[k], views_[k], all ? nullptr : idx_.data() + pos, pos, take);
      batch_.rows += take;
      stats_.rows_returned += take;
      pos += take;
      const bool limit_hit = req_.limit && stats_.rows_returned >= *req_.limit;
      if (batch_.rows >= batch_rows_ || limit_hit) FlushBatch();
      if (limit_hit) stop_ = true;
    }
  }

  const TableDef& table_;
  const ScanRequest& req_;
  const std::function<bool(ColumnBatch&&)>& sink_;
  std::vector<int> out_cols_;
  std::vector<CompiledPredicate> preds_;
  size_t batch_rows_ = 8192;
  ColumnBatch batch_;
  ScanStats stats_;
  bool stop_ = false;
  Decompressor dec_;
  EvalScratch scratch_;
  std::vector<DecodedBlock> decoded_;  // per table column, reused across blocks
  std::vector<int64_t> decoded_tag_;
  int64_t block_tag_ = 0;
  std::vector<uint8_t> sel_;
  std::vector<uint32_t> idx_;
  std::vector<ColumnView> views_;
};

struct ScanUnit {
  const Segment* segment;  // one of the two
  const Chunk* chunk;
};

void AddStats(ScanStats& to, const ScanStats& s) {
  to.segments_total += s.segments_total, to.segments_skipped += s.segments_skipped;
  to.blocks_total += s.blocks_total, to.blocks_skipped += s.blocks_skipped;
  to.rows_scanned += s.rows_scanned, to.rows_returned += s.rows_returned;
}

// Scans units on request.threads threads, each with its own Scanner (decoders, buffers), and
// hands their batches to `sink` on the calling thread in unit order, so the output is the same as
// a serial scan's (only batch boundaries differ: each unit's last batch may be short). At most
// 2 × threads units are scanned ahead of the one being delivered.
Result<ScanStats> ScanParallel(const TableDef& table, const ScanRequest& request, const std::vector<ScanUnit>& units, ScanStats stats,
                               const std::function<bool(ColumnBatch&&)>& sink) {
  struct Output {
    std::vector<ColumnBatch> batches;
    Status status = Status::Ok();
    bool ready = false;
  };
  std::vector<Output> outs(units.size());
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0, delivered = 0;
  bool stop = false;
  const size_t window = 2 * static_cast<size_t>(request.threads);
  auto work = [&] {
    Output* current = nullptr;
    std::function<bool(ColumnBatch&&)> collect = [&](ColumnBatch&& b) {
      current->batches.push_back(std::move(b));
      return true;
    };
    Scanner sc(table, request, collect);
    Status init = sc.Init();
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || next >= units.size() || next < delivered + window; });
        if (stop || next >= units.size()) break;
        i = next++;
      }
      current = &outs[i];
      Status st = init;
      if (st.ok() && units[i].segment) st = sc.ScanSegment(*units[i].segment);
      else if (st.ok()) sc.ScanChunk(*units[i].chunk);
      sc.Finish();
      std::lock_guard<std::mutex> lock(mu);
      outs[i].status = std::move(st);
      outs[i].ready = true;
      cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    AddStats(stats, sc.stats());
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < request.threads; ++t) threads.emplace_back(work);
  Status result = Status::Ok();
  for (size_t i = 0; i < units.size(); ++i) {
    std::vector<ColumnBatch> batches;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return outs[i].ready; });
      if (!outs[i].status.ok()) result = outs[i].status;
      batches = std::move(outs[i].batches);
    }
    bool more = result.ok();
    for (ColumnBatch& b : batches) {
      if (!more) break;
      more = sink(std::move(b));
    }
    std::lock_guard<std::mutex> lock(mu);
    delivered = i + 1;
    if (!more) stop = true;
    cv.notify_all();
    if (stop) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  }
  for (std::thread& t : threads) t.join();
  if (!result.ok()) return Err(result);
  return stats;
}

}  // namespace

Result<ScanStats> ColumnarStore::Scan(const ScanRequest& request, const std::function<bool(ColumnBatch&&)>& sink) {
  Impl& s = *impl_;
  const TableDef* table = s.registry->Find(request.table);
  if (table == nullptr) return Err(InvalidArgument("unknown table '" + request.table + "'"));
  if (!ValidTenant(request.tenant_id)) return Err(InvalidArgument("invalid tenant id"));
  Scanner scanner(*table, request, sink);
  WARD_RETURN_IF_ERROR(scanner.Init());
  if (request.limit && *request.limit == 0) return scanner.stats();
  if (request.from_ticks && request.to_ticks && *request.from_ticks >= *request.to_ticks) return scanner.stats();

  const int64_t lo_day = request.from_ticks ? DayOf(*request.from_ticks) : std::numeric_limits<int64_t>::min();
  const int64_t hi_day = request.to_ticks ? DayOf(*request.to_ticks - 1) : std::numeric_limits<int64_t>::max();
  // Snapshot under the shared lock: the partitions' segment and chunk lists (immutable objects).
  struct Snap {
    std::vector<std::shared_ptr<const Segment>> segments;
    std::vector<std::shared_ptr<const Chunk>> chunks;
  };
  std::vector<Snap> snaps;
  std::vector<std::shared_ptr<const Segment>> pruned;
  {
    std::shared_lock lock(s.mu);
    auto it = s.partitions.lower_bound(PartitionKey{request.tenant_id, table->id, std::numeric_limits<int64_t>::min()});
    for (; it != s.partitions.end() && it->first.tenant == request.tenant_id && it->first.table == table->id; ++it) {
      const Partition& p = *it->second;
      if (it->first.day < lo_day || it->first.day > hi_day) {
        pruned.insert(pruned.end(), p.segments.begin(), p.segments.end());
        continue;
      }
      Snap snap;
      snap.segments = p.segments;
      snap.chunks = p.sealing;
      snap.chunks.insert(snap.chunks.end(), p.tail.begin(), p.tail.end());
      snaps.push_back(std::move(snap));
    }
  }
  scanner.CountSkippedSegments(pruned);
  // The scan's units in output order: per partition, its segments, then its in-memory chunks.
  std::vector<ScanUnit> units;
  size_t segments = 0;
  for (const Snap& snap : snaps) {
    for (const auto& seg : snap.segments) units.push_back({seg.get(), nullptr}), ++segments;
    for (const auto& chunk : snap.chunks) units.push_back({nullptr, chunk.get()});
  }
  if (request.threads > 1 && !request.limit && segments > 1) return ScanParallel(*table, request, units, scanner.stats(), sink);
  for (const ScanUnit& u : units) {
    if (scanner.done()) break;
    if (u.segment) WARD_RETURN_IF_ERROR(scanner.ScanSegment(*u.segment));
    else scanner.ScanChunk(*u.chunk);
  }
  scanner.Finish();
  return scanner.stats();
}

}  // namespace ward::events
