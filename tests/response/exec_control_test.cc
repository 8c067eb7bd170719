// Execution control, tested for real with fanotify — always in a forked child with a private mount
// namespace, marking only a tmpfs it mounted itself, so no host binary can ever be blocked.
#include "response/exec_control.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/temp_dir.h"
#include "response/child_process.h"

namespace ward::response {
namespace {

using test::ChildFailures;

#define SKIP_UNLESS_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount namespaces, fanotify)"

// A tmpfs mounted in the child's private mount namespace, with two programs: copies of /bin/true
// that differ in a trailing byte, so they have different hashes.
struct ExecLab {
  test::TempDir dir{"ward-exec"};
  std::string mount = dir.File("mnt");
  std::string first = mount + "/first";
  std::string second = mount + "/second";
  std::string first_sha256, second_sha256, second_sha1;

  ~ExecLab() { ::umount2(mount.c_str(), MNT_DETACH); }

  std::string Setup() {
    ::mkdir(mount.c_str(), 0755);
    if (::mount("tmpfs", mount.c_str(), "tmpfs", 0, "size=16m,mode=0755") != 0) return "mount tmpfs failed";
    for (const auto* path : {&first, &second}) {
      std::error_code ec;
      std::filesystem::copy_file("/bin/true", *path, ec);
      if (ec) return "copy failed";
      std::string tag = *path == first ? "1" : "2";
      sensor::UniqueFd fd(::open(path->c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
      if (!fd.valid() || ::write(fd.get(), tag.data(), 1) != 1) return "append failed";
      ::chmod(path->c_str(), 0755);
    }
    first_sha256 = Hashes(first).sha256;
    auto h = Hashes(second);
    second_sha256 = h.sha256;
    second_sha1 = h.sha1;
    if (first_sha256.empty() || first_sha256 == second_sha256) return "hashing failed";
    return "";
  }

  static sensor::FileHashes Hashes(const std::string& path) {
    sensor::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    return sensor::HashFd(fd.get()).value_or(sensor::FileHashes{});
  }
};

// Exit code of running `path`; -1 with *exec_errno set when the exec failed.
int Run(const std::string& path, int* exec_errno) { return test::RunProgram({path}, false, exec_errno); }

bool Runs(const std::string& path) {
  int err = 0;
  return Run(path, &err) == 0;
}

bool Denied(const std::string& path) {
  int err = 0;
  return Run(path, &err) == -1 && (err == EPERM || err == EACCES);
}

// Runs `body` in a child with a private mount namespace and the lab mounted.
std::string InLab(const std::function<void(ChildFailures&, ExecLab&)>& body) {
  return test::RunInLab<ExecLab>(CLONE_NEWNS, body);
}

// The blocked-exec events for `path`. The event is emitted after the exec is answered, so a caller
// that expects `at_least` of them waits (up to 5 s) for them to arrive.
std::vector<json::Value> BlockedEvents(const sensor::CollectingSink& sink, const std::string& path, size_t at_least = 0) {
  std::vector<json::Value> out;
  for (int attempt = 0; attempt < 500; ++attempt) {
    out.clear();
    for (auto& ev : sink.Events()) {
      if (ev.GetString("ActionType") == std::string(kExecBlockedAction) && ev.GetString("FolderPath") == path) {
        out.push_back(ev);
      }
    }
    if (out.size() >= at_least) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return out;
}

std::string Reason(const json::Value& ev) {
  auto af = json::Value::Parse(ev.GetString("AdditionalFields").value_or("{}"));
  return af ? af->GetString("Reason").value_or("") + "|" + af->GetString("IndicatorValue").value_or("") : "bad json";
}

TEST(ParseLocalMountsTest, KeepsRealFilesystemsOnly) {
  const char* mountinfo =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
      "24 22 0:22 / /sys rw,nosuid shared:2 - sysfs sysfs rw\n"
      "25 24 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
      "26 22 0:5 / /dev rw,nosuid shared:3 - devtmpfs udev rw\n"
      "27 26 0:24 / /dev/shm rw,nosuid,nodev shared:4 - tmpfs tmpfs rw\n"
      "28 22 8:2 / /mnt/my\\040disk rw - xfs /dev/sda2 rw\n"
      "29 22 0:40 / /srv/nfs rw - nfs4 server:/x rw\n"
      "30 22 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "garbage line\n";
  EXPECT_EQ(ParseLocalMounts(mountinfo), (std::vector<std::string>{"/", "/dev/shm", "/mnt/my disk"}));
  auto real = LocalMounts();
  EXPECT_FALSE(real.empty());
  EXPECT_EQ(std::count(real.begin(), real.end(), "/proc"), 0);
}

TEST(ExecControlStateTest, SaveLoadRoundTrip) {
  test::TempDir dir("ward-exec-state");
  auto none = ExecControl::LoadState(dir.path());
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());

  ExecControl control({});
  RestrictPolicy policy;
  policy.allowed_sha256 = {"ABCDEF"};
  policy.allowed_paths = {"/srv/app/run"};
  policy.allowed_prefixes = {"/usr/", "/opt/vendor/"};
  control.SetRestricted(true, policy);
  ASSERT_TRUE(control.SaveState(dir.path()).ok());
  auto loaded = ExecControl::LoadState(dir.path());
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  policy.allowed_sha256 = {"abcdef"};  // stored lower-case
  EXPECT_EQ(**loaded, policy);

  ExecControl restarted({});
  ASSERT_TRUE(restarted.Restore(dir.path()).ok());
  EXPECT_TRUE(restarted.restricted());
  EXPECT_EQ(*restarted.restriction(), policy);

  control.SetRestricted(false);
  ASSERT_TRUE(control.SaveState(dir.path()).ok());
  ASSERT_TRUE(restarted.Restore(dir.path()).ok());
  EXPECT_FALSE(restarted.restricted());

  sensor::WriteFileAtomic(dir.File(std::string(kRestrictionStateFile)), R"({"restricted":true,"allowedPaths":[1]})");
  EXPECT_EQ(ExecControl::LoadState(dir.path()).error().code(), StatusCode::kInvalidArgument);
}

TEST(ExecControlTest, StartFailsWithoutMarkableMounts) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, ExecLab& lab) {
    ExecControl control({.mounts = {lab.dir.File("not-there")}});
    Status st = control.Start();
    CHILD_EXPECT(f, st.code() == StatusCode::kUnavailable, st.ToString());
    CHILD_EXPECT(f, !control.running(), "");
    ExecControl twice({.mounts = {lab.mount}});
    CHILD_EXPECT(f, twice.Start().ok(), "");
    CHILD_EXPECT(f, twice.Start().code() == StatusCode::kFailedPrecondition, "second Start");
  });
  EXPECT_EQ(failures, "");
}

TEST(ExecControlTest, ScriptsAreJudgedLikeBinaries) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, ExecLab& lab) {
    std::string script = lab.mount + "/script.sh";
    CHILD_EXPECT(f, sensor::WriteFileAtomic(script, "#!/bin/sh\nexit 0\n", 0755).ok(), "");
    ExecControl control({.mounts = {lab.mount}});
    CHILD_EXPECT(f, control.Start().ok(), "");
    CHILD_EXPECT(f, Runs(script), "script did not run unrestricted");
    control.SetRestricted(true);
    // The interpreter (/bin/sh, a system path) may run; the script itself may not.
    CHILD_EXPECT(f, Denied(script), "script outside the policy ran");
    RestrictPolicy policy;
    policy.allowed_sha256 = {ExecLab::Hashes(script).sha256};
    control.SetRestricted(true, policy);
    CHILD_EXPECT(f, Runs(script), "allowlisted script denied");
  });
  EXPECT_EQ(failures, "");
}

