#include "identity/jwt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "common/crypto.h"

namespace ward::identity {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kNow = 1'700'000'000;
constexpr char kAudience[] = "https://api.securitycenter.microsoft.com";
constexpr char kTenant[] = "11111111-2222-3333-4444-555555555555";
constexpr char kIssuer[] = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/";

class JwtTest : public ::testing::Test {
 protected:
  // Key generation is the slow part; do it once for the suite.
  static void SetUpTestSuite() {
    key1_ = new RsaKey(*RsaKey::Generate("k1"));
    key2_ = new RsaKey(*RsaKey::Generate("k2"));
  }
  static void TearDownTestSuite() {
    delete key1_;
    delete key2_;
    key1_ = key2_ = nullptr;
  }

  static const RsaKey& key1() { return *key1_; }
  static const RsaKey& key2() { return *key2_; }

  static KeySet Keys() { return KeySet({key1()}, "k1"); }

  static JwtValidation Validation() {
    JwtValidation v;
    v.accepted_audiences = {kAudience, "api://ward"};
    v.issuer_for_tenant = [](std::string_view tid) -> std::string {
      return tid == kTenant ? kIssuer : std::string();
    };
    v.clock_skew = 120s;
    v.now = std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
    return v;
  }

  static json::Value Claims() {
    json::Value c = json::Value::Object();
    c.Set("aud", kAudience);
    c.Set("iss", kIssuer);
    c.Set("iat", kNow - 60);
    c.Set("nbf", kNow - 60);
    c.Set("exp", kNow + 3600);
    c.Set("tid", kTenant);
    c.Set("oid", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    return c;
  }

  static std::string Sign(const json::Value& claims, const RsaKey& key) {
    auto token = SignJwt(claims, key);
    EXPECT_TRUE(token.has_value()) << token.error().ToString();
    return token.value_or("");
  }

  // Hand-built token: arbitrary header and payload text, RS256-signed with `key` (or unsigned).
  static std::string Build(std::string_view header, std::string_view payload, const RsaKey* key) {
    std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
    std::string sig;
    if (key != nullptr) sig = key->SignRs256(input).value();
    return input + "." + Base64UrlEncode(sig);
  }

  static Result<json::Value> Verify(std::string_view token, const KeySet& keys = Keys(),
                                    const JwtValidation& v = Validation()) {
    return VerifyJwt(token, keys, v);
  }

  static void ExpectRejected(std::string_view token, const KeySet& keys = Keys(),
                             const JwtValidation& v = Validation()) {
    auto r = VerifyJwt(token, keys, v);
    ASSERT_FALSE(r.has_value()) << "accepted: " << token;
    EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated) << r.error().ToString();
  }

  // The log reason of a rejection (checks the code too), so each test proves which check fired.
  static std::string Reason(std::string_view token, const KeySet& keys = Keys(),
                            const JwtValidation& v = Validation()) {
    auto r = VerifyJwt(token, keys, v);
    if (r.has_value()) return "ACCEPTED";
    EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated) << r.error().ToString();
    return r.error().message();
  }

  static void ExpectAccepted(std::string_view token, const KeySet& keys = Keys(),
                             const JwtValidation& v = Validation()) {
    auto r = VerifyJwt(token, keys, v);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
  }

  static std::string Part(std::string_view token, int i) {
    size_t d1 = token.find('.');
    size_t d2 = token.find('.', d1 + 1);
    if (i == 0) return std::string(token.substr(0, d1));
    if (i == 1) return std::string(token.substr(d1 + 1, d2 - d1 - 1));
    return std::string(token.substr(d2 + 1));
  }

  static RsaKey* key1_;
  static RsaKey* key2_;
};

RsaKey* JwtTest::key1_ = nullptr;
RsaKey* JwtTest::key2_ = nullptr;

TEST_F(JwtTest, SignVerifyRoundTrip) {
  json::Value claims = Claims();
  std::string token = Sign(claims, key1());
  auto r = Verify(token);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(*r, claims);
  EXPECT_EQ(r->GetString("oid"), "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");

  auto header = DecodeJwtPart(token, 0);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->GetString("alg"), "RS256");
  EXPECT_EQ(header->GetString("typ"), "JWT");
  EXPECT_EQ(header->GetString("kid"), "k1");
  auto payload = DecodeJwtPart(token, 1);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(*payload, claims);
  EXPECT_FALSE(DecodeJwtPart(token, 2).has_value());
}

