// VerifyJwt throughput on one core for a realistic MDE app-only token (client credentials grant):
// this runs on every API request, so it bounds requests/s per core before any real work.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/crypto.h"
#include "identity/jwt.h"

namespace {

using ward::identity::JwtValidation;
using ward::identity::KeySet;
using ward::identity::RsaKey;

constexpr char kAudience[] = "https://api.securitycenter.microsoft.com";
constexpr char kTenant[] = "6f1f3b2e-8c2a-4d8e-9a51-2f6b1c0d7e4a";
constexpr char kIssuer[] = "https://sts.windows.net/6f1f3b2e-8c2a-4d8e-9a51-2f6b1c0d7e4a/";

// Permissions an MDE automation app typically holds.
constexpr const char* kRoles[] = {
    "Alert.Read.All",       "Alert.ReadWrite.All",       "Machine.Read.All",
    "Machine.ReadWrite.All", "Machine.Isolate",          "Machine.RestrictExecution",
    "Machine.Scan",         "Machine.Offboard",          "Machine.StopAndQuarantine",
    "Machine.CollectForensics", "Machine.LiveResponse",  "Ti.Read.All",
    "Ti.ReadWrite",         "Ti.ReadWrite.All",          "File.Read.All",
    "Ip.Read.All",          "Url.Read.All",              "User.Read.All",
    "AdvancedQuery.Read.All", "Vulnerability.Read.All",
};

struct Fixture {
  KeySet keys;
  JwtValidation validation;
  std::string token;
};

Fixture MakeFixture() {
  auto key = RsaKey::Generate("ward-2024-01");
  if (!key) {
    std::fprintf(stderr, "key generation failed: %s\n", key.error().ToString().c_str());
    std::exit(1);
  }
  Fixture f;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  ward::json::Value claims = ward::json::Value::Object();
  claims.Set("aud", kAudience);
  claims.Set("iss", kIssuer);
  claims.Set("iat", now - 60);
  claims.Set("nbf", now - 60);
  claims.Set("exp", now + 3540);
  claims.Set("aio", ward::RandomToken(48));
  claims.Set("appid", ward::NewGuid());
  claims.Set("appidacr", "1");
  claims.Set("idp", kIssuer);
  claims.Set("idtyp", "app");
  claims.Set("oid", ward::NewGuid());
  claims.Set("rh", ward::RandomToken(24));
  ward::json::Value roles = ward::json::Value::Array();
  for (const char* r : kRoles) roles.Append(r);
  claims.Set("roles", std::move(roles));
  claims.Set("sub", ward::NewGuid());
  claims.Set("tid", kTenant);
  claims.Set("uti", ward::RandomToken(16));
  claims.Set("ver", "1.0");
  auto token = ward::identity::SignJwt(claims, *key);
  if (!token) {
    std::fprintf(stderr, "signing failed: %s\n", token.error().ToString().c_str());
    std::exit(1);
  }
  f.token = *token;
  f.keys = KeySet({*key}, key->kid());
  f.validation.accepted_audiences = {kAudience};
  f.validation.issuer_for_tenant = [](std::string_view tid) -> std::string {
    return tid == kTenant ? kIssuer : std::string();
  };
  return f;
}

const Fixture& GetFixture() {
  static const Fixture f = MakeFixture();
  return f;
}

void BM_VerifyJwt(benchmark::State& state) {
  const Fixture& f = GetFixture();
  state.counters["token_bytes"] = static_cast<double>(f.token.size());
  for (auto _ : state) {
    auto claims = ward::identity::VerifyJwt(f.token, f.keys, f.validation);
    if (!claims) {
      state.SkipWithError(claims.error().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyJwt);

// The RSA operation alone, to show how much of the budget the rest (parsing, checks) takes.
void BM_VerifyRs256Only(benchmark::State& state) {
  const Fixture& f = GetFixture();
  std::string_view token = f.token;
  size_t last_dot = token.rfind('.');
  std::string signature = *ward::Base64UrlDecode(token.substr(last_dot + 1));
  std::string_view input = token.substr(0, last_dot);
  const RsaKey& key = f.keys.keys().front();
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.VerifyRs256(input, signature));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyRs256Only);

void BM_SignJwt(benchmark::State& state) {
  const Fixture& f = GetFixture();
  auto claims = ward::identity::DecodeJwtPart(f.token, 1);
  const RsaKey& key = f.keys.keys().front();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ward::identity::SignJwt(*claims, key));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignJwt);

}  // namespace

BENCHMARK_MAIN();
