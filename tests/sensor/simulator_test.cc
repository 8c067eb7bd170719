// Simulated telemetry conforms to the hunting schema and keeps process trees consistent; the
// simulator and the real sensor work end to end against the fake server.
#include "sensor/simulator.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>

#include "common/time.h"
#include "events/schema.h"
#include "sensor/agent.h"
#include "sensor/fake_server.h"
#include "sensor/inventory.h"

namespace ward::sensor {
namespace {

using testing::FakeServer;
using testing::TempDir;

// Every member is a column of the event's table, with a JSON type matching the column type.
void ExpectConforms(const json::Value& ev) {
  ASSERT_TRUE(ev.is_object());
  auto table_name = ev.GetString("$table");
  ASSERT_TRUE(table_name.has_value()) << ev.Serialize();
  const events::TableDef* table = events::SchemaRegistry::Hunting().Find(*table_name);
  ASSERT_NE(table, nullptr) << *table_name;
  ASSERT_TRUE(ev.Find("Timestamp")) << ev.Serialize();
  bool has_action = table->Find("ActionType") >= 0;
  EXPECT_EQ(ev.Find("ActionType") != nullptr, has_action) << ev.Serialize();
  for (const auto& m : ev.members()) {
    if (m.key == "$table") continue;
    int col = table->Find(m.key);
    ASSERT_GE(col, 0) << *table_name << " has no column " << m.key;
    const json::Value& v = m.value;
    switch (table->columns[static_cast<size_t>(col)].type) {
      case events::ColumnType::kDatetime:
        ASSERT_TRUE(v.is_string()) << m.key;
        EXPECT_TRUE(ParseIsoTicks(v.as_string()).has_value()) << m.key << "=" << v.as_string();
        EXPECT_EQ(v.as_string().size(), 28u) << m.key << "=" << v.as_string();
        break;
      case events::ColumnType::kString:
        EXPECT_TRUE(v.is_string()) << m.key;
        if (m.key == "AdditionalFields" || m.key == "IPAddresses" || m.key == "LoggedOnUsers" ||
            m.key == "DnsAddresses" || m.key == "DefaultGateways" || m.key == "DeviceManualTags") {
          EXPECT_TRUE(json::Value::Parse(v.as_string()).has_value()) << m.key << " is not JSON text";
        }
        break;
      case events::ColumnType::kLong:
      case events::ColumnType::kInt:
        EXPECT_TRUE(v.is_int()) << m.key;
        break;
      case events::ColumnType::kBool:
        EXPECT_TRUE(v.is_bool()) << m.key;
        break;
      case events::ColumnType::kReal:
        EXPECT_TRUE(v.is_number()) << m.key;
        break;
      case events::ColumnType::kDynamic:
        break;
    }
  }
}

TEST(SimulatorTest, EventsConformToSchemaAndTreesAreConsistent) {
  std::mt19937_64 rng(42);
  std::map<std::string, int> tables;
  std::map<std::string, int> actions;
  int suspicious_hits = 0;
  for (int d = 0; d < 16; ++d) {
    SimDevice dev(d, 7);
    std::vector<json::Value> events;
    int64_t now = NowTicks();
    dev.Inventory(now, events);
    for (int i = 0; i < 300; ++i) dev.Activity(rng, now + i * kTicksPerSecond, i % 50 == 0, events);
    std::map<int64_t, const json::Value*> procs;  // ProcessId -> ProcessCreated
    for (const auto& ev : events) {
      ExpectConforms(ev);
      tables[*ev.GetString("$table")]++;
      if (auto a = ev.GetString("ActionType")) actions[*a]++;
      std::string cmd = ev.GetString("ProcessCommandLine").value_or("");
      if (cmd.find("| sh") != std::string::npos || cmd.find("nc -e") != std::string::npos ||
          cmd.find("base64 -d") != std::string::npos) {
        ++suspicious_hits;
      }
      if (ev.GetString("ActionType") != "ProcessCreated") continue;
      // The initiating process, if created in this stream, matches what its own event said.
      if (auto parent = procs.find(ev.GetInt("InitiatingProcessId").value_or(-1)); parent != procs.end()) {
        EXPECT_EQ(ev.GetString("InitiatingProcessCommandLine"), parent->second->GetString("ProcessCommandLine"));
        EXPECT_EQ(ev.GetString("InitiatingProcessCreationTime"), parent->second->GetString("ProcessCreationTime"));
        EXPECT_EQ(ev.GetString("InitiatingProcessFileName"), parent->second->GetString("FileName"));
        EXPECT_EQ(ev.GetString("InitiatingProcessSHA256"), parent->second->GetString("SHA256"));
      }
      procs[ev.GetInt("ProcessId").value_or(0)] = &ev;
    }
    EXPECT_EQ(dev.Facts().computer_dns_name, dev.name());
  }
  for (const char* t : {"DeviceProcessEvents", "DeviceFileEvents", "DeviceNetworkEvents", "DeviceLogonEvents",
                        "DeviceInfo", "DeviceNetworkInfo"}) {
    EXPECT_GT(tables[t], 0) << t;
  }
  for (const char* a : {"ProcessCreated", "FileCreated", "FileModified", "FileRenamed", "FileDeleted",
                        "ConnectionSuccess", "InboundConnectionAccepted", "LogonSuccess", "LogonFailed"}) {
    EXPECT_GT(actions[a], 0) << a;
  }
  EXPECT_GT(suspicious_hits, 0);
}

TEST(SimulatorTest, DeviceIdentitiesAreStableAndVaried) {
  std::set<std::string> names, hosts, distros;
  for (int i = 0; i < 40; ++i) {
    SimDevice d(i, 1);
    DeviceFacts f = d.Facts();
    names.insert(f.computer_dns_name);
    hosts.insert(f.host_id);
    distros.insert(f.os_distribution + " " + f.os_version);
    EXPECT_EQ(f.host_id, SimDevice(i, 99).Facts().host_id);  // derived from the index only
    EXPECT_TRUE(f.computer_dns_name.starts_with("sim-")) << f.computer_dns_name;
    EXPECT_TRUE(f.computer_dns_name.ends_with(".corp.local"));
  }
  EXPECT_EQ(names.size(), 40u);
  EXPECT_EQ(hosts.size(), 40u);
  EXPECT_GE(distros.size(), 5u);
  EXPECT_EQ(SimDevice(16, 1).name(), "sim-web-016.corp.local");
}

TEST(SimulatorTest, RealSensorInventoryConforms) {
  std::vector<json::Value> events;
  CollectingSink sink;
  InventoryOptions o;
  o.tags = {"prod"};
  Inventory inv(&sink, o);
  inv.ReportOnce();
  auto all = sink.Events();
  ASSERT_GE(all.size(), 2u);
  for (const auto& ev : all) ExpectConforms(ev);
  EXPECT_EQ(all[0].GetString("$table").value_or(""), "DeviceInfo");
  EXPECT_EQ(all[0].GetString("OSPlatform").value_or(""), "Linux");
}

TEST(SimulatorTest, RunsAgainstServer) {
  FakeServer server;
  server.Start();
  TempDir dir;
  std::string onboarding = dir.File("onboard.sh");
  { std::ofstream(onboarding) << server.OnboardingScript(); }
  SimulateOptions o;
  o.onboarding_file = onboarding;
  o.devices = 3;
  o.rate = 300;
  o.duration_seconds = 1.5;
  o.state_dir = dir.File("sim");
  o.suspicious_fraction = 0.05;
  ::testing::internal::CaptureStdout();
  int rc = RunSimulator(o);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0) << out;
  auto summary = json::Value::Parse(out);
  ASSERT_TRUE(summary.has_value()) << out;
  EXPECT_EQ(summary->GetInt("enrolled").value_or(0), 3);
  int64_t sent = summary->GetInt("sent").value_or(0);
  EXPECT_GT(sent, 300);
  EXPECT_EQ(summary->GetInt("accepted").value_or(0), sent);
  EXPECT_EQ(summary->GetInt("failed").value_or(-1), 0);
  auto events = server.AcceptedEvents();
  EXPECT_EQ(static_cast<int64_t>(events.size()), sent);
  std::set<std::string> devices;
  for (const auto& b : server.Batches()) devices.insert(b.device_id);
  EXPECT_EQ(devices.size(), 3u);
  // ReportIds increase per device... across batches of one device they never repeat.
  std::map<std::string, std::set<int64_t>> ids;
  for (const auto& b : server.Batches()) {
    for (const auto& e : b.events) EXPECT_TRUE(ids[b.device_id].insert(e.GetInt("ReportId").value_or(-1)).second);
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("sim/sim-identities.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A second run reuses the stored credentials instead of enrolling again.
  int before = server.enrollments();
  o.duration_seconds = 0.3;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunSimulator(o), 0);
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(server.enrollments(), before);
}

TEST(AgentTest, RealSensorRunsOnceAndUploads) {
  FakeServer server;
  server.Start();
  TempDir dir;
  std::string onboarding = dir.File("onboard.sh");
  { std::ofstream(onboarding) << server.OnboardingScript(); }
  std::string watched = dir.File("watched");
  ASSERT_EQ(::mkdir(watched.c_str(), 0755), 0);
  SensorOptions o;
  o.onboarding_file = onboarding;
  o.state_dir = dir.File("state");
  o.watch_paths = {watched};
  o.once_seconds = 2;
  std::thread activity([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    [[maybe_unused]] int rc = std::system(("/bin/sh -c 'echo x > " + watched + "/f.txt; sleep 0.3'").c_str());
  });
  int rc = RunSensor(o);
  activity.join();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(server.enrollments(), 1);
  std::map<std::string, int> tables;
  for (const auto& e : server.AcceptedEvents()) {
    tables[e.GetString("$table").value_or("")]++;
    ExpectConforms(e);
  }
  EXPECT_GT(tables["DeviceInfo"], 0);
  EXPECT_GT(tables["DeviceNetworkInfo"], 0);
  EXPECT_GT(tables["DeviceProcessEvents"], 0);
  EXPECT_GT(tables["DeviceFileEvents"], 0);
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("state/identity.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.File("state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Restart: reuses the identity, no new enrollment.
  o.once_seconds = 1;
  EXPECT_EQ(RunSensor(o), 0);
  EXPECT_EQ(server.enrollments(), 1);
}

}  // namespace
}  // namespace ward::sensor