TEST_F(JwtTest, SignRejectsNonObjectClaims) {
  EXPECT_FALSE(SignJwt(json::Value::Array(), key1()).has_value());
}

TEST_F(JwtTest, TamperedPayloadRejected) {
  std::string token = Sign(Claims(), key1());
  json::Value evil = Claims();
  evil.Set("oid", "ffffffff-ffff-ffff-ffff-ffffffffffff");
  std::string forged = Part(token, 0) + "." + Base64UrlEncode(evil.Serialize()) + "." + Part(token, 2);
  EXPECT_EQ(Reason(forged), "bad signature");
}

TEST_F(JwtTest, TamperedSignatureRejected) {
  std::string token = Sign(Claims(), key1());
  std::string sig = *Base64UrlDecode(Part(token, 2));
  sig[sig.size() / 2] ^= 0x01;
  ExpectRejected(Part(token, 0) + "." + Part(token, 1) + "." + Base64UrlEncode(sig));
  // Truncated and empty signatures too.
  ExpectRejected(Part(token, 0) + "." + Part(token, 1) + "." + Base64UrlEncode(sig.substr(1)));
  ExpectRejected(Part(token, 0) + "." + Part(token, 1) + ".");
}

TEST_F(JwtTest, AlgNoneRejected) {
  std::string payload = Claims().Serialize();
  EXPECT_EQ(Reason(Build(R"({"alg":"none","typ":"JWT","kid":"k1"})", payload, nullptr)), "unsupported alg");
  ExpectRejected(Build(R"({"alg":"none","kid":"k1"})", payload, nullptr));
  // Even with a valid RS256 signature attached, "none" is never accepted.
  ExpectRejected(Build(R"({"alg":"none","typ":"JWT","kid":"k1"})", payload, &key1()));
}

TEST_F(JwtTest, Hs256WithPublicKeyAsSecretRejected) {
  // The classic confusion attack: an HMAC "signed" with the verifier's public key PEM.
  std::string input = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT","kid":"k1"})") + "." +
                      Base64UrlEncode(Claims().Serialize());
  std::string mac = HmacSha256(key1().PublicPem(), input);
  EXPECT_EQ(Reason(input + "." + Base64UrlEncode(mac)), "unsupported alg");
}

TEST_F(JwtTest, OtherAlgorithmsRejectedEvenWithValidRsaSignature) {
  std::string payload = Claims().Serialize();
  for (const char* header : {R"({"alg":"RS512","kid":"k1"})", R"({"alg":"PS256","kid":"k1"})",
                             R"({"alg":"ES256","kid":"k1"})", R"({"alg":"rs256","kid":"k1"})",
                             R"({"alg":"RS256 ","kid":"k1"})", R"({"kid":"k1"})",
                             R"({"alg":null,"kid":"k1"})", R"({"alg":["RS256"],"kid":"k1"})"}) {
    SCOPED_TRACE(header);
    EXPECT_EQ(Reason(Build(header, payload, &key1())), "unsupported alg");
  }
}

TEST_F(JwtTest, HeaderTypAndShape) {
  std::string payload = Claims().Serialize();
  ExpectAccepted(Build(R"({"alg":"RS256","kid":"k1"})", payload, &key1()));  // typ optional
  ExpectRejected(Build(R"({"alg":"RS256","typ":"JWE","kid":"k1"})", payload, &key1()));
  ExpectRejected(Build(R"({"alg":"RS256","typ":1,"kid":"k1"})", payload, &key1()));
  ExpectRejected(Build(R"({"alg":"RS256","kid":"k1","crit":["exp"]})", payload, &key1()));
  ExpectRejected(Build(R"(["RS256"])", payload, &key1()));
  ExpectRejected(Build(R"({"alg":"RS256","kid":"k1")", payload, &key1()));  // broken JSON
  // Duplicate members must not let a second "alg" slip past.
  ExpectRejected(Build(R"({"alg":"RS256","alg":"none","kid":"k1"})", payload, &key1()));
}

TEST_F(JwtTest, UnknownKidRejected) {
  std::string token = Sign(Claims(), key1());
  EXPECT_EQ(Reason(token, KeySet({key2()}, "k2")), "unknown kid");
  EXPECT_EQ(Reason(token, KeySet()), "unknown kid");
}