TEST(ExecControlTest, RestrictionAllowsOnlyWhatThePolicyLists) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, ExecLab& lab) {
    sensor::CollectingSink sink;
    ExecControl control({.mounts = {lab.mount}, .sink = &sink});
    Status st = control.Start();
    CHILD_EXPECT(f, st.ok(), st.ToString());
    CHILD_EXPECT(f, control.marked_mounts() == std::vector<std::string>{lab.mount}, "");
    CHILD_EXPECT(f, Runs(lab.first) && Runs(lab.second), "not restricted yet");

    RestrictPolicy policy;
    policy.allowed_sha256 = {lab.first_sha256};
    control.SetRestricted(true, policy);
    CHILD_EXPECT(f, Runs(lab.first), "allowlisted hash denied");
    CHILD_EXPECT(f, Denied(lab.second), "file outside the policy ran");
    CHILD_EXPECT(f, Runs("/bin/true"), "host binary outside the marked mount affected");
    auto events = BlockedEvents(sink, lab.second, 1);
    CHILD_EXPECT(f, events.size() == 1, "events: " + std::to_string(events.size()));
    CHILD_EXPECT(f, BlockedEvents(sink, lab.first).empty(), "allowed file reported");
    if (events.size() == 1) {
      const auto& ev = events[0];
      CHILD_EXPECT(f, ev.GetString("$table") == std::string("DeviceEvents"), "");
      CHILD_EXPECT(f, ev.GetString("FileName") == std::string("second"), ev.Serialize());
      CHILD_EXPECT(f, ev.GetString("SHA256") == lab.second_sha256, ev.Serialize());
      CHILD_EXPECT(f, ev.GetString("SHA1") == lab.second_sha1, ev.Serialize());
      CHILD_EXPECT(f, ev.GetInt("InitiatingProcessId").value_or(0) > 0, ev.Serialize());
      CHILD_EXPECT(f, ev.GetString("InitiatingProcessFileName").has_value(), ev.Serialize());
      CHILD_EXPECT(f, Reason(ev) == "RestrictCodeExecution|", Reason(ev));
    }

    // An exact path in the policy runs too.
    policy.allowed_paths = {lab.second};
    control.SetRestricted(true, policy);
    CHILD_EXPECT(f, Runs(lab.second), "allowlisted path denied");

    control.SetRestricted(false);
    CHILD_EXPECT(f, Runs(lab.first) && Runs(lab.second), "still restricted after lifting");
    CHILD_EXPECT(f, BlockedEvents(sink, lab.second, 1).size() == 1, "events after lifting");
    CHILD_EXPECT(f, control.stats().denied == 1, std::to_string(control.stats().denied));

    // Restricting by prefix: the whole mount is a "system" location.
    policy = RestrictPolicy{};
    policy.allowed_prefixes = {lab.mount + "/"};
    control.SetRestricted(true, policy);
    CHILD_EXPECT(f, Runs(lab.first) && Runs(lab.second), "allowed prefix denied");

    control.SetRestricted(true);  // default prefixes only
    CHILD_EXPECT(f, Denied(lab.first), "default policy allowed a file in /tmp");
    control.Stop();
    CHILD_EXPECT(f, Runs(lab.first), "denied after Stop");
  });
  EXPECT_EQ(failures, "");
}

