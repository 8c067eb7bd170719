// Network isolation and indicator blocking, tested for real with nftables — always inside a network
// namespace created by a forked child (RunInChild + unshare(CLONE_NEWNET)), never on the host.
#include "response/isolation.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include "common/temp_dir.h"
#include "response/child_process.h"
#include "response/net_lab.h"

namespace ward::response {
namespace {

using test::CanConnect;
using test::ChildFailures;
using test::ConnectTcp;
using test::Echoes;
using test::kExpectFail;
using test::kExpectOk;
using test::kLabPeer;
using test::kLabServer;
using test::NetLab;

#define SKIP_UNLESS_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nftables)"

// Runs `body` in a child inside a fresh network namespace with the lab built.
std::string InLab(const std::function<void(ChildFailures&, NetLab&)>& body) {
  return test::RunInLab<NetLab>(CLONE_NEWNET, body);
}

IsolationSpec Spec(std::vector<std::string> addresses, std::vector<uint16_t> ports = {}, bool selective = false) {
  return IsolationSpec{selective, std::move(addresses), std::move(ports)};
}

int Nft(const std::string& command) { return test::RunProgram({"/usr/sbin/nft", command}); }

TEST(ParseAddressOrCidrTest, CanonicalisesAndRejects) {
  EXPECT_EQ(ParseAddressOrCidr("10.1.2.3")->text, "10.1.2.3");
  EXPECT_FALSE(ParseAddressOrCidr("10.1.2.3")->v6);
  EXPECT_EQ(ParseAddressOrCidr(" 10.1.2.3/8 ")->text, "10.0.0.0/8");
  EXPECT_EQ(ParseAddressOrCidr("10.1.2.3/32")->text, "10.1.2.3");
  EXPECT_EQ(ParseAddressOrCidr("2001:DB8::1/32")->text, "2001:db8::/32");
  EXPECT_TRUE(ParseAddressOrCidr("2001:db8::1")->v6);
  EXPECT_EQ(ParseAddressOrCidr("::ffff:192.0.2.7")->text, "192.0.2.7");
  EXPECT_EQ(ParseAddressOrCidr("::ffff:192.0.2.0/120")->text, "192.0.2.0/24");
  for (const char* bad : {"", "evil.com", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "1.2.3.4; flush ruleset",
                          "::1/129", "10.0.0.1/8x"}) {
    EXPECT_FALSE(ParseAddressOrCidr(bad).has_value()) << bad;
  }
}

TEST(NetworkIsolationStateTest, SaveLoadRoundTrip) {
  test::TempDir dir("ward-iso-state");
  auto none = NetworkIsolation::LoadState(dir.path());
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());

  NetworkIsolation iso;  // never applied: saving says "not isolated"
  ASSERT_TRUE(iso.SaveState(dir.path()).ok());
  auto still_none = NetworkIsolation::LoadState(dir.path());
  ASSERT_TRUE(still_none.has_value());
  EXPECT_FALSE(still_none->has_value());

  sensor::WriteFileAtomic(dir.File(std::string(kIsolationStateFile)),
                          R"({"isolated":true,"scope":"Selective","allowedAddresses":["192.0.2.1","2001:db8::2"],)"
                          R"("allowedPorts":[443,8443]})");
  auto loaded = NetworkIsolation::LoadState(dir.path());
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  IsolationSpec want{true, {"192.0.2.1", "2001:db8::2"}, {443, 8443}};
  EXPECT_EQ(**loaded, want);