TEST_F(JwtTest, MissingKidRejected) {
  std::string payload = Claims().Serialize();
  EXPECT_EQ(Reason(Build(R"({"alg":"RS256","typ":"JWT"})", payload, &key1())), "missing kid");
  EXPECT_EQ(Reason(Build(R"({"alg":"RS256","typ":"JWT","kid":7})", payload, &key1())), "missing kid");
}

TEST_F(JwtTest, KidOfAnotherKeyRejected) {
  // Signed by k1 but claims to be k2: the k2 key must not verify it.
  EXPECT_EQ(Reason(Build(R"({"alg":"RS256","kid":"k2"})", Claims().Serialize(), &key1()),
                   KeySet({key1(), key2()}, "k1")),
            "bad signature");
}

TEST_F(JwtTest, ExpiryWithSkew) {
  json::Value c = Claims();
  c.Set("exp", kNow - 121);
  EXPECT_EQ(Reason(Sign(c, key1())), "token expired");
  c.Set("exp", kNow - 120);
  ExpectAccepted(Sign(c, key1()));
  c.Set("exp", kNow - 100);
  ExpectAccepted(Sign(c, key1()));
  // Zero skew makes the boundary exact.
  JwtValidation strict = Validation();
  strict.clock_skew = 0s;
  c.Set("exp", kNow - 1);
  ExpectRejected(Sign(c, key1()), Keys(), strict);
}

TEST_F(JwtTest, ExpRequiredAndNumeric) {
  json::Value c = Claims();
  c.Erase("exp");
  EXPECT_EQ(Reason(Sign(c, key1())), "missing exp");
  c.Set("exp", std::to_string(kNow + 3600));
  ExpectRejected(Sign(c, key1()));
  c.Set("exp", true);
  ExpectRejected(Sign(c, key1()));
  c.Set("exp", static_cast<double>(kNow + 3600.5));
  ExpectAccepted(Sign(c, key1()));
}

TEST_F(JwtTest, NotBefore) {
  json::Value c = Claims();
  c.Set("nbf", kNow + 300);
  EXPECT_EQ(Reason(Sign(c, key1())), "token not yet valid");
  c.Set("nbf", kNow + 60);  // within skew
  ExpectAccepted(Sign(c, key1()));
  c.Set("nbf", "soon");
  ExpectRejected(Sign(c, key1()));
  c.Erase("nbf");  // optional
  ExpectAccepted(Sign(c, key1()));
}

TEST_F(JwtTest, IssuedInTheFuture) {
  json::Value c = Claims();
  c.Set("iat", kNow + 300);
  EXPECT_EQ(Reason(Sign(c, key1())), "token issued in the future");
  c.Set("iat", kNow + 60);
  ExpectAccepted(Sign(c, key1()));
  c.Erase("iat");
  ExpectAccepted(Sign(c, key1()));
}

TEST_F(JwtTest, WrongAudienceRejected) {
  json::Value c = Claims();
  c.Set("aud", "https://graph.microsoft.com");
  EXPECT_EQ(Reason(Sign(c, key1())), "audience not accepted");
  c.Erase("aud");
  ExpectRejected(Sign(c, key1()));
  c.Set("aud", 42);
  ExpectRejected(Sign(c, key1()));
  c.Set("aud", "api://ward");  // the second accepted audience
  ExpectAccepted(Sign(c, key1()));
}

TEST_F(JwtTest, AudienceArray) {
  json::Value c = Claims();
  json::Value aud = json::Value::Array();
  aud.Append("https://graph.microsoft.com");
  aud.Append(kAudience);
  c.Set("aud", aud);
  ExpectAccepted(Sign(c, key1()));

  json::Value other = json::Value::Array();
  other.Append("https://graph.microsoft.com");
  other.Append(1);
  c.Set("aud", other);
  EXPECT_EQ(Reason(Sign(c, key1())), "audience not accepted");
  c.Set("aud", json::Value::Array());
  ExpectRejected(Sign(c, key1()));
}

TEST_F(JwtTest, MissingTidRejected) {
  json::Value c = Claims();
  c.Erase("tid");
  EXPECT_EQ(Reason(Sign(c, key1())), "missing tid");
  c.Set("tid", 5);
  ExpectRejected(Sign(c, key1()));
}

TEST_F(JwtTest, WrongIssuerRejected) {
  json::Value c = Claims();
  c.Set("iss", "https://sts.windows.net/99999999-2222-3333-4444-555555555555/");
  EXPECT_EQ(Reason(Sign(c, key1())), "issuer mismatch");
  c.Erase("iss");
  ExpectRejected(Sign(c, key1()));
}

