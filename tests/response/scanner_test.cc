#include "response/scanner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/crypto.h"
#include "common/temp_dir.h"
#include "response/builtin_yara_rules.h"

namespace ward::response {
namespace {

// Built at run time so that neither this source nor the test binary is itself an EICAR file.
std::string Eicar() {
  return std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*";
}

std::string ToUpperForTest(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
bool StartsWithForTest(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

void Write(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

ScanOptions TempScan(const test::TempDir& dir) {
  ScanOptions o;
  o.scan_type = "Quick";
  o.roots = {{dir.path(), -1}};
  o.scan_process_images = false;
  return o;
}

std::shared_ptr<const YaraRuleSet> Builtins() {
  auto rules = YaraRuleSet::Load("");
  EXPECT_TRUE(rules.has_value()) << rules.error().ToString();
  return *rules;
}

TEST(ScannerTest, BuiltinPackCompilesWithoutErrors) {
  auto rules = Builtins();
  for (const RuleFileError& e : rules->errors()) ADD_FAILURE() << e.ToString();
  EXPECT_EQ(rules->files().size(), BuiltinYaraRules().size());
  EXPECT_GE(rules->rule_count(), 5u);
}

TEST(ScannerTest, FindsEicarAndHashIndicatorAndEmitsEvents) {
  test::TempDir dir;
  Write(dir.File("drop/eicar.com"), Eicar());
  Write(dir.File("drop/clean.txt"), "nothing to see here\n");
  const std::string bad = "a harmless file the tenant has marked as malicious\n";
  Write(dir.File("deep/er/tool.bin"), bad);
  const std::string bad_sha256 = HexEncode(Sha256(bad));

  auto policy = json::Value::Parse(R"({"version":"1","indicators":[
    {"indicatorType":"FileSha256","indicatorValue":")" + ToUpperForTest(bad_sha256) + R"(","action":"Block"},
    {"indicatorType":"FileSha1","indicatorValue":")" + HexEncode(Sha1("x")) + R"(","action":"Allowed"},
    {"indicatorType":"IpAddress","indicatorValue":"1.2.3.4","action":"Block"}]})");
  ASSERT_TRUE(policy.has_value());
  HashIndicators indicators = HashIndicatorsFromPolicy(*policy);
  EXPECT_EQ(indicators.sha256.size(), 1u);

  sensor::CollectingSink sink;
  ScanResult r = RunScan(*Builtins(), indicators, TempScan(dir), &sink);
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(r.files_scanned, 3u);
  ASSERT_EQ(r.detections.size(), 2u) << r.ToJson().Serialize();

  const Detection* eicar = nullptr;
  const Detection* ioc = nullptr;
  for (const Detection& d : r.detections) (d.rule.empty() ? ioc : eicar) = &d;
  ASSERT_NE(eicar, nullptr);
  ASSERT_NE(ioc, nullptr);
  EXPECT_EQ(eicar->path, dir.File("drop/eicar.com"));
  EXPECT_EQ(eicar->rule, "eicar_yar:Ward_EICAR_Test_File");
  EXPECT_EQ(eicar->threat_name, "Virus:DOS/EICAR_Test_File");
  EXPECT_EQ(eicar->sha1, HexEncode(Sha1(Eicar())));
  EXPECT_EQ(ioc->path, dir.File("deep/er/tool.bin"));
  EXPECT_EQ(ioc->indicator_value, bad_sha256);
  EXPECT_EQ(ioc->sha256, bad_sha256);

  auto events = sink.Events();
  ASSERT_EQ(events.size(), 3u);
  int detections = 0;
  for (const json::Value& ev : events) {
    EXPECT_EQ(ev.GetString("$table"), "DeviceEvents");
    if (ev.GetString("ActionType") == "AntivirusDetection") {
      ++detections;
      auto af = json::Value::Parse(ev.GetString("AdditionalFields").value_or(""));
      ASSERT_TRUE(af.has_value());
      EXPECT_EQ(af->GetString("ScanType"), "Quick");
      EXPECT_TRUE(af->GetString("ThreatName").has_value());
      EXPECT_TRUE(af->GetString("Rule").has_value() || af->GetString("IndicatorValue").has_value());
      EXPECT_TRUE(StartsWithForTest(ev.GetString("FolderPath").value_or(""), dir.path()));
      EXPECT_EQ(ev.GetString("SHA1")->size(), 40u);
    }
  }
  EXPECT_EQ(detections, 2);
  EXPECT_EQ(events.back().GetString("ActionType"), "AntivirusScanCompleted");
  auto done = json::Value::Parse(events.back().GetString("AdditionalFields").value_or(""));
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->GetInt("FilesScanned"), 3);
  EXPECT_EQ(done->GetInt("Detections"), 2);
}

TEST(ScannerTest, BrokenRuleFileIsReportedAndOthersStillMatch) {
  test::TempDir state;
  const std::string rules_dir = state.File("rules/yara");
  Write(rules_dir + "/broken.yar", "rule Broken {\n  strings:\n    $a = \"x\"\n  condition:\n    $a and nonsense(\n}\n");
  Write(rules_dir + "/custom.yar",
        "rule Custom_Marker { meta: threat_name = \"Test:Linux/Marker\" strings: $m = \"WARD-MARKER-7f3a\" condition: $m }\n");
  Write(rules_dir + "/notes.txt", "not a rule file");
  auto rules = YaraRuleSet::Load(rules_dir);
  ASSERT_TRUE(rules.has_value()) << rules.error().ToString();
  ASSERT_EQ((*rules)->errors().size(), 1u);
  EXPECT_EQ((*rules)->errors()[0].file, rules_dir + "/broken.yar");
  EXPECT_GT((*rules)->errors()[0].line, 0);
  EXPECT_FALSE((*rules)->errors()[0].message.empty());

  test::TempDir dir;
  Write(dir.File("a.txt"), "prefix WARD-MARKER-7f3a suffix");
  Write(dir.File("b.com"), Eicar());
  ScanResult r = RunScan(**rules, {}, TempScan(dir), nullptr);
  ASSERT_EQ(r.detections.size(), 2u) << r.ToJson().Serialize();
  EXPECT_EQ(r.rule_errors.size(), 1u);
  std::set<std::string> threats;
  for (const Detection& d : r.detections) threats.insert(d.threat_name);
  EXPECT_TRUE(threats.count("Test:Linux/Marker"));
  EXPECT_TRUE(threats.count("Virus:DOS/EICAR_Test_File"));
}

TEST(ScannerTest, StateDirFileNamedLikeABuiltinLoadsBesideIt) {
  test::TempDir state;
  Write(state.File("eicar.yar"), "rule Ward_EICAR_Test_File { strings: $a = \"updated-eicar-marker\" condition: $a }\n");
  auto rules = YaraRuleSet::Load(state.path());
  ASSERT_TRUE(rules.has_value()) << rules.error().ToString();
  EXPECT_TRUE((*rules)->errors().empty());
  auto m = (*rules)->Scan("xx updated-eicar-marker xx", 10);
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].rule, "eicar_yar_2:Ward_EICAR_Test_File");
}

