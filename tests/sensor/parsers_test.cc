// Pure parsing helpers: /proc files, os-release, resolv.conf, routes, auth.log, IP classification.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <utmp.h>

#include <cstring>

#include <fstream>

#include "common/time.h"
#include "sensor/event.h"
#include "sensor/fake_server.h"
#include "sensor/hashes.h"
#include "sensor/host.h"
#include "sensor/logon_collector.h"
#include "sensor/network_collector.h"
#include "sensor/proc.h"

namespace ward::sensor {
namespace {

using testing::TempDir;

TEST(ProcParseTest, StatWithSpacesAndParensInComm) {
  std::string stat =
      "4242 (my (weird) proc) S 100 4242 4242 0 -1 4194560 123 0 0 0 5 3 0 0 20 0 1 0 987654 12345678 300 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto st = ParseProcStat(stat);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->comm, "my (weird) proc");
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 100);
  EXPECT_EQ(st->start_ticks, 987654u);
  EXPECT_FALSE(ParseProcStat("garbage").has_value());
  EXPECT_FALSE(ParseProcStat("12 (x) S 1 2").has_value());
}

TEST(ProcParseTest, OwnStatIsReadable) {
  auto raw = ReadFile("/proc/self/stat");
  ASSERT_TRUE(raw.has_value());
  auto st = ParseProcStat(*raw);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, ::getpid());
  EXPECT_EQ(st->ppid, ::getppid());
  // Creation time is in the past and after 2020.
  int64_t created = StartTicksToKql(st->start_ticks);
  EXPECT_LE(created, NowTicks() + kTicksPerSecond);
  EXPECT_GT(created, *ParseIsoTicks("2020-01-01T00:00:00Z"));
}

TEST(ProcParseTest, Cmdline) {
  using namespace std::string_literals;
  EXPECT_EQ(JoinCmdline("ls\0-la\0/tmp\0"s), "ls -la /tmp");
  EXPECT_EQ(JoinCmdline("sh\0-c\0echo hi | wc\0"s), "sh -c \"echo hi | wc\"");
  EXPECT_EQ(JoinCmdline("a\0\0b\0"s), "a \"\" b");
  EXPECT_EQ(JoinCmdline("say\0he said \"x\"\0"s), "say \"he said \\\"x\\\"\"");
  EXPECT_EQ(JoinCmdline(""), "");
  // Processes that rewrite their argv (nginx, sshd) use spaces within one argument.
  EXPECT_EQ(JoinCmdline("nginx: worker process\0\0\0"s), "nginx: worker process");
  EXPECT_EQ(JoinCmdline(std::string(100, 'x'), 10).size(), 10u);
}