  sensor::WriteFileAtomic(dir.File(std::string(kIsolationStateFile)), "{not json");
  EXPECT_EQ(NetworkIsolation::LoadState(dir.path()).error().code(), StatusCode::kInvalidArgument);
  sensor::WriteFileAtomic(dir.File(std::string(kIsolationStateFile)), R"({"isolated":true,"allowedPorts":[70000]})");
  EXPECT_FALSE(NetworkIsolation::LoadState(dir.path()).has_value());
}

TEST(NetworkIsolationTest, FullIsolationKeepsOnlyServerAndLoopback) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, NetLab& lab) {
    // Someone else's table in the same namespace: must survive isolate and unisolate.
    CHILD_EXPECT(f, Nft("add table inet host_firewall") == 0, "");
    auto established = ConnectTcp(kLabPeer, lab.peer_port, kExpectOk);
    CHILD_EXPECT(f, established.valid() && Echoes(established.get(), kExpectOk), "no connection before isolation");

    NetworkIsolation iso;
    CHILD_EXPECT(f, iso.IsIsolated() == false, "isolated before Isolate");
    Status st = iso.Isolate(Spec({kLabServer}));
    CHILD_EXPECT(f, st.ok(), st.ToString());
    CHILD_EXPECT(f, iso.IsIsolated() == true, "not isolated after Isolate");
    CHILD_EXPECT(f, !CanConnect(kLabPeer, lab.peer_port, kExpectFail), "peer still reachable");
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "server unreachable");
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port2, kExpectOk), "server's other port unreachable");
    CHILD_EXPECT(f, CanConnect("127.0.0.1", lab.loop_port, kExpectOk), "loopback unreachable");
    CHILD_EXPECT(f, !Echoes(established.get(), kExpectFail), "Full isolation kept an established session");

    st = iso.Unisolate();
    CHILD_EXPECT(f, st.ok(), st.ToString());
    CHILD_EXPECT(f, iso.IsIsolated() == false, "still isolated after Unisolate");
    CHILD_EXPECT(f, CanConnect(kLabPeer, lab.peer_port, kExpectOk), "peer unreachable after Unisolate");
    CHILD_EXPECT(f, Nft("list table inet host_firewall") == 0, "Unisolate removed another table");
    CHILD_EXPECT(f, iso.Unisolate().ok(), "second Unisolate failed");
  });
  EXPECT_EQ(failures, "");
}

TEST(NetworkIsolationTest, SelectiveKeepsEstablishedSessionsOnly) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, NetLab& lab) {
    auto established = ConnectTcp(kLabPeer, lab.peer_port, kExpectOk);
    CHILD_EXPECT(f, established.valid() && Echoes(established.get(), kExpectOk), "no connection before isolation");
    NetworkIsolation iso;
    Status st = iso.Isolate(Spec({kLabServer}, {}, true));
    CHILD_EXPECT(f, st.ok(), st.ToString());
    CHILD_EXPECT(f, Echoes(established.get(), kExpectOk), "Selective isolation dropped an established session");
    CHILD_EXPECT(f, !CanConnect(kLabPeer, lab.peer_port, kExpectFail), "new connection to the peer allowed");
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "server unreachable");
    CHILD_EXPECT(f, CanConnect("127.0.0.1", lab.loop_port, kExpectOk), "loopback unreachable");
    CHILD_EXPECT(f, iso.Unisolate().ok(), "");
  });
  EXPECT_EQ(failures, "");
}

TEST(NetworkIsolationTest, ReisolateReplacesAndPortsRestrictTheServer) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, NetLab& lab) {
    NetworkIsolation iso;
    CHILD_EXPECT(f, iso.Isolate(Spec({kLabServer})).ok(), "");
    // Re-running replaces the whole table: now only the peer is allowed.
    CHILD_EXPECT(f, iso.Isolate(Spec({kLabPeer})).ok(), "");
    CHILD_EXPECT(f, CanConnect(kLabPeer, lab.peer_port, kExpectOk), "peer unreachable after re-isolation");
    CHILD_EXPECT(f, !CanConnect(kLabServer, lab.server_port, kExpectFail), "old allowed address still reachable");

    // With ports, only those ports of the server are reachable.
    Status st = iso.Isolate(Spec({std::string(kLabServer) + "/32"}, {lab.server_port}));
    CHILD_EXPECT(f, st.ok(), st.ToString());
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "allowed server port unreachable");
    CHILD_EXPECT(f, !CanConnect(kLabServer, lab.server_port2, kExpectFail), "other server port reachable");
    CHILD_EXPECT(f, !CanConnect(kLabPeer, lab.peer_port, kExpectFail), "peer reachable");

    // A bad address changes nothing.
    st = iso.Isolate(Spec({"10.0.0.1; flush ruleset"}));
    CHILD_EXPECT(f, st.code() == StatusCode::kInvalidArgument, st.ToString());
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "failed Isolate changed the rules");
    CHILD_EXPECT(f, iso.current().has_value() && iso.current()->allowed_ports.size() == 1, "current() changed");
    CHILD_EXPECT(f, iso.Unisolate().ok(), "");
    CHILD_EXPECT(f, !iso.current().has_value(), "current() after Unisolate");
  });
  EXPECT_EQ(failures, "");
}