TEST_F(JwtTest, UnknownTenantRejected) {
  json::Value c = Claims();
  c.Set("tid", "99999999-2222-3333-4444-555555555555");
  c.Set("iss", "");  // even a matching empty issuer must not pass
  EXPECT_EQ(Reason(Sign(c, key1())), "unknown tenant");
  JwtValidation no_policy = Validation();
  no_policy.issuer_for_tenant = nullptr;
  ExpectRejected(Sign(Claims(), key1()), Keys(), no_policy);
}

TEST_F(JwtTest, ClaimsMustBeObject) {
  ExpectRejected(Build(R"({"alg":"RS256","kid":"k1"})", "[1,2]", &key1()));
  ExpectRejected(Build(R"({"alg":"RS256","kid":"k1"})", "not json", &key1()));
}

TEST_F(JwtTest, MalformedTokensRejected) {
  std::string token = Sign(Claims(), key1());
  EXPECT_EQ(Reason(Part(token, 0) + "." + Part(token, 1)), "token is not three dot-separated parts");
  ExpectRejected(token + ".");                             // four parts
  ExpectRejected(token + "." + Part(token, 2));
  ExpectRejected("");
  ExpectRejected("..");
  ExpectRejected("not a token");
  EXPECT_EQ(Reason("@@@.###.$$$"), "token part is not base64url");
  ExpectRejected(Part(token, 0) + "=." + Part(token, 1) + "." + Part(token, 2));  // padded
  ExpectRejected(Part(token, 0) + "." + Part(token, 1) + "." + Part(token, 2) + "==");
  ExpectRejected(" " + token);
}

TEST_F(JwtTest, OversizedTokenRejected) {
  json::Value c = Claims();
  c.Set("padding", std::string(11000, 'x'));
  std::string ok = Sign(c, key1());
  ASSERT_LT(ok.size(), 16u * 1024);
  ExpectAccepted(ok);
  c.Set("padding", std::string(13000, 'x'));
  std::string big = Sign(c, key1());
  ASSERT_GT(big.size(), 16u * 1024);
  EXPECT_EQ(Reason(big), "token too large");
  ExpectRejected(std::string(20000, 'a'));
}

TEST_F(JwtTest, KeyRotation) {
  KeySet keys({key1(), key2()}, "k2");
  ASSERT_NE(keys.active(), nullptr);
  EXPECT_EQ(keys.active()->kid(), "k2");
  EXPECT_NE(keys.Find("k1"), nullptr);
  EXPECT_EQ(keys.Find("k3"), nullptr);
  EXPECT_EQ(KeySet().active(), nullptr);

  std::string old_token = Sign(Claims(), key1());
  std::string new_token = Sign(Claims(), *keys.active());
  EXPECT_EQ(DecodeJwtPart(new_token, 0)->GetString("kid"), "k2");
  ExpectAccepted(old_token, keys);
  ExpectAccepted(new_token, keys);
  // After k1 is retired its tokens stop verifying.
  EXPECT_EQ(Reason(old_token, KeySet({key2()}, "k2")), "unknown kid");

  json::Value jwks = keys.Jwks();
  const json::Value* list = jwks.Find("keys");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->items().size(), 2u);
  EXPECT_EQ(list->items()[0].GetString("kid"), "k1");
  EXPECT_EQ(list->items()[1].GetString("kid"), "k2");
  EXPECT_EQ(list->items()[1].Find("d"), nullptr);  // never private material
}

