#include "response/live_response.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/crypto.h"
#include "common/temp_dir.h"
#include "sensor/util.h"

namespace ward::response {
namespace {

void Write(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string Slurp(const std::string& path) { return sensor::ReadFile(path).value_or("<missing>"); }

// A fake live-response library: file name -> content, "downloaded" by copying into dest_dir.
class FakeLibrary {
 public:
  std::map<std::string, std::string> files;
  std::vector<std::string> fetched;
  LibraryFetch Fetch() {
    return [this](const std::string& name, const std::string& dest_dir) -> Result<std::string> {
      fetched.push_back(name);
      auto it = files.find(name);
      if (it == files.end()) return Err(NotFound("no library file " + name));
      Write(dest_dir + "/" + name, it->second);
      return dest_dir + "/" + name;
    };
  }
};

struct Fixture {
  test::TempDir state{"ward-lr-state"};
  test::TempDir work{"ward-lr-work"};
  FakeLibrary library;
  LiveResponseOptions Options(bool advanced = true) {
    LiveResponseOptions o;
    o.advanced = advanced;
    o.downloads_dir = state.File("liveresponse/downloads");
    o.work_dir = work.path();
    o.fetch = library.Fetch();
    return o;
  }
};

LiveResponseCommand Cmd(std::string type, std::vector<std::pair<std::string, std::string>> params = {}) {
  return {std::move(type), std::move(params)};
}

json::Value ResultJson(const LiveResponseResult& r, int index) {
  for (const sensor::ActionFile& f : r.files) {
    if (f.index == index) {
      auto v = json::Value::Parse(Slurp(f.path));
      EXPECT_TRUE(v.has_value()) << f.path;
      return v ? *v : json::Value();
    }
  }
  ADD_FAILURE() << "no file for command " << index;
  return json::Value();
}

TEST(SplitArgsTest, SplitsLikeAShellWithoutExpanding) {
  auto a = SplitArgs(R"(  -n 3 'single $HOME; rm -rf /' "double \"q\" \$x `y`" back\ slash ''  "" $(id) a"b"'c')");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, (std::vector<std::string>{"-n", "3", "single $HOME; rm -rf /", "double \"q\" $x `y`", "back slash", "",
                                          "", "$(id)", "abc"}));
  EXPECT_TRUE(SplitArgs("")->empty());
  EXPECT_EQ(SplitArgs("'open").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitArgs("\"open").error().code(), StatusCode::kInvalidArgument);
}

TEST(LiveResponseTest, ParsesMdeCommandShape) {
  auto params = json::Value::Parse(R"({"Commands":[
    {"type":"RunScript","params":[{"key":"ScriptName","value":"a.sh"},{"key":"Args","value":"-x"}]},
    {"type":"GetFile","params":[{"key":"Path","value":"/etc/hostname"}]}]})");
  ASSERT_TRUE(params.has_value());
  auto cmds = ParseLiveResponseCommands(*params);
  ASSERT_TRUE(cmds.has_value()) << cmds.error().ToString();
  ASSERT_EQ(cmds->size(), 2u);
  EXPECT_EQ((*cmds)[0].Param("scriptname"), "a.sh");
  EXPECT_EQ((*cmds)[0].Param("Args"), "-x");
  EXPECT_EQ((*cmds)[1].type, "GetFile");
  EXPECT_EQ((*cmds)[1].ToJson().Serialize(), R"({"type":"GetFile","params":[{"key":"Path","value":"/etc/hostname"}]})");
  EXPECT_FALSE(ParseLiveResponseCommands(*json::Value::Parse(R"({"Commands":[]})")).has_value());
  EXPECT_FALSE(ParseLiveResponseCommands(*json::Value::Parse(R"({"Commands":[{"params":[]}]})")).has_value());
  EXPECT_FALSE(ParseLiveResponseCommands(*json::Value::Parse(R"({"Commands":[{"type":"x","params":[{"key":1}]}]})")).has_value());
}