TEST(NetworkIsolationTest, RestoreReappliesSavedState) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, NetLab& lab) {
    test::TempDir dir("ward-iso-restore");
    {
      NetworkIsolation iso;
      CHILD_EXPECT(f, iso.Isolate(Spec({kLabServer})).ok(), "");
      CHILD_EXPECT(f, iso.SaveState(dir.path()).ok(), "");
    }
    // What a reboot does to nftables.
    CHILD_EXPECT(f, Nft("delete table inet ward_isolation") == 0, "");
    CHILD_EXPECT(f, CanConnect(kLabPeer, lab.peer_port, kExpectOk), "");

    NetworkIsolation restarted;
    Status st = restarted.Restore(dir.path());
    CHILD_EXPECT(f, st.ok(), st.ToString());
    CHILD_EXPECT(f, restarted.IsIsolated() == true, "Restore did not isolate");
    CHILD_EXPECT(f, !CanConnect(kLabPeer, lab.peer_port, kExpectFail), "peer reachable after Restore");
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "server unreachable after Restore");

    CHILD_EXPECT(f, restarted.Unisolate().ok() && restarted.SaveState(dir.path()).ok(), "");
    CHILD_EXPECT(f, restarted.Isolate(Spec({kLabServer})).ok(), "");  // left over, not saved
    NetworkIsolation again;
    CHILD_EXPECT(f, again.Restore(dir.path()).ok(), "");
    CHILD_EXPECT(f, again.IsIsolated() == false, "Restore of an unisolated state left isolation");
  });
  EXPECT_EQ(failures, "");
}

TEST(IndicatorBlocklistTest, BlocksCidrsAndAddressesOfBlockedDomains) {
  SKIP_UNLESS_ROOT();
  std::string failures = InLab([](ChildFailures& f, NetLab& lab) {
    CHILD_EXPECT(f, Nft("add table inet host_firewall") == 0, "");
    IndicatorBlocklist block;
    CHILD_EXPECT(f, block.DroppedPackets().error().code() == StatusCode::kNotFound, "counter before Apply");
    // Before any Apply, DNS answers are ignored.
    block.OnDnsAnswer("www.evil.example", {kLabServer}, 30);

    // 10.200.0.2/31 covers the peer (.2), not the server (.9); the bad entry is skipped.
    Status st = block.Apply({"10.200.0.2/31", "not-an-ip", "2001:db8::/32"}, {"Evil.Example."});
    CHILD_EXPECT(f, st.ok(), st.ToString());
    CHILD_EXPECT(f, !CanConnect(kLabPeer, lab.peer_port, kExpectFail), "blocked CIDR reachable");
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "server blocked without a reason");
    auto dropped = block.DroppedPackets();
    CHILD_EXPECT(f, dropped.has_value() && *dropped > 0, "no dropped packets counted");

    CHILD_EXPECT(f, block.DomainBlocked("a.b.evil.example") && !block.DomainBlocked("notevil.example"), "");
    block.OnDnsAnswer("good.example", {kLabServer}, 30);
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "an unblocked name's address was blocked");
    block.OnDnsAnswer("WWW.evil.example.", {kLabServer, "garbage"}, 5);
    CHILD_EXPECT(f, !CanConnect(kLabServer, lab.server_port, kExpectFail), "blocked domain's address reachable");
    block.OnDnsAnswer("www.evil.example", {kLabServer}, 300);  // refresh of an existing element
    CHILD_EXPECT(f, !CanConnect(kLabServer, lab.server_port, kExpectFail), "refresh unblocked the address");

    // A new policy that still blocks the domain keeps what DNS taught; the counter keeps counting.
    uint64_t before = block.DroppedPackets().value_or(0);
    CHILD_EXPECT(f, block.Apply({}, {"evil.example"}).ok(), "");
    CHILD_EXPECT(f, CanConnect(kLabPeer, lab.peer_port, kExpectOk), "CIDR still blocked after it was removed");
    CHILD_EXPECT(f, !CanConnect(kLabServer, lab.server_port, kExpectFail), "learned address lost on Apply");
    CHILD_EXPECT(f, block.DroppedPackets().value_or(0) > before, "counter reset by Apply");
    // Without the domain, its addresses go.
    CHILD_EXPECT(f, block.Apply({}, {"other.example"}).ok(), "");
    CHILD_EXPECT(f, CanConnect(kLabServer, lab.server_port, kExpectOk), "address of an unblocked domain still blocked");

    CHILD_EXPECT(f, block.Apply({kLabPeer}, {}).ok(), "");
    CHILD_EXPECT(f, !CanConnect(kLabPeer, lab.peer_port, kExpectFail), "");
    CHILD_EXPECT(f, block.Clear().ok(), "");
    CHILD_EXPECT(f, CanConnect(kLabPeer, lab.peer_port, kExpectOk), "Clear left a block");
    CHILD_EXPECT(f, Nft("list table inet ward_block") != 0, "Clear left the table");
    CHILD_EXPECT(f, Nft("list table inet host_firewall") == 0, "Clear removed another table");
    CHILD_EXPECT(f, block.Clear().ok(), "second Clear failed");
  });
  EXPECT_EQ(failures, "");
}

}  // namespace
}  // namespace ward::response
