#include "ingest/ingest_service.h"

#include <thread>

#include "common/time.h"

namespace ward::ingest {

IngestService::IngestService(events::EventLog& log, const events::SchemaRegistry& registry, metrics::Registry& metrics,
                             TelemetryLimits limits)
    : log_(log),
      registry_(registry),
      limits_(limits),
      events_total_(metrics.AddCounter("ward_ingest_events_total", "Telemetry events by table and outcome",
                                       {"outcome"})),
      batches_total_(metrics.AddCounter("ward_ingest_batches_total", "Telemetry batches by outcome", {"outcome"})) {}

std::string IngestService::DedupKey(std::string_view tenant, std::string_view device, std::string_view batch) const {
  std::string key;
  key.reserve(tenant.size() + device.size() + batch.size() + 2);
  key.append(tenant).push_back('/');
  key.append(device).push_back('/');
  key.append(batch);
  return key;
}

void IngestService::RememberLocked(std::string key, size_t accepted) {
  if (!seen_.emplace(key, accepted).second) return;
  order_.push_back(std::move(key));
  while (order_.size() > kMaxRemembered) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
}

Status IngestService::RebuildDedupIndex(size_t max_records) {
  WARD_ASSIGN_OR_RETURN(std::vector<events::LogRecord> records, log_.ReadRecent(max_records));
  std::lock_guard lock(mu_);
  for (const events::LogRecord& r : records) {
    auto batch = events::DecodeBatch(r.data, registry_);
    if (batch && !batch->batch_id.empty()) {
      RememberLocked(DedupKey(batch->tenant_id, batch->device_id, batch->batch_id), batch->rows.size());
    }
  }
  return Status::Ok();
}

Result<IngestReply> IngestService::Ingest(const state::Machine& device, std::string_view batch_id,
                                          std::string_view content_encoding, std::string_view body) {
  IngestReply reply;
  reply.batch_id = std::string(batch_id);
  if (batch_id.empty() || batch_id.size() > 128) {
    return Err(InvalidArgument("X-Ward-Batch-Id must be 1 to 128 characters"));
  }
  std::string key = DedupKey(device.tenant_id, device.id, batch_id);
  // A retry racing the first copy waits for it, then sees it as a duplicate.
  for (int spins = 0;; ++spins) {
    {
      std::lock_guard lock(mu_);
      if (auto it = seen_.find(key); it != seen_.end()) {
        reply.duplicate = true;
        reply.accepted = it->second;
        batches_total_.Inc({"duplicate"});
        return reply;
      }
      if (!in_flight_.count(key)) {
        in_flight_.insert(key);
        break;
      }
    }
    if (spins > 3000) return Err(Unavailable("the same batch is still being stored; retry"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto release = [&] {
    std::lock_guard lock(mu_);
    in_flight_.erase(key);
  };

  auto text = Decompress(body, content_encoding, limits_.max_decompressed_bytes);
  if (!text) {
    release();
    batches_total_.Inc({"rejected"});
    return Err(text.error());
  }
  auto parsed = ParseTelemetry(*text, device, registry_, NowTicks(), limits_);
  if (!parsed) {
    release();
    batches_total_.Inc({"rejected"});
    return Err(parsed.error());
  }
  parsed->batch.batch_id = std::string(batch_id);
  reply.accepted = parsed->batch.rows.size();
  reply.rejected = std::move(parsed->rejected);
  events_total_.Inc({"accepted"}, reply.accepted);
  events_total_.Inc({"rejected"}, reply.rejected.size());
  // A batch whose events were all rejected still records its id: a retry would fail the same way.
  // Keyed by device: on a partitioned log a device's batches stay in order in one partition.
  auto offset = log_.AppendSync(events::EncodeBatch(parsed->batch), device.id);
  if (!offset) {
    release();
    batches_total_.Inc({"failed"});
    return Err(offset.error());
  }
  reply.log_offset = *offset;
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(key);
    RememberLocked(std::move(key), reply.accepted);
  }
  batches_total_.Inc({"stored"});
  return reply;
}

}  // namespace ward::ingest
