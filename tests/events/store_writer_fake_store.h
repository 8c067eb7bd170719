#pragma once
// An EventStore that is durable when Append returns (like ClickHouse): records the ids of the rows
// it got (see BatchRecord) and how many Appends brought them, and can refuse the first few Appends
// to show that the writer retries instead of skipping.
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "events/event_store.h"
#include "events/rows.h"
#include "events/schema.h"

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
    const TableDef* t = SchemaRegistry::Hunting().Find("DeviceProcessEvents");
    const int id_column = t->Find("ProcessCommandLine");
    for (const Row& r : batch.rows) ids_.push_back(std::get<std::string>(r.values[id_column]));
    ++appends_;
    return Status::Ok();
  }
  Result<ScanStats> Scan(const ScanRequest&, const std::function<bool(ColumnBatch&&)>&) override { return ScanStats{}; }
  Status Flush() override { return Status::Ok(); }
  Result<int> ApplyRetention(int64_t) override { return 0; }
  std::vector<std::string> ids() {
    std::lock_guard lock(mu_);
    return ids_;
  }
  int appends() {
    std::lock_guard lock(mu_);
    return appends_;
  }

 private:
  std::mutex mu_;
  int fail_;
  std::vector<std::string> ids_;
  int appends_ = 0;
};

// An encoded batch (batch id `id`) of one DeviceProcessEvents row whose ProcessCommandLine is `id`.
inline std::string BatchRecord(const std::string& id) {
  RowBatch b;
  b.tenant_id = "t";
  b.device_id = std::string(40, 'a');
  b.batch_id = id;
  const TableDef* t = SchemaRegistry::Hunting().Find("DeviceProcessEvents");
  Row row;
  row.table = t->id;
  row.values.resize(t->columns.size());
  row.values[t->Find("Timestamp")] = int64_t{638'000'000'000'000'000};
  row.values[t->Find("DeviceId")] = b.device_id;
  row.values[t->Find("ProcessCommandLine")] = id;
  b.rows.push_back(std::move(row));
  return EncodeBatch(b);
}

}  // namespace ward::events::test