TEST(ScannerTest, IncludesAreRefused) {
  test::TempDir dir;
  Write(dir.File("secret.yar"), "rule Included { condition: true }\n");
  auto rules = YaraRuleSet::Compile({{"inc.yar", "include \"" + dir.File("secret.yar") + "\"\n"}});
  ASSERT_TRUE(rules.has_value());
  EXPECT_EQ((*rules)->errors().size(), 1u);
  EXPECT_EQ((*rules)->rule_count(), 0u);
}

TEST(ScannerTest, CancellationStopsTheScan) {
  test::TempDir dir;
  for (int i = 0; i < 200; ++i) Write(dir.File("f" + std::to_string(i)), "file " + std::to_string(i));
  ScanOptions o = TempScan(dir);
  std::atomic<int> polls{0};
  o.cancelled = [&] { return ++polls > 5; };
  sensor::CollectingSink sink;
  ScanResult r = RunScan(*Builtins(), {}, o, &sink);
  EXPECT_TRUE(r.cancelled);
  EXPECT_LT(r.files_scanned, 200u);
  auto events = sink.Events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().GetString("ActionType"), "AntivirusScanCancelled");
}

TEST(ScannerTest, SkipsLinksFifosLargeFilesAndExcludedPaths) {
  test::TempDir dir;
  Write(dir.File("big.com"), Eicar() + std::string(4096, ' '));
  Write(dir.File("excluded/e.com"), Eicar());
  test::TempDir outside;
  Write(outside.File("target.com"), Eicar());
  std::filesystem::create_symlink(outside.File("target.com"), dir.File("link.com"));
  std::filesystem::create_directory_symlink(outside.path(), dir.File("linkdir"));
  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0600), 0);
  ScanOptions o = TempScan(dir);
  o.max_file_size = 1024;
  o.exclude = {dir.File("excluded")};
  ScanResult r = RunScan(*Builtins(), {}, o, nullptr);
  EXPECT_TRUE(r.detections.empty()) << r.ToJson().Serialize();
  EXPECT_EQ(r.files_skipped, 1u);
  EXPECT_EQ(r.files_scanned, 0u);
}

TEST(ScannerTest, LocalMountPointsKeepDiskAndTmpfsOnly) {
  const char* mounts =
      "/dev/sda1 / ext4 rw 0 0\n"
      "proc /proc proc rw 0 0\n"
      "sysfs /sys sysfs rw 0 0\n"
      "tmpfs /dev/shm tmpfs rw 0 0\n"
      "devtmpfs /dev devtmpfs rw 0 0\n"
      "srv:/export /mnt/nfs nfs4 rw 0 0\n"
      "sshfs#x /mnt/ssh fuse.sshfs rw 0 0\n"
      "/dev/sdb1 /data\\040disk xfs rw 0 0\n"
      "/dev/sda1 / ext4 rw 0 0\n";
  EXPECT_EQ(LocalMountPoints(mounts), (std::vector<std::string>{"/", "/dev/shm", "/data disk"}));
}

TEST(ScannerTest, QuickDefaultsCoverDropAndPersistenceLocations) {
  std::set<std::string> paths;
  for (const ScanRoot& r : DefaultScanRoots("Quick")) paths.insert(r.path);
  for (const char* p : {"/tmp", "/var/tmp", "/dev/shm", "/usr/local/bin", "/etc/systemd/system", "/root"}) {
    EXPECT_TRUE(paths.count(p)) << p;
  }
}

}  // namespace
}  // namespace ward::response