TEST(ExecControlTest, BlockedHashesDenyUnlessAllowed) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, ExecLab& lab) {
    sensor::CollectingSink sink;
    sensor::HashCache cache;
    ExecControl control({.mounts = {lab.mount}, .sink = &sink, .hashes = &cache});
    Status st = control.Start();
    CHILD_EXPECT(f, st.ok(), st.ToString());

    std::string upper = lab.first_sha256;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    control.SetBlockedHashes({.sha256 = {upper}, .sha1 = {lab.second_sha1}});
    CHILD_EXPECT(f, !control.restricted(), "");
    CHILD_EXPECT(f, Denied(lab.first), "blocked SHA256 ran");
    CHILD_EXPECT(f, Denied(lab.first), "blocked SHA256 ran the second time (cached hash)");
    CHILD_EXPECT(f, Denied(lab.second), "blocked SHA1 ran");
    CHILD_EXPECT(f, cache.hits() > 0, "repeated exec hashed again");
    auto first = BlockedEvents(sink, lab.first, 2);
    CHILD_EXPECT(f, first.size() == 2, std::to_string(first.size()));
    if (!first.empty()) CHILD_EXPECT(f, Reason(first[0]) == "Indicator|" + lab.first_sha256, Reason(first[0]));
    auto second = BlockedEvents(sink, lab.second, 1);
    if (!second.empty()) CHILD_EXPECT(f, Reason(second[0]) == "Indicator|" + lab.second_sha1, Reason(second[0]));

    // An Allowed indicator wins over a block (and over the restriction).
    control.SetAllowedHashes({.sha256 = {lab.first_sha256}, .sha1 = {}});
    CHILD_EXPECT(f, Runs(lab.first), "allowed hash still blocked");
    CHILD_EXPECT(f, Denied(lab.second), "unrelated block lifted");
    control.SetRestricted(true);
    CHILD_EXPECT(f, Runs(lab.first), "allowed hash denied by the restriction");

    control.SetAllowedHashes({});
    control.SetBlockedHashes({});
    control.SetRestricted(false);
    CHILD_EXPECT(f, Runs(lab.first) && Runs(lab.second), "blocks left after clearing");
  });
  EXPECT_EQ(failures, "");
}

TEST(ExecControlTest, FilesOverTheHashLimitAreJudgedByPathOnly) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, ExecLab& lab) {
    sensor::CollectingSink sink;
    ExecControl control({.mounts = {lab.mount}, .sink = &sink, .max_hash_bytes = 1024});  // /bin/true is larger
    CHILD_EXPECT(f, control.Start().ok(), "");
    control.SetBlockedHashes({.sha256 = {lab.first_sha256}, .sha1 = {}});
    CHILD_EXPECT(f, Runs(lab.first), "unhashed file matched a hash");
    RestrictPolicy policy;
    policy.allowed_sha256 = {lab.first_sha256};
    control.SetRestricted(true, policy);
    CHILD_EXPECT(f, Denied(lab.first), "unhashed file outside the allowed paths ran");
    auto events = BlockedEvents(sink, lab.first, 1);
    CHILD_EXPECT(f, events.size() == 1 && !events[0].Find("SHA256"), "");
  });
  EXPECT_EQ(failures, "");
}

}  // namespace
}  // namespace ward::response
