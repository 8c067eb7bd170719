#include "events/store_writer.h"

#include <iterator>
#include <map>

#include "common/log.h"
#include "common/time.h"

namespace ward::events {

StoreWriter::StoreWriter(EventLog& log, EventStore& store, const SchemaRegistry& registry, metrics::Registry& metrics)
    : log_(log),
      store_(store),
      columnar_(dynamic_cast<ColumnarStore*>(&store)),
      registry_(registry),
      rows_(metrics.AddCounter("ward_store_rows_total", "Rows written to the columnar store", {})),
      errors_(metrics.AddCounter("ward_store_errors_total", "Event-log records the store writer could not apply",
                                 {"reason"})) {}

StoreWriter::~StoreWriter() { Stop(); }

Status StoreWriter::Start() {
  WARD_ASSIGN_OR_RETURN(consumer_, log_.OpenConsumer("store"));
  WARD_ASSIGN_OR_RETURN(LogPosition end, log_.EndPosition());
  resume_from_store_ = columnar_ != nullptr && end.size() == 1;
  if (resume_from_store_) WARD_RETURN_IF_ERROR(consumer_->Seek({columnar_->durable_log_offset()}));
  {
    std::lock_guard lock(mu_);
    applied_ = consumer_->position();
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void StoreWriter::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  if (Status st = store_.Flush(); !st.ok()) log::Error("store flush at stop failed", {{"error", st.message()}});
  else if (columnar_ && !resume_from_store_ && pending_.empty()) CommitConsumer();
}

bool StoreWriter::WaitUntilApplied(const LogPosition& position, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return applied_cv_.wait_for(lock, timeout, [&] { return Reached(applied_, position); });
}

LogPosition StoreWriter::applied() {
  std::lock_guard lock(mu_);
  return applied_;
}

LogPosition StoreWriter::needed() {
  if (resume_from_store_) return {columnar_->durable_log_offset()};
  return consumer_ ? consumer_->committed() : LogPosition{};
}

void StoreWriter::CommitConsumer() {
  if (Status st = consumer_->Commit(); !st.ok()) {
    errors_.Inc({"commit"});
    log::Warn("store writer commit failed", {{"error", st.message()}});
  }
}

// A store that is durable per Append (ClickHouse) gets everything polled as one Append per tenant:
// each Append there is an insert that makes a part, and many small parts throttle the server. The
// records of tenants whose Append failed stay in `records` for the next round (at least once).
void StoreWriter::ProcessGrouped(std::vector<LogRecord>& records) {
  std::map<std::string, std::pair<RowBatch, std::vector<size_t>>> by_tenant;
  for (size_t i = 0; i < records.size(); ++i) {
    auto batch = DecodeBatch(records[i].data, registry_);
    if (!batch) {
      errors_.Inc({"decode"});
      log::Error("undecodable event-log record", {{"offset", std::to_string(records[i].offset)},
                                                    {"partition", std::to_string(records[i].partition)},
                                                    {"error", batch.error().message()}});
      continue;
    }
    auto& [merged, indexes] = by_tenant[batch->tenant_id];
    if (merged.rows.empty()) {
      merged.tenant_id = batch->tenant_id;
      merged.received_ticks = batch->received_ticks;
    }
    merged.rows.insert(merged.rows.end(), std::make_move_iterator(batch->rows.begin()),
                       std::make_move_iterator(batch->rows.end()));
    indexes.push_back(i);
  }
  std::vector<bool> keep(records.size(), false);
  for (auto& [tenant, entry] : by_tenant) {
    if (Status st = store_.Append(entry.first); !st.ok()) {
      errors_.Inc({"append"});
      log::Error("event store append failed", {{"tenant", tenant}, {"error", st.message()}});
      for (size_t i : entry.second) keep[i] = true;
    } else {
      rows_.Inc({}, entry.first.rows.size());
    }
  }
  std::vector<LogRecord> left;
  for (size_t i = 0; i < records.size(); ++i) {
    if (keep[i]) left.push_back(std::move(records[i]));
  }
  records = std::move(left);
  if (records.empty()) {
    NoteCaughtUp();
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  applied_cv_.notify_all();
}

// Applies pending_ in order; what a failed Append left stays in pending_ for the next round.
void StoreWriter::Process(std::vector<LogRecord>& records) {
  size_t done = 0;
  for (; done < records.size(); ++done) {
    const LogRecord& r = records[done];
    auto batch = DecodeBatch(r.data, registry_);
    if (!batch) {
      // A record this build cannot decode is skipped, counted and logged, never retried forever.
      errors_.Inc({"decode"});
      log::Error("undecodable event-log record", {{"offset", std::to_string(r.offset)},
                                                    {"partition", std::to_string(r.partition)},
                                                    {"error", batch.error().message()}});
    } else if (Status st = store_.Append(*batch); !st.ok()) {
      errors_.Inc({"append"});
      log::Error("event store append failed", {{"error", st.message()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      break;  // retry this record
    } else {
      rows_.Inc({}, batch->rows.size());
    }
    if (resume_from_store_) columnar_->NoteLogOffset(r.offset + 1);
    std::lock_guard lock(mu_);
    if (applied_.size() <= static_cast<size_t>(r.partition)) applied_.resize(r.partition + 1, 0);
    applied_[r.partition] = r.offset + 1;
  }
  records.erase(records.begin(), records.begin() + static_cast<std::ptrdiff_t>(done));
  if (records.empty()) NoteCaughtUp();
  applied_cv_.notify_all();
}

void StoreWriter::NoteCaughtUp() {
  // Everything polled is applied: the consumer's position also covers partitions it was assigned
  // (at their committed offsets) without records since.
  {
    std::lock_guard lock(mu_);
    applied_ = consumer_->position();
  }
  applied_cv_.notify_all();
}

void StoreWriter::Run() {
  auto last_retention = std::chrono::steady_clock::now() - std::chrono::hours(1);
  while (!stop_) {
    if (pending_.empty()) {
      auto records = consumer_->Poll(2048, 32ull << 20, std::chrono::milliseconds(200));
      if (!records) {
        errors_.Inc({"read"});
        log::Error("event log read failed", {{"error", records.error().message()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      pending_ = std::move(*records);
      // A per-Append-durable store takes larger, fewer inserts: keep polling briefly for more.
      const auto linger_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
      while (!columnar_ && !pending_.empty() && pending_.size() < 8192 && !stop_ &&
             std::chrono::steady_clock::now() < linger_until) {
        auto more = consumer_->Poll(8192 - pending_.size(), 32ull << 20, std::chrono::milliseconds(50));
        if (!more || more->empty()) break;
        pending_.insert(pending_.end(), std::make_move_iterator(more->begin()), std::make_move_iterator(more->end()));
      }
    }
    if (pending_.empty()) {
      NoteCaughtUp();
      // Idle: let the store seal tails that reached their age; on a partitioned log what is sealed
      // is what the group may commit.
      if (Status st = store_.Flush(); !st.ok()) log::Warn("store flush failed", {{"error", st.message()}});
      else if (columnar_ && !resume_from_store_) CommitConsumer();
    } else if (!columnar_) {
      ProcessGrouped(pending_);
      if (pending_.empty()) CommitConsumer();  // durable when Append returned
    } else {
      Process(pending_);
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_retention > std::chrono::hours(1)) {
      last_retention = now;
      auto removed = store_.ApplyRetention(NowTicks());
      if (!removed) log::Warn("retention failed", {{"error", removed.error().message()}});
    }
  }
}

}  // namespace ward::events