TEST(LiveResponseTest, ParsesTheMachineActionShapeTheServerSends) {
  auto params = json::Value::Parse(R"({"Commands":[{"index":0,"commandStatus":"Created","errors":[],
      "command":{"type":"GetFile","params":[{"key":"Path","value":"/etc/hosts"}]}}]})");
  auto cmds = ParseLiveResponseCommands(*params);
  ASSERT_TRUE(cmds.has_value());
  ASSERT_EQ(cmds->size(), 1u);
  EXPECT_EQ((*cmds)[0].type, "GetFile");
  EXPECT_EQ((*cmds)[0].Param("path").value_or(""), "/etc/hosts");
}

TEST(LiveResponseTest, GetFileReturnsACopyAndRefusesTooLarge) {
  Fixture f;
  test::TempDir data;
  Write(data.File("evidence.bin"), std::string("\x00\x01 evidence", 11));
  Write(data.File("huge.bin"), std::string(4096, 'h'));
  LiveResponseOptions o = f.Options(/*advanced=*/false);  // GetFile is basic
  o.max_get_file_bytes = 1024;
  auto r = RunLiveResponse({Cmd("GetFile", {{"Path", data.File("evidence.bin")}}), Cmd("GetFile", {{"Path", data.File("huge.bin")}})}, o);
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_EQ(r.commands[0].status, "Completed");
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].index, 0);
  EXPECT_EQ(r.files[0].content_type, "application/octet-stream");
  EXPECT_NE(r.files[0].path, data.File("evidence.bin"));
  EXPECT_EQ(Slurp(r.files[0].path), std::string("\x00\x01 evidence", 11));
  EXPECT_EQ(r.commands[1].status, "Failed");
  ASSERT_EQ(r.commands[1].errors.size(), 1u);
  EXPECT_NE(r.commands[1].errors[0].find("at most 1024"), std::string::npos);
  EXPECT_FALSE(r.status.ok());
}

