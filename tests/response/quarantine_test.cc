#include "response/quarantine.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/crypto.h"
#include "common/temp_dir.h"
#include "sensor/util.h"

namespace ward::response {
namespace {

std::string Slurp(const std::string& path) { return sensor::ReadFile(path, 64 * 1024 * 1024).value_or("<missing>"); }

// A copy of /bin/sleep made unique (a marker appended after the ELF image), so its SHA1 is ours alone.
std::string UniqueSleep(const test::TempDir& dir) {
  const std::string path = dir.File("ward-test-sleep");
  std::string image = Slurp("/bin/sleep");
  image += "ward-quarantine-test-" + RandomToken(12);
  std::ofstream(path, std::ios::binary) << image;
  ::chmod(path.c_str(), 0751);
  struct timespec times[2] = {{1600000000, 123456789}, {1600000123, 987654321}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
  return path;
}

pid_t Start(const std::string& path) {
  pid_t pid = 0;
  char arg0[] = "ward-test-sleep";
  char arg1[] = "1000";
  char* argv[] = {arg0, arg1, nullptr};
  if (::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ) != 0) return -1;
  // Until exec has happened /proc/<pid>/exe still names the test binary.
  for (int i = 0; i < 500; ++i) {
    char buf[4096];
    ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf);
    if (n > 0 && std::string(buf, static_cast<size_t>(n)) == path) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

TEST(QuarantineTest, StopsRunningCopyQuarantinesAndRestoresIdentically) {
  test::TempDir dir;
  test::TempDir state;
  const std::string path = UniqueSleep(dir);
  const std::string original = Slurp(path);
  const std::string sha1 = HexEncode(Sha1(original));
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);

  pid_t pid = Start(path);
  ASSERT_GT(pid, 0);

  QuarantineStore store(state.File("quarantine"));
  sensor::CollectingSink sink;
  StopAndQuarantineRequest req;
  req.sha1 = sha1;
  // Upper case is accepted; a duplicate and a missing candidate are harmless.
  for (char& c : req.sha1) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  req.candidate_paths = {path, dir.File("not-there")};
  auto result = StopAndQuarantineFile(req, store, &sink);
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_TRUE(result->status().ok()) << result->ToJson().Serialize();

  ASSERT_EQ(result->killed.size(), 1u) << result->ToJson().Serialize();
  EXPECT_EQ(result->killed[0].pid, pid);
  EXPECT_EQ(result->killed[0].exe_path, path);
  EXPECT_NE(result->killed[0].command_line.find("1000"), std::string::npos);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus));
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);

  ASSERT_EQ(result->quarantined.size(), 1u);
  const QuarantineEntry& e = result->quarantined[0];
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(e.original_path, path);
  EXPECT_EQ(e.sha1, sha1);
  EXPECT_EQ(e.sha256, HexEncode(Sha256(original)));
  EXPECT_EQ(e.md5, HexEncode(Md5(original)));
  EXPECT_EQ(e.mode, 0751u);
  EXPECT_EQ(e.size, static_cast<int64_t>(original.size()));
  EXPECT_EQ(e.uid, before.st_uid);
  EXPECT_EQ(e.mtime_ns, 1600000123LL * 1000000000 + 987654321);

  // The store: 0700 directories, a 0400 copy of the bytes, metadata that survives a reload.
  struct stat st {};
  ASSERT_EQ(::stat(store.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((store.dir() + "/" + e.id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat(store.StoredPath(e.id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  EXPECT_EQ(Slurp(store.StoredPath(e.id)), original);
  auto listed = store.List();
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].ToJson(), e.ToJson());

  auto details = result->ToJson();
  EXPECT_EQ(details.Find("killedProcesses")->items().size(), 1u);
  EXPECT_EQ(details.Find("quarantinedFiles")->items()[0].GetString("id"), e.id);
  EXPECT_EQ(details.Find("skippedPaths")->items().size(), 1u);

  auto events = sink.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].GetString("ActionType"), "AntivirusMalwareBlocked");
  EXPECT_EQ(events[0].GetString("FolderPath"), path);
  EXPECT_EQ(events[0].GetString("SHA1"), sha1);

  // Restore refuses to clobber a file that took the name meanwhile, unless asked to.
  std::ofstream(path) << "newcomer";
  EXPECT_EQ(store.Restore(e.id).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Slurp(path), "newcomer");
  ASSERT_TRUE(store.Restore(e.id, /*overwrite=*/true).ok());

  EXPECT_EQ(Slurp(path), original);
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 07777, 0751u);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_gid, before.st_gid);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_TRUE(store.List()->empty());
  EXPECT_EQ(store.Restore(e.id).code(), StatusCode::kNotFound);
}

TEST(QuarantineTest, RefusesAFileWithAnotherSha1AndBadInput) {
  test::TempDir dir;
  test::TempDir state;
  std::ofstream(dir.File("a")) << "some content";
  QuarantineStore store(state.File("quarantine"));
  auto q = store.Quarantine(dir.File("a"), HexEncode(Sha1("other content")));
  EXPECT_EQ(q.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::exists(dir.File("a")));

  std::filesystem::create_symlink(dir.File("a"), dir.File("link"));
  EXPECT_FALSE(store.Quarantine(dir.File("link"), HexEncode(Sha1("some content"))).has_value());
  EXPECT_TRUE(std::filesystem::exists(dir.File("a")));

  EXPECT_EQ(StopAndQuarantineFile({"not-a-sha1", {}}, store, nullptr).error().code(), StatusCode::kInvalidArgument);
  auto none = StopAndQuarantineFile({HexEncode(Sha1("nobody has this")), {dir.File("a")}}, store, nullptr);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none->skipped.size(), 1u);
  EXPECT_EQ(store.Get("../etc").error().code(), StatusCode::kInvalidArgument);
}

TEST(QuarantineTest, CopiesAcrossFilesystems) {
  // /dev/shm is a tmpfs; when /tmp is on another filesystem the store must copy, fsync and unlink.
  struct stat shm {}, tmp {};
  if (::stat("/dev/shm", &shm) != 0 || ::stat("/tmp", &tmp) != 0 || shm.st_dev == tmp.st_dev) {
    GTEST_SKIP() << "/dev/shm and /tmp are one filesystem here";
  }
  char tmpl[] = "/dev/shm/ward-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string store_dir = std::string(tmpl) + "/quarantine";
  test::TempDir dir;
  const std::string path = dir.File("payload.sh");
  std::ofstream(path) << "#!/bin/sh\necho payload\n";
  ::chmod(path.c_str(), 0700);
  const std::string original = Slurp(path);
  QuarantineStore store(store_dir);
  auto e = store.Quarantine(path, HexEncode(Sha1(original)));
  ASSERT_TRUE(e.has_value()) << e.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(Slurp(store.StoredPath(e->id)), original);
  ASSERT_TRUE(store.Restore(e->id).ok());
  EXPECT_EQ(Slurp(path), original);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace ward::response
