#include <gtest/gtest.h>

#include <string>

#include "api/validators.h"

namespace ward::api {
namespace {

TEST(ParseFileHash, AcceptsSha1AndSha256InAnyCase) {
  auto sha1 = ParseFileHash("4388963AAA83afe2042a46a3c017ad50bdcdafb3");
  ASSERT_TRUE(sha1.has_value());
  EXPECT_EQ(sha1->kind, FileHash::Kind::kSha1);
  EXPECT_EQ(sha1->hex, "4388963aaa83afe2042a46a3c017ad50bdcdafb3");
  EXPECT_STREQ(sha1->Column(), "SHA1");

  auto sha256 = ParseFileHash("413C58C8267D2C8648D8F6384BACC2AE9C929B2B96578B6860B5087CD1BD6462");
  ASSERT_TRUE(sha256.has_value());
  EXPECT_EQ(sha256->kind, FileHash::Kind::kSha256);
  EXPECT_EQ(sha256->hex, "413c58c8267d2c8648d8f6384bacc2ae9c929b2b96578b6860b5087cd1bd6462");
  EXPECT_STREQ(sha256->Column(), "SHA256");
}

TEST(ParseFileHash, RefusesOtherLengthsAndNonHex) {
  const std::string md5 = "d41d8cd98f00b204e9800998ecf8427e";  // MDE's file routes take SHA-1/SHA-256 only
  for (const std::string& bad : {std::string(), std::string(39, 'a'), std::string(41, 'a'), std::string(63, 'a'),
                                 std::string(65, 'a'), md5, std::string(39, 'a') + "g",
                                 std::string(63, '0') + " ", std::string(40, 'a').replace(20, 1, "\0", 1)}) {
    auto r = ParseFileHash(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(ParseFileHash("xyz").error().message(), "xyz is invalid");
}

TEST(CanonicalIpAddress, AcceptsIpv4AndIpv6AndCanonicalises) {
  EXPECT_EQ(CanonicalIpAddress("10.209.67.177").value(), "10.209.67.177");
  EXPECT_EQ(CanonicalIpAddress("0.0.0.0").value(), "0.0.0.0");
  EXPECT_EQ(CanonicalIpAddress("255.255.255.255").value(), "255.255.255.255");
  EXPECT_EQ(CanonicalIpAddress("::1").value(), "::1");
  EXPECT_EQ(CanonicalIpAddress("2001:0DB8:0000:0000:0000:0000:0000:0001").value(), "2001:db8::1");
  EXPECT_EQ(CanonicalIpAddress("FE80::A:b").value(), "fe80::a:b");
  EXPECT_EQ(CanonicalIpAddress("::ffff:192.0.2.1").value(), "::ffff:192.0.2.1");
}

TEST(CanonicalIpAddress, RefusesWhatIsNotALiteralAddress) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ",
                          "example.com", "1.2.3.4/24", "[::1]", "fe80::1%eth0", "2001:db8:::1", "12345::",
                          "1:2:3:4:5:6:7:8:9", "0x7f.0.0.1"}) {
    auto r = CanonicalIpAddress(bad);
    EXPECT_FALSE(r.has_value()) << bad;
  }
  EXPECT_EQ(CanonicalIpAddress("999.1.1.1").error().message(), "999.1.1.1 is invalid");
  EXPECT_FALSE(CanonicalIpAddress(std::string(100, '1')).has_value());
}

TEST(CanonicalDomainName, AcceptsHostNames) {
  EXPECT_EQ(CanonicalDomainName("client.wns.windows.com").value(), "client.wns.windows.com");
  EXPECT_EQ(CanonicalDomainName("WWW.Example.COM.").value(), "www.example.com");
  EXPECT_EQ(CanonicalDomainName("xn--bcher-kva.example").value(), "xn--bcher-kva.example");
  EXPECT_EQ(CanonicalDomainName("a-b.c1").value(), "a-b.c1");
  EXPECT_EQ(CanonicalDomainName("fileserver").value(), "fileserver");
  EXPECT_EQ(CanonicalDomainName("3com.com").value(), "3com.com");
  std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                        std::string(61, 'd');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(CanonicalDomainName(longest).has_value());
}

TEST(CanonicalDomainName, RefusesWhatIsNotAHostName) {
  std::string too_long = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                         std::string(62, 'd');
  std::string long_label = std::string(64, 'a') + ".com";
  for (const std::string& bad : {std::string(), std::string("."), std::string(".."), std::string("a..b"),
                                 std::string(".example.com"), std::string("-a.com"), std::string("a-.com"),
                                 std::string("under_score.com"), std::string("sp ace.com"), std::string("a.com/path"),
                                 std::string("http://a.com"), std::string("a.com:80"), std::string("10.0.0.1"),
                                 std::string("a.b.123"), std::string("bücher.de"), std::string("*.example.com"),
                                 too_long, long_label}) {
    auto r = CanonicalDomainName(bad);
    EXPECT_FALSE(r.has_value()) << bad;
  }
  EXPECT_EQ(CanonicalDomainName("bad_domain").error().message(), "bad_domain is invalid");
}

TEST(UrlHost, FindsTheHostInTheFormsTelemetryUses) {
  EXPECT_EQ(UrlHost("example.com"), "example.com");
  EXPECT_EQ(UrlHost("WWW.Example.com."), "www.example.com");
  EXPECT_EQ(UrlHost("example.com:8443"), "example.com");
  EXPECT_EQ(UrlHost("https://user:pw@Sub.Example.com:8443/a/b?q=1#f"), "sub.example.com");
  EXPECT_EQ(UrlHost("http://example.com?x=y"), "example.com");
  EXPECT_EQ(UrlHost("//cdn.example.net/lib.js"), "cdn.example.net");
  EXPECT_EQ(UrlHost("example.org/path/with:colon"), "example.org");
  EXPECT_EQ(UrlHost("http://[2001:db8::1]:80/x"), "2001:db8::1");
  EXPECT_EQ(UrlHost("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(UrlHost("  padded.example  "), "padded.example");
  EXPECT_EQ(UrlHost(""), "");
  EXPECT_EQ(UrlHost("https://"), "");
  EXPECT_EQ(UrlHost("http://[unterminated"), "");
}

TEST(HostInDomain, MatchesTheDomainAndItsSubdomainsOnly) {
  EXPECT_TRUE(HostInDomain("example.com", "example.com"));
  EXPECT_TRUE(HostInDomain("a.example.com", "example.com"));
  EXPECT_TRUE(HostInDomain("a.b.example.com", "example.com"));
  EXPECT_FALSE(HostInDomain("badexample.com", "example.com"));
  EXPECT_FALSE(HostInDomain("example.com.evil.org", "example.com"));
  EXPECT_FALSE(HostInDomain("com", "example.com"));
  EXPECT_FALSE(HostInDomain("example.com", ""));
  EXPECT_FALSE(HostInDomain("", "example.com"));
}

}  // namespace
}  // namespace ward::api