TEST(LiveResponseTest, PutFileFetchesIntoDownloads) {
  Fixture f;
  f.library.files["tool.bin"] = "library bytes";
  auto r = RunLiveResponse({Cmd("PutFile", {{"FileName", "tool.bin"}})}, f.Options());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.commands[0].status, "Completed");
  EXPECT_EQ(Slurp(f.state.File("liveresponse/downloads/tool.bin")), "library bytes");
  struct stat st {};
  ASSERT_EQ(::stat(f.state.File("liveresponse/downloads").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // Names that would escape the downloads directory never reach the channel.
  auto bad = RunLiveResponse({Cmd("PutFile", {{"FileName", "../evil"}})}, f.Options());
  EXPECT_EQ(bad.commands[0].status, "Failed");
  EXPECT_EQ(f.library.fetched, (std::vector<std::string>{"tool.bin"}));
}

TEST(LiveResponseTest, RunScriptPassesQuotedArgsAndCapturesResult) {
  Fixture f;
  f.library.files["args.sh"] =
      "for a in \"$@\"; do printf '<%s>' \"$a\"; done; echo; echo 'to stderr' >&2; exit 3\n";  // no shebang: /bin/sh
  const std::string pwned = f.work.File("pwned");
  auto r = RunLiveResponse(
      {Cmd("RunScript", {{"ScriptName", "args.sh"}, {"Args", "one 'two words' \"$(touch " + pwned + ")\" ';id'"}})},
      f.Options());
  ASSERT_EQ(r.commands[0].status, "Completed") << r.Details().Serialize();
  EXPECT_TRUE(r.status.ok());
  json::Value out = ResultJson(r, 0);
  EXPECT_EQ(out.GetString("script_name"), "args.sh");
  EXPECT_EQ(out.GetInt("exit_code"), 3);
  EXPECT_EQ(out.GetString("script_output"), "<one><two words><$(touch " + pwned + ")><;id>\n");
  EXPECT_FALSE(std::filesystem::exists(pwned));
  EXPECT_EQ(out.GetString("script_errors"), "to stderr\n");
  EXPECT_EQ(r.files[0].content_type, "application/json");
}

TEST(LiveResponseTest, RunScriptHonoursShebangAndCleanEnvironment) {
  Fixture f;
  f.library.files["env.sh"] = "#!/bin/sh\necho \"$0\"; env | sort\n";
  ::setenv("WARD_TEST_SECRET", "do-not-leak", 1);
  auto r = RunLiveResponse({Cmd("RunScript", {{"ScriptName", "env.sh"}})}, f.Options());
  ::unsetenv("WARD_TEST_SECRET");
  ASSERT_EQ(r.commands[0].status, "Completed") << r.Details().Serialize();
  std::string output = ResultJson(r, 0).GetString("script_output").value_or("");
  EXPECT_EQ(output.rfind(f.state.File("liveresponse/downloads/env.sh") + "\n", 0), 0u) << output;
  EXPECT_EQ(output.find("do-not-leak"), std::string::npos);
  EXPECT_NE(output.find("PATH="), std::string::npos);
}

TEST(LiveResponseTest, RunScriptTimeoutKillsTheWholeGroup) {
  Fixture f;
  test::TempDir marks;
  // A background child that would outlive the script if only the script were killed.
  f.library.files["hang.sh"] = "(sleep 1000; echo survived > " + marks.File("survivor") + ") &\necho $! > " +
                               marks.File("child") + "\necho started\nsleep 1000\n";
  LiveResponseOptions o = f.Options();
  o.script_timeout = std::chrono::milliseconds(300);
  auto r = RunLiveResponse({Cmd("RunScript", {{"ScriptName", "hang.sh"}}), Cmd("processes")}, o);
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_EQ(r.commands[0].status, "Failed");
  ASSERT_FALSE(r.commands[0].errors.empty());
  EXPECT_NE(r.commands[0].errors.back().find("timed out"), std::string::npos);
  json::Value out = ResultJson(r, 0);
  EXPECT_EQ(out.GetString("script_output"), "started\n");
  EXPECT_EQ(out.GetInt("exit_code"), 128 + 9);
  // The background subshell is gone too (its pid no longer names a live process of that group).
  std::string child = std::string(sensor::Trim(Slurp(marks.File("child"))));
  ASSERT_FALSE(child.empty());
  auto stat = sensor::ReadFile("/proc/" + child + "/stat");
  EXPECT_TRUE(!stat || stat->find(") Z ") != std::string::npos) << *stat;
  // Abort on failure: the next command did not run.
  EXPECT_EQ(r.commands[1].status, "Created");
  EXPECT_TRUE(r.commands[1].start_time.empty());
  EXPECT_NE(r.commands[1].errors[0].find("Not run"), std::string::npos);
}

TEST(LiveResponseTest, CancellationKillsARunningScript) {
  Fixture f;
  f.library.files["long.sh"] = "echo begin; sleep 1000\n";
  std::atomic<int> polls{0};
  LiveResponseOptions o = f.Options();
  o.cancelled = [&] { return ++polls > 5; };
  auto r = RunLiveResponse({Cmd("RunScript", {{"ScriptName", "long.sh"}}), Cmd("processes")}, o);
  EXPECT_EQ(r.commands[0].status, "Failed");
  EXPECT_NE(r.commands[0].errors.back().find("Cancelled"), std::string::npos);
  EXPECT_EQ(r.commands[1].status, "Created");
  EXPECT_FALSE(r.status.ok());
}

TEST(LiveResponseTest, FailureAbortsTheRestAndDetailsHaveMdeShape) {
  Fixture f;
  auto r = RunLiveResponse({Cmd("fileinfo", {{"Path", "/etc/hostname"}}), Cmd("GetFile", {{"Path", f.work.File("nope")}}),
                            Cmd("processes"), Cmd("connections")},
                           f.Options());
  ASSERT_EQ(r.commands.size(), 4u);
  EXPECT_EQ(r.commands[0].status, "Completed");
  EXPECT_EQ(r.commands[1].status, "Failed");
  EXPECT_EQ(r.commands[2].status, "Created");
  EXPECT_EQ(r.commands[3].status, "Created");
  EXPECT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.status.code(), StatusCode::kInternal);
  auto outcome = r.ToOutcome();
  EXPECT_FALSE(outcome.status.ok());
  const json::Value& cmds = *outcome.details.Find("commands");
  ASSERT_EQ(cmds.items().size(), 4u);
  const json::Value& failed = cmds.items()[1];
  EXPECT_EQ(failed.GetInt("index"), 1);
  EXPECT_EQ(failed.GetString("commandStatus"), "Failed");
  EXPECT_TRUE(failed.GetString("startTime").has_value());
  EXPECT_TRUE(failed.GetString("endTime").has_value());
  EXPECT_EQ(failed.Find("errors")->items().size(), 1u);
  EXPECT_EQ(failed.Find("command")->GetString("type"), "GetFile");
  EXPECT_TRUE(cmds.items()[2].Find("startTime")->is_null());
}

