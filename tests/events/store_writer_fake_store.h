#pragma once
// An EventStore that is durable when Append returns (like ClickHouse): records the batch ids it got,
// and can refuse the first few Appends to show that the writer retries instead of skipping.
#include <mutex>
#include <string>
#include <vector>

#include "events/event_store.h"

namespace ward::events::test {

class RecordingStore final : public EventStore {
 public:
  explicit RecordingStore(int fail_first = 0) : fail_(fail_first) {}
  Status Append(const RowBatch& batch) override {
    std::lock_guard lock(mu_);
    if (fail_ > 0) {
      --fail_;
      return Unavailable("store down (test)");
    }
    ids_.push_back(batch.batch_id);
    return Status::Ok();
  }
  Result<ScanStats> Scan(const ScanRequest&, const std::function<bool(ColumnBatch&&)>&) override { return ScanStats{}; }
  Status Flush() override { return Status::Ok(); }
  Result<int> ApplyRetention(int64_t) override { return 0; }
  std::vector<std::string> ids() {
    std::lock_guard lock(mu_);
    return ids_;
  }

 private:
  std::mutex mu_;
  int fail_;
  std::vector<std::string> ids_;
};

// An encoded batch of no rows whose batch id is `id`.
inline std::string BatchRecord(const std::string& id) {
  RowBatch b;
  b.tenant_id = "t";
  b.device_id = std::string(40, 'a');
  b.batch_id = id;
  return EncodeBatch(b);
}

}  // namespace ward::events::test
