#include "common/crypto.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ward {
namespace {

TEST(CryptoTest, RandomBytesLengthAndVariety) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(33).size(), 33u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

TEST(CryptoTest, RandomTokenIsUnpaddedBase64Url) {
  std::string t = RandomToken();
  EXPECT_EQ(t.size(), 43u);  // 32 bytes -> 43 chars without padding
  auto raw = Base64UrlDecode(t);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_EQ(RandomToken(16).size(), 22u);
}

TEST(CryptoTest, GuidFormat) {
  std::string g = NewGuid();
  ASSERT_EQ(g.size(), 36u);
  EXPECT_TRUE(IsGuid(g));
  EXPECT_EQ(g[14], '4');  // version
  EXPECT_NE(std::string("89ab").find(g[19]), std::string::npos);  // RFC 4122 variant
  for (char c : g) EXPECT_TRUE(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << g;
}

TEST(CryptoTest, GuidUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(NewGuid());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(CryptoTest, IsGuid) {
  EXPECT_TRUE(IsGuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(IsGuid("123E4567-E89B-12D3-A456-426614174ABC"));
  EXPECT_FALSE(IsGuid(""));
  EXPECT_FALSE(IsGuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(IsGuid("{123e4567-e89b-12d3-a456-426614174000}"));
  EXPECT_FALSE(IsGuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(IsGuid("123e4567-e89b-12d3-a456-4266141740000"));
  EXPECT_FALSE(IsGuid("123e4567-e89b-12d3-a4560426614174000"));
  EXPECT_FALSE(IsGuid("123e456-7e89b-12d3-a456-426614174000"));
}

TEST(CryptoTest, Sha256KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CryptoTest, Sha1KnownVector) {
  EXPECT_EQ(HexEncode(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(CryptoTest, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, HmacSha256Rfc4231Case1AndEmptyKey) {
  std::string key(20, '\x0b');
  EXPECT_EQ(HexEncode(HmacSha256(key, "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HmacSha256("", "data").size(), 32u);
}

TEST(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret1"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(CryptoTest, HexRoundTrip) {
  std::string bytes("\x00\x01\x7f\x80\xff", 5);
  EXPECT_EQ(HexEncode(bytes), "00017f80ff");
  EXPECT_EQ(HexDecode("00017f80ff"), bytes);
  EXPECT_EQ(HexDecode("00017F80FF"), bytes);
  EXPECT_EQ(HexDecode(""), std::string());
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
  EXPECT_FALSE(HexDecode("0x").has_value());
}

struct Rfc4648Vector {
  const char* plain;
  const char* encoded;
};

// RFC 4648 section 10.
constexpr Rfc4648Vector kVectors[] = {
    {"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(CryptoTest, Base64Rfc4648Vectors) {
  for (const auto& v : kVectors) {
    EXPECT_EQ(Base64Encode(v.plain), v.encoded);
    EXPECT_EQ(Base64Decode(v.encoded), std::string(v.plain)) << v.encoded;
    std::string unpadded(v.encoded);
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    EXPECT_EQ(Base64Decode(unpadded), std::string(v.plain)) << unpadded;  // padding optional
    EXPECT_EQ(Base64UrlEncode(v.plain), unpadded);
    EXPECT_EQ(Base64UrlDecode(unpadded), std::string(v.plain)) << unpadded;
  }
}

TEST(CryptoTest, Base64AlphabetsDiffer) {
  std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(Base64Decode("+/+/"), bytes);
  EXPECT_EQ(Base64UrlDecode("-_-_"), bytes);
  EXPECT_FALSE(Base64Decode("-_-_").has_value());
  EXPECT_FALSE(Base64UrlDecode("+/+/").has_value());
}

TEST(CryptoTest, Base64RoundTripAllLengths) {
  for (size_t n = 0; n < 70; ++n) {
    std::string bytes = RandomBytes(n);
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes);
  }
}

TEST(CryptoTest, Base64DecodeRejectsMalformed) {
  EXPECT_FALSE(Base64Decode("Z").has_value());       // impossible length
  EXPECT_FALSE(Base64Decode("Zg=").has_value());     // incomplete padding
  EXPECT_FALSE(Base64Decode("Zg===").has_value());   // too much padding
  EXPECT_FALSE(Base64Decode("Z===").has_value());
  EXPECT_FALSE(Base64Decode("Zm=v").has_value());    // padding in the middle
  EXPECT_FALSE(Base64Decode("Zm9v\n").has_value());  // whitespace
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("=").has_value());
}

TEST(CryptoTest, Base64UrlDecodeRejections) {
  EXPECT_FALSE(Base64UrlDecode("Zg==").has_value());    // padding
  EXPECT_FALSE(Base64UrlDecode("Zm8=").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm9+").has_value());   // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Zm9/").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm 9").has_value());   // whitespace
  EXPECT_FALSE(Base64UrlDecode("Zm9.").has_value());
  EXPECT_FALSE(Base64UrlDecode(std::string_view("Zm\0v", 4)).has_value());
  EXPECT_FALSE(Base64UrlDecode("\xc3\xa9\xc3\xa9").has_value());  // non-ASCII
  EXPECT_FALSE(Base64UrlDecode("Z").has_value());       // len % 4 == 1
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());      // non-zero unused bits: non-canonical
  EXPECT_TRUE(Base64UrlDecode("Zg").has_value());
}

}  // namespace
}  // namespace ward