TEST(LiveResponseTest, BasicSessionRefusesAdvancedCommands) {
  Fixture f;
  f.library.files["x.sh"] = "echo hi\n";
  for (const char* type : {"RunScript", "PutFile"}) {
    auto r = RunLiveResponse({Cmd(type, {{"ScriptName", "x.sh"}, {"FileName", "x.sh"}})}, f.Options(/*advanced=*/false));
    EXPECT_EQ(r.commands[0].status, "Failed") << type;
    ASSERT_EQ(r.commands[0].errors.size(), 1u);
    EXPECT_NE(r.commands[0].errors[0].find("requires Live response advanced"), std::string::npos);
  }
  EXPECT_TRUE(f.library.fetched.empty());
}

TEST(LiveResponseTest, BasicReadOnlyCommands) {
  Fixture f;
  test::TempDir data;
  Write(data.File("a.txt"), "alpha");
  ::chmod(data.File("a.txt").c_str(), 0640);
  std::filesystem::create_directory(data.File("sub"));
  auto r = RunLiveResponse({Cmd("processes"), Cmd("connections"), Cmd("dir", {{"Path", data.path()}}),
                            Cmd("fileinfo", {{"path", data.File("a.txt")}}), Cmd("bogus")},
                           f.Options(/*advanced=*/false));
  ASSERT_EQ(r.commands.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r.commands[i].status, "Completed") << i;
  EXPECT_EQ(r.commands[4].status, "Failed");

  json::Value procs = ResultJson(r, 0);
  bool self = false;
  for (const json::Value& p : procs.items()) self |= p.GetInt("pid") == ::getpid();
  EXPECT_TRUE(self);
  EXPECT_TRUE(ResultJson(r, 1).is_array());

  json::Value dir = ResultJson(r, 2);
  ASSERT_EQ(dir.Find("entries")->items().size(), 2u);
  EXPECT_EQ(dir.Find("entries")->items()[0].GetString("name"), "a.txt");
  EXPECT_EQ(dir.Find("entries")->items()[1].GetString("type"), "directory");

  json::Value info = ResultJson(r, 3);
  EXPECT_EQ(info.GetInt("size"), 5);
  EXPECT_EQ(info.GetString("mode"), "0640");
  EXPECT_EQ(info.GetString("permissions"), "-rw-r-----");
  EXPECT_EQ(info.GetString("sha256"), HexEncode(Sha256("alpha")));
  EXPECT_EQ(info.GetString("sha1"), HexEncode(Sha1("alpha")));
  EXPECT_TRUE(info.GetString("modifiedTime").has_value());
}

TEST(RunProcessTest, OutputIsBoundedAndExitCodeReported) {
  ProcessRunOptions o;
  o.max_output_bytes = 100;
  auto r = RunProcess({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a; exit 7"}, o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->output, std::string(100, 'a'));
  EXPECT_TRUE(r->output_truncated);
  EXPECT_FALSE(RunProcess({"/nonexistent/program"}, o).has_value());
}

}  // namespace
}  // namespace ward::response