TEST_F(JwtTest, PemRoundTrip) {
  auto priv_pem = key1().PrivatePem();
  ASSERT_TRUE(priv_pem.has_value());
  EXPECT_TRUE(priv_pem->starts_with("-----BEGIN PRIVATE KEY-----"));
  auto reloaded = RsaKey::FromPrivatePem("k1", *priv_pem);
  ASSERT_TRUE(reloaded.has_value()) << reloaded.error().ToString();
  EXPECT_TRUE(reloaded->has_private());
  EXPECT_EQ(reloaded->PublicPem(), key1().PublicPem());
  // A token signed by the reloaded key verifies with the original, and vice versa.
  ExpectAccepted(Sign(Claims(), *reloaded));
  ExpectAccepted(Sign(Claims(), key1()), KeySet({*reloaded}, "k1"));

  std::string pub_pem = key1().PublicPem();
  EXPECT_TRUE(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
  auto pub = RsaKey::FromPublicPem("k1", pub_pem);
  ASSERT_TRUE(pub.has_value()) << pub.error().ToString();
  EXPECT_FALSE(pub->has_private());
  EXPECT_FALSE(pub->PrivatePem().has_value());
  EXPECT_FALSE(SignJwt(Claims(), *pub).has_value());
  ExpectAccepted(Sign(Claims(), key1()), KeySet({*pub}, "k1"));
}

TEST_F(JwtTest, BadPemRejected) {
  EXPECT_FALSE(RsaKey::FromPrivatePem("x", "").has_value());
  EXPECT_FALSE(RsaKey::FromPrivatePem("x", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").has_value());
  EXPECT_FALSE(RsaKey::FromPublicPem("x", "garbage").has_value());
  // A public PEM is not a private key.
  EXPECT_FALSE(RsaKey::FromPrivatePem("x", key1().PublicPem()).has_value());
  EXPECT_FALSE(RsaKey::Generate("small", 1024).has_value());
}

TEST_F(JwtTest, JwkRoundTrip) {
  json::Value jwk = key1().PublicJwk();
  EXPECT_EQ(jwk.GetString("kty"), "RSA");
  EXPECT_EQ(jwk.GetString("use"), "sig");
  EXPECT_EQ(jwk.GetString("alg"), "RS256");
  EXPECT_EQ(jwk.GetString("kid"), "k1");
  EXPECT_EQ(jwk.GetString("e"), "AQAB");
  ASSERT_TRUE(jwk.GetString("n").has_value());
  EXPECT_EQ(Base64UrlDecode(*jwk.GetString("n"))->size(), 256u);

  auto from_jwk = RsaKey::FromJwk(jwk);
  ASSERT_TRUE(from_jwk.has_value()) << from_jwk.error().ToString();
  EXPECT_EQ(from_jwk->kid(), "k1");
  EXPECT_FALSE(from_jwk->has_private());
  EXPECT_EQ(from_jwk->PublicPem(), key1().PublicPem());
  EXPECT_EQ(from_jwk->PublicJwk(), jwk);
  ExpectAccepted(Sign(Claims(), key1()), KeySet({*from_jwk}, "k1"));
  // A token from another key under k1's kid fails the signature check.
  EXPECT_EQ(Reason(Build(R"({"alg":"RS256","kid":"k1"})", Claims().Serialize(), &key2()), KeySet({*from_jwk}, "k1")),
            "bad signature");
}

TEST_F(JwtTest, BadJwkRejected) {
  json::Value jwk = key1().PublicJwk();
  json::Value ec = jwk;
  ec.Set("kty", "EC");
  EXPECT_FALSE(RsaKey::FromJwk(ec).has_value());
  json::Value hs = jwk;
  hs.Set("alg", "HS256");
  EXPECT_FALSE(RsaKey::FromJwk(hs).has_value());
  json::Value no_n = jwk;
  no_n.Erase("n");
  EXPECT_FALSE(RsaKey::FromJwk(no_n).has_value());
  json::Value bad_n = jwk;
  bad_n.Set("n", "not+base64url=");
  EXPECT_FALSE(RsaKey::FromJwk(bad_n).has_value());
  json::Value small = jwk;
  small.Set("n", Base64UrlEncode(std::string(64, '\xff')));  // 512-bit modulus
  EXPECT_FALSE(RsaKey::FromJwk(small).has_value());
  json::Value e_one = jwk;
  e_one.Set("e", Base64UrlEncode(std::string(1, '\x01')));  // "signatures" would be the plain text
  EXPECT_FALSE(RsaKey::FromJwk(e_one).has_value());
  json::Value even_n = jwk;
  std::string n = *Base64UrlDecode(*jwk.GetString("n"));
  n.back() = static_cast<char>(n.back() & ~1);
  even_n.Set("n", Base64UrlEncode(n));
  EXPECT_FALSE(RsaKey::FromJwk(even_n).has_value());
  EXPECT_FALSE(RsaKey::FromJwk(json::Value("x")).has_value());
}

TEST_F(JwtTest, ConcurrentVerification) {
  KeySet keys({key1(), key2()}, "k1");
  std::string t1 = Sign(Claims(), key1());
  std::string t2 = Sign(Claims(), key2());
  JwtValidation v = Validation();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 250; ++j) {
        if (!VerifyJwt(j % 2 ? t1 : t2, keys, v).has_value()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace ward::identity
