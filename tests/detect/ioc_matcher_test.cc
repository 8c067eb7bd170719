#include "detect/ioc_matcher.h"

#include <gtest/gtest.h>

namespace ward::detect {
namespace {

state::Indicator Ioc(std::string type, std::string value, int64_t expires_ms = 0) {
  state::Indicator i;
  i.indicator_type = std::move(type);
  i.indicator_value = std::move(value);
  i.expiration_ms = expires_ms;
  return i;
}

class IocMatcherTest : public ::testing::Test {
 protected:
  const events::SchemaRegistry& reg_ = events::SchemaRegistry::Hunting();
  events::Row NetworkRow(std::string ip, std::string url) {
    const events::TableDef& t = *reg_.Find("DeviceNetworkEvents");
    events::Row row;
    row.table = t.id;
    row.values.assign(t.columns.size(), std::monostate{});
    if (!ip.empty()) row.values[t.Find("RemoteIP")] = ip;
    if (!url.empty()) row.values[t.Find("RemoteUrl")] = url;
    return row;
  }
  std::vector<std::string> Hits(const IocMatcher& m, const events::Row& row) {
    std::vector<IocHit> hits;
    m.Match(RowView(row, reg_.table(row.table)), &hits);
    std::vector<std::string> out;
    for (const IocHit& h : hits) out.push_back(m.indicators()[h.indicator].indicator_value);
    return out;
  }
};

TEST_F(IocMatcherTest, HashesInTheEventAndItsInitiatingProcess) {
  auto m = IocMatcher::Build({Ioc("FileSha1", std::string(40, 'A')), Ioc("FileSha256", std::string(64, 'b')),
                              Ioc("FileMd5", std::string(32, 'c'))}, 0);
  const events::TableDef& t = *reg_.Find("DeviceProcessEvents");
  events::Row row;
  row.table = t.id;
  row.values.assign(t.columns.size(), std::monostate{});
  row.values[t.Find("InitiatingProcessSHA1")] = std::string(40, 'a');  // case-insensitive
  row.values[t.Find("SHA256")] = std::string(64, 'B');
  EXPECT_EQ(Hits(m, row), (std::vector<std::string>{std::string(40, 'A'), std::string(64, 'b')}));
  row.values[t.Find("MD5")] = std::string(32, 'c');
  EXPECT_EQ(Hits(m, row).size(), 3u);
}

TEST_F(IocMatcherTest, AddressesAndRanges) {
  auto m = IocMatcher::Build({Ioc("IpAddress", "203.0.113.7"), Ioc("IpAddress", "10.0.0.0/8"),
                              Ioc("IpAddress", "2001:db8::/32"), Ioc("IpAddress", "2001:db8::1")}, 0);
  EXPECT_EQ(Hits(m, NetworkRow("203.0.113.7", "")).size(), 1u);
  EXPECT_TRUE(Hits(m, NetworkRow("203.0.113.8", "")).empty());
  EXPECT_EQ(Hits(m, NetworkRow("10.200.3.4", "")), (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_TRUE(Hits(m, NetworkRow("11.0.0.1", "")).empty());
  EXPECT_EQ(Hits(m, NetworkRow("2001:db8::1", "")).size(), 2u);
  EXPECT_EQ(Hits(m, NetworkRow("2001:db8:ffff::9", "")).size(), 1u);
  EXPECT_TRUE(Hits(m, NetworkRow("not an ip", "")).empty());
}

TEST_F(IocMatcherTest, DomainsMatchSubdomainsOnlyAndUrlsExactly) {
  auto m = IocMatcher::Build({Ioc("DomainName", "evil.example"), Ioc("Url", "http://bad.example/x.sh")}, 0);
  EXPECT_EQ(Hits(m, NetworkRow("", "https://a.b.EVIL.example:8443/path")).size(), 1u);
  EXPECT_EQ(Hits(m, NetworkRow("", "evil.example")).size(), 1u);
  EXPECT_TRUE(Hits(m, NetworkRow("", "https://notevil.example/")).empty());
  EXPECT_TRUE(Hits(m, NetworkRow("", "https://evil.example.org/")).empty());
  EXPECT_EQ(Hits(m, NetworkRow("", "HTTP://bad.example/x.sh")).size(), 1u);
  EXPECT_TRUE(Hits(m, NetworkRow("", "http://bad.example/y.sh")).empty());
}

TEST_F(IocMatcherTest, ExpiredIndicatorsAreLeftOut) {
  auto m = IocMatcher::Build({Ioc("IpAddress", "203.0.113.7", 1000), Ioc("IpAddress", "203.0.113.8", 5000)}, 2000);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(Hits(m, NetworkRow("203.0.113.7", "")).empty());
  EXPECT_EQ(Hits(m, NetworkRow("203.0.113.8", "")).size(), 1u);
}

TEST_F(IocMatcherTest, CostDoesNotGrowWithIndicators) {
  // 200,000 indicators of each kind are answered by lookups (the benchmark reports the speed).
  std::vector<state::Indicator> many;
  for (int i = 0; i < 200000; ++i) {
    char hex[41];
    std::snprintf(hex, sizeof(hex), "%040x", i);
    many.push_back(Ioc("FileSha1", hex));
    many.push_back(Ioc("IpAddress", "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                                        std::to_string(i % 256)));
  }
  auto m = IocMatcher::Build(std::move(many), 0);
  size_t hits = 0;
  for (int i = 0; i < 100000; ++i) hits += Hits(m, NetworkRow("10.1.2." + std::to_string(i % 256), "")).size();
  EXPECT_EQ(hits, 100000u);
}

}  // namespace
}  // namespace ward::detect
