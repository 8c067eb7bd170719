#pragma once
// MDE's streaming record format (reference/mde-api.md §7), shared by every destination.
//
// A record is {"time","tenantId","operationName":"Publish","category":"AdvancedHunting-<Table>",
// "_TimeReceivedBySvc","properties":{<the row's columns in schema order>, "MachineGroup"}}. Event
// Hubs/Kafka messages wrap records as {"records":[...]}; storage keeps one record per line. Both
// times are when Ward received the event, so a record re-sent after a crash is byte-identical to the
// first copy and lands in the same blob: consumers can drop duplicates by content.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/rows.h"
#include "events/schema.h"
#include "stream/sink.h"

namespace ward::stream {

// "AdvancedHunting-DeviceProcessEvents" for table "DeviceProcessEvents".
std::string CategoryOf(std::string_view table);
// The table of a category, matched case-insensitively ("advancedhunting-devicefileevents" works);
// nullptr when the category is not a hunting table.
const events::TableDef* TableOfCategory(const events::SchemaRegistry& registry, std::string_view category);
// Blob container and Event Hub/Kafka topic name: "insights-logs-advancedhunting-deviceprocessevents".
std::string ContainerOf(std::string_view table);
// Blob path of the hour a record falls in: "tenantId=<tid>/y=2024/m=05/d=17/h=13/m=00/PT1H.json".
std::string BlobPathOf(std::string_view tenant_id, int64_t time_ticks);

// Renders row `row` of `batch` as one record. `machine_group` is the device's group name ("" for
// ungrouped: MDE writes the default group's name, which the caller passes).
StreamRecord RenderRecord(const events::RowBatch& batch, size_t row, const events::TableDef& table,
                          std::string_view machine_group);

// {"records":[r1,r2,...]} for Event Hubs/Kafka messages.
std::string WrapRecords(std::span<const StreamRecord* const> records);

}  // namespace ward::stream
