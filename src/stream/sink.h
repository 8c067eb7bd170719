#pragma once
// A streaming destination as the stream service sees it: something that takes a batch of records and
// says, once the destination has confirmed them, that they are delivered.
//
// Delivery contract (at least once): Deliver returns Ok only when the destination has durably
// accepted every record of the batch except those listed in *rejected — records it refused for good
// (too large, malformed for it), each with the destination's reason; the service dead-letters those
// and moves on. Any error means nothing is known: the service retries the whole batch later, so a
// destination may see a record more than once, never zero times. Deliver is called from one thread
// (the destination's worker) and may block for as long as the destination takes.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::stream {

// One advanced-hunting row in MDE's streaming envelope.
struct StreamRecord {
  uint16_t table = 0;           // events::SchemaRegistry table id
  std::string_view table_name;  // "DeviceProcessEvents"; points into the registry
  std::string tenant_id;
  std::string device_id;
  int64_t time_ticks = 0;       // the record's "time": when Ward received the event (KQL ticks)
  // {"time","tenantId","operationName","category","_TimeReceivedBySvc","properties":{...}} on one
  // line, without the "records" wrapper (see stream_record.h).
  std::string json;
};

struct Rejection {
  size_t index = 0;  // into the batch given to Deliver
  std::string reason;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Deliver(std::span<const StreamRecord> records, std::vector<Rejection>* rejected) = 0;
  // The least time between two deliveries; records gather meanwhile. Destinations that pay per call
  // (an append blob takes at most 50,000 blocks) set it; others deliver as soon as records arrive.
  virtual std::chrono::milliseconds min_interval() const { return std::chrono::milliseconds(0); }
  // The most records one Deliver call gets.
  virtual size_t max_batch_records() const { return 5000; }
};

}  // namespace ward::stream