TEST(ProcParseTest, Status) {
  auto st = ParseProcStatus("Name:\tbash\nTgid:\t77\nPid:\t77\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->uid, 1000u);
  EXPECT_EQ(st->euid, 0u);
  EXPECT_EQ(st->gid, 100u);
  EXPECT_EQ(st->tgid, 77);
  EXPECT_FALSE(ParseProcStatus("Name:\tx\n").has_value());
}

TEST(ProcParseTest, SocketInode) {
  EXPECT_EQ(ParseSocketInode("socket:[12345]"), 12345u);
  EXPECT_EQ(ParseSocketInode("pipe:[12345]"), 0u);
  EXPECT_EQ(ParseSocketInode("/dev/null"), 0u);
  EXPECT_EQ(ParseSocketInode("socket:[x]"), 0u);
}

TEST(ProcParseTest, ProcessTableReadsSelfAndCachesHashes) {
  HashCache hashes;
  ProcessTable table(&hashes);
  auto me = table.Get(::getpid());
  ASSERT_TRUE(me);
  EXPECT_EQ(me->pid, ::getpid());
  EXPECT_FALSE(me->exe_path.empty());
  EXPECT_NE(me->cmdline.find("ward_sensor_tests"), std::string::npos);
  ASSERT_TRUE(me->hashes.has_value());
  EXPECT_EQ(me->hashes->sha256.size(), 64u);
  EXPECT_EQ(me->account_name, UserName(::getuid()));
  // Cached on the second lookup (same start time).
  EXPECT_EQ(table.Get(::getpid()).get(), me.get());
  EXPECT_EQ(table.Get(999999999), nullptr);
}

TEST(HashCacheTest, HashesAndCachesByIdentity) {
  TempDir dir;
  std::string path = dir.File("f.bin");
  { std::ofstream(path) << "abc"; }
  HashCache cache;
  auto h = cache.ForPath(path);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(h->sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(h->md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(h->size, 3);
  EXPECT_EQ(cache.misses(), 1u);
  cache.ForPath(path);
  EXPECT_EQ(cache.hits(), 1u);
  // Content change (size and mtime) is a new key.
  { std::ofstream(path) << "abcd"; }
  auto h2 = cache.ForPath(path);
  ASSERT_TRUE(h2.has_value());
  EXPECT_EQ(h2->size, 4);
  EXPECT_NE(h2->sha256, h->sha256);
  // Over the limit: not hashed.
  EXPECT_FALSE(cache.ForPath(path, 2).has_value());
  EXPECT_FALSE(cache.ForPath(dir.path()).has_value());  // directory
}

TEST(HostParseTest, OsRelease) {
  auto os = ParseOsRelease("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n# c\n");
  EXPECT_EQ(os["VERSION_ID"], "12");
  EXPECT_EQ(os["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(DistributionName(os), "Debian");
  EXPECT_EQ(DistributionName(ParseOsRelease("ID=ubuntu\n")), "Ubuntu");
  EXPECT_EQ(DistributionName(ParseOsRelease("ID=rhel\n")), "RHEL");
  EXPECT_EQ(DistributionName(ParseOsRelease("ID=weird\nNAME='Weird OS'\n")), "Weird OS");
  EXPECT_EQ(ArchitectureBits("x86_64"), "64-bit");
  EXPECT_EQ(ArchitectureBits("i686"), "32-bit");
}

TEST(HostParseTest, ResolvConfAndRoutes) {
  EXPECT_EQ(ParseResolvConf("# x\nnameserver 10.0.0.53\nsearch corp.local\nnameserver  ::1 # local\n"),
            (std::vector<std::string>{"10.0.0.53", "::1"}));
  std::string routes =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
  EXPECT_EQ(ParseDefaultGateways(routes), (std::vector<std::string>{"192.168.2.1"}));
}

TEST(HostParseTest, LocalInterfacesIncludeLoopback) {
  auto itfs = LocalInterfaces();
  bool lo = false;
  for (const auto& i : itfs) {
    if (i.type == "SoftwareLoopback") {
      lo = true;
      bool v4 = false;
      for (const auto& a : i.addresses) v4 |= a.address == "127.0.0.1" && a.prefix == 8;
      EXPECT_TRUE(v4);
    }
  }
  EXPECT_TRUE(lo);
}

TEST(EventHelpersTest, IpTypes) {
  EXPECT_EQ(IpType("127.0.0.1"), "Loopback");
  EXPECT_EQ(IpType("10.1.2.3"), "Private");
  EXPECT_EQ(IpType("172.20.0.1"), "Private");
  EXPECT_EQ(IpType("172.32.0.1"), "Public");
  EXPECT_EQ(IpType("192.168.1.1"), "Private");
  EXPECT_EQ(IpType("169.254.1.1"), "LinkLocal");
  EXPECT_EQ(IpType("224.0.0.251"), "Multicast");
  EXPECT_EQ(IpType("8.8.8.8"), "Public");
  EXPECT_EQ(IpType("0.0.0.0"), "Reserved");
  EXPECT_EQ(IpType("::1"), "Loopback");
  EXPECT_EQ(IpType("fe80::1"), "LinkLocal");
  EXPECT_EQ(IpType("fd00::1"), "Private");
  EXPECT_EQ(IpType("2001:4860:4860::8888"), "Public");
  EXPECT_EQ(IpType("::ffff:1.2.3.4"), "FourToSixMapping");
  EXPECT_EQ(IpType("nonsense"), "");
  EXPECT_EQ(UnmapIpv4("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(UnmapIpv4("::1"), "::1");
}

TEST(EventHelpersTest, NewEventShape) {
  json::Value ev = NewEvent(kFileTable, "FileCreated", *ParseIsoTicks("2026-11-23T10:00:00.1234567Z"));
  EXPECT_EQ(ev.Serialize(),
            R"({"$table":"DeviceFileEvents","Timestamp":"2026-11-23T10:00:00.1234567Z","ActionType":"FileCreated"})");
  EXPECT_EQ(NewEvent(kInfoTable, "").Find("ActionType"), nullptr);
}

TEST(NetParseTest, ProcNetTcp) {
  std::string v4 =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11111 1 0 100 0 0 10 0\n"
      "   1: 0F02000A:C350 2AD8F1AC:01BB 01 00000000:00000000 02:000A7D66 00000000  1000        0 22222 2 0 20 4 30 10 -1\n"
      "   2: 0F02000A:C351 2AD8F1AC:01BB 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0\n";
  auto s = ParseProcNetTcp(v4, false);
  ASSERT_EQ(s.size(), 2u);  // the TIME_WAIT entry without inode is skipped
  EXPECT_EQ(s[0].local_ip, "127.0.0.1");
  EXPECT_EQ(s[0].local_port, 8080);
  EXPECT_EQ(s[0].state, 10);
  EXPECT_EQ(s[0].inode, 11111u);
  EXPECT_EQ(s[1].local_ip, "10.0.2.15");
  EXPECT_EQ(s[1].local_port, 50000);
  EXPECT_EQ(s[1].remote_ip, "172.241.216.42");
  EXPECT_EQ(s[1].remote_port, 443);
  EXPECT_EQ(s[1].uid, 1000u);
  std::string v6 =
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 33333 1 0\n"
      "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 44444 1 0\n";
  auto s6 = ParseProcNetTcp(v6, true);
  ASSERT_EQ(s6.size(), 2u);
  EXPECT_EQ(s6[0].local_ip, "::1");
  EXPECT_EQ(s6[0].local_port, 22);
  EXPECT_EQ(s6[1].local_ip, "127.0.0.1");  // v4-mapped addresses are shown as IPv4
  EXPECT_EQ(s6[1].remote_port, 54321);
}

TEST(NetParseTest, SockDiagMatchesProcNet) {
  auto diag = DumpTcpSockets();
  if (!diag) GTEST_SKIP() << "sock_diag unavailable";
  auto text = ReadFile("/proc/net/tcp");
  ASSERT_TRUE(text.has_value());
  // Every listening socket in /proc/net/tcp appears in the sock_diag dump with the same port.
  for (const auto& e : ParseProcNetTcp(*text, false)) {
    if (e.state != 10) continue;
    bool found = false;
    for (const auto& d : *diag) found |= d.inode == e.inode && d.local_port == e.local_port;
    EXPECT_TRUE(found) << e.local_ip << ":" << e.local_port;
  }
}

TEST(LogonParseTest, FailedPasswordLines) {
  int64_t now = *ParseIsoTicks("2026-03-10T12:00:00Z");
  auto f = ParseFailedPasswordLine(
      "Mar 10 11:59:01 web-01 sshd[2311]: Failed password for invalid user admin from 203.0.113.9 port 52514 ssh2", now);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->user, "admin");
  EXPECT_TRUE(f->invalid_user);
  EXPECT_EQ(f->remote_ip, "203.0.113.9");
  EXPECT_EQ(f->remote_port, 52514);
  EXPECT_EQ(f->pid, 2311);
  EXPECT_GT(f->ticks, now - 2 * 86400 * kTicksPerSecond);
  EXPECT_LT(f->ticks, now + 2 * 86400 * kTicksPerSecond);

  auto g = ParseFailedPasswordLine(
      "2026-03-10T11:59:01.123456+00:00 web-01 sshd[99]: Failed password for root from 2001:db8::5 port 40000 ssh2", now);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->user, "root");
  EXPECT_FALSE(g->invalid_user);
  EXPECT_EQ(g->remote_ip, "2001:db8::5");
  EXPECT_EQ(FormatIsoTicks(g->ticks), "2026-03-10T11:59:01.1234560Z");

  EXPECT_FALSE(ParseFailedPasswordLine("Mar 10 11:59:01 web-01 sshd[1]: Accepted password for root from 1.2.3.4 port 1 ssh2", now));
  EXPECT_FALSE(ParseFailedPasswordLine("Mar 10 11:59:01 web-01 sudo: Failed password for x from y", now));
}

TEST(LogonCollectorTest, FollowsAuthLogAndWtmp) {
  TempDir dir;
  std::string auth = dir.File("auth.log");
  std::string wtmp = dir.File("wtmp");
  { std::ofstream(auth) << "Mar 10 11:00:00 h sshd[1]: Failed password for old from 1.1.1.1 port 1 ssh2\n"; }
  { std::ofstream created_empty(wtmp); }
  CollectingSink sink;
  LogonCollectorOptions o;
  o.auth_log_path = auth;
  o.wtmp_path = wtmp;
  o.offsets_file = dir.File("offsets.json");
  {
    LogonCollector c(&sink, nullptr, o);
    c.PollOnce();  // first run: starts at the end, history is not replayed
    EXPECT_TRUE(sink.Events().empty());
    {
      std::ofstream out(auth, std::ios::app);
      out << "Mar 10 11:00:05 h sshd[7]: Failed password for invalid user guest from 198.51.100.7 port 4242 ssh2\n";
      out << "Mar 10 11:00:06 h sshd[7]: Connection closed by 198.51.100.7\n";
      out << "Mar 10 11:00:07 h sshd[8]: Failed password for ro";  // incomplete line
    }
    utmp u{};
    u.ut_type = USER_PROCESS;
    std::strcpy(u.ut_user, "alice");
    std::strcpy(u.ut_host, "10.9.8.7");
    std::strcpy(u.ut_line, "pts/3");
    u.ut_tv.tv_sec = 1'770'000'000;
    inet_pton(AF_INET, "10.9.8.7", &u.ut_addr_v6[0]);
    {
      std::ofstream out(wtmp, std::ios::binary | std::ios::app);
      out.write(reinterpret_cast<const char*>(&u), sizeof(u));
    }
    c.PollOnce();
  }
  auto events = sink.Events();
  ASSERT_EQ(events.size(), 2u);
  const json::Value* success = nullptr;
  const json::Value* failed = nullptr;
  for (const auto& e : events) {
    if (e.GetString("ActionType") == "LogonSuccess") success = &e;
    if (e.GetString("ActionType") == "LogonFailed") failed = &e;
  }
  ASSERT_TRUE(success && failed);
  EXPECT_EQ(failed->GetString("AccountName").value_or(""), "guest");
  EXPECT_EQ(failed->GetString("RemoteIP").value_or(""), "198.51.100.7");
  EXPECT_EQ(failed->GetInt("RemotePort").value_or(0), 4242);
  EXPECT_EQ(failed->GetString("FailureReason").value_or(""), "UnknownUser");
  EXPECT_EQ(success->GetString("AccountName").value_or(""), "alice");
  EXPECT_EQ(success->GetString("RemoteIP").value_or(""), "10.9.8.7");
  EXPECT_EQ(success->GetString("LogonType").value_or(""), "RemoteInteractive");
  EXPECT_EQ(success->GetString("Timestamp").value_or(""), FormatIsoTicks(1'770'000'000LL * kTicksPerSecond));

  // A restart resumes at the saved offsets: only the completed line is new.
  { std::ofstream(auth, std::ios::app) << "ot from 192.0.2.1 port 22 ssh2\n"; }
  CollectingSink sink2;
  LogonCollector c2(&sink2, nullptr, o);
  c2.PollOnce();
  auto events2 = sink2.Events();
  ASSERT_EQ(events2.size(), 1u);
  EXPECT_EQ(events2[0].GetString("AccountName").value_or(""), "root");
}

}  // namespace
}  // namespace ward::sensor
