#include "events/store_writer.h"

#include "common/log.h"
#include "common/time.h"

namespace ward::events {

StoreWriter::StoreWriter(EventLog& log, ColumnarStore& store, const SchemaRegistry& registry, metrics::Registry& metrics)
    : log_(log),
      store_(store),
      registry_(registry),
      rows_(metrics.AddCounter("ward_store_rows_total", "Rows written to the columnar store", {})),
      errors_(metrics.AddCounter("ward_store_errors_total", "Event-log records the store writer could not apply",
                                 {"reason"})) {}

StoreWriter::~StoreWriter() { Stop(); }

void StoreWriter::Start() {
  applied_ = store_.durable_log_offset();
  thread_ = std::thread([this] { Run(); });
}

void StoreWriter::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  if (Status st = store_.Flush(); !st.ok()) log::Error("store flush at stop failed", {{"error", st.message()}});
}

bool StoreWriter::WaitUntilApplied(uint64_t offset, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return applied_cv_.wait_for(lock, timeout, [&] { return applied_.load() >= offset; });
}

void StoreWriter::Run() {
  uint64_t next = applied_.load();
  auto last_retention = std::chrono::steady_clock::now() - std::chrono::hours(1);
  while (!stop_) {
    if (!log_.WaitForData(next, std::chrono::milliseconds(200))) {
      // Idle: let the store seal tails that reached their age.
      if (Status st = store_.Flush(); !st.ok()) log::Warn("store flush failed", {{"error", st.message()}});
    } else {
      auto records = log_.Read(next, 2048, 32ull << 20);
      if (!records) {
        errors_.Inc({"read"});
        log::Error("event log read failed", {{"error", records.error().message()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      for (const LogRecord& r : *records) {
        auto batch = DecodeBatch(r.data, registry_);
        if (!batch) {
          // A record this build cannot decode is skipped, counted and logged, never retried forever.
          errors_.Inc({"decode"});
          log::Error("undecodable event-log record", {{"offset", std::to_string(r.offset)},
                                                        {"error", batch.error().message()}});
        } else if (Status st = store_.Append(*batch); !st.ok()) {
          errors_.Inc({"append"});
          log::Error("columnar store append failed", {{"error", st.message()}});
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          break;  // retry this record
        } else {
          rows_.Inc({}, batch->rows.size());
        }
        next = r.offset + 1;
        store_.NoteLogOffset(next);
      }
      {
        std::lock_guard lock(mu_);
        applied_ = next;
      }
      applied_cv_.notify_all();
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
