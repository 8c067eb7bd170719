#pragma once
// RS256 JSON Web Tokens and the RSA keys that sign them.
//
// Validation is strict and fails closed: the header algorithm must be exactly "RS256" ("none", HS*,
// PS*, ES* are rejected, so a public key can never be used as an HMAC secret), the `kid` must name a
// key in the KeySet, the signature must verify, `exp`/`nbf` are checked with a small skew, `aud`
// must be one of the accepted audiences and `iss` must equal the issuer expected for the token's
// `tid`. Every failure is Unauthenticated with a reason suitable for logs (not for clients).
#include <chrono>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "json/json.h"

namespace ward::identity {

// An RSA key pair (or public key only) with its key id. Immutable; thread-safe to share.
class RsaKey {
 public:
  static Result<RsaKey> Generate(std::string kid, int bits = 2048);
  static Result<RsaKey> FromPrivatePem(std::string kid, std::string_view pem);
  static Result<RsaKey> FromPublicPem(std::string kid, std::string_view pem);
  // From a JWK with kty "RSA", n and e (base64url). For tests and external keys.
  static Result<RsaKey> FromJwk(const json::Value& jwk);

  const std::string& kid() const { return kid_; }
  bool has_private() const;
  Result<std::string> PrivatePem() const;
  std::string PublicPem() const;
  // {"kty":"RSA","use":"sig","alg":"RS256","kid","n","e"}
  json::Value PublicJwk() const;

  Result<std::string> SignRs256(std::string_view data) const;  // raw signature bytes
  bool VerifyRs256(std::string_view data, std::string_view signature) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  std::string kid_;
};

// Keys currently trusted for verification, and the one that signs. Immutable snapshot; rotation
// builds a new KeySet (the previous key stays for verification until retired).
class KeySet {
 public:
  KeySet() = default;
  KeySet(std::vector<RsaKey> keys, std::string active_kid);
  const RsaKey* Find(std::string_view kid) const;
  const RsaKey* active() const;  // nullptr when empty
  // {"keys":[...]} for the JWKS endpoint.
  json::Value Jwks() const;
  const std::vector<RsaKey>& keys() const { return keys_; }

 private:
  std::vector<RsaKey> keys_;
  std::string active_kid_;
};

// Builds header {"typ":"JWT","alg":"RS256","kid":<key.kid()>} and signs header.claims.
Result<std::string> SignJwt(const json::Value& claims, const RsaKey& key);

struct JwtValidation {
  std::vector<std::string> accepted_audiences;
  // When set, `iss` must equal it and `tid` is not required (client assertions, where iss is the
  // client id). Otherwise the tenant policy below applies.
  std::optional<std::string> expected_issuer;
  // Returns the issuer a token for tenant `tid` must carry, or "" when `tid` is unknown.
  std::function<std::string(std::string_view tid)> issuer_for_tenant;
  std::chrono::seconds clock_skew{120};
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// Verifies the token and returns its claims. Tokens larger than 16 KiB are rejected.
Result<json::Value> VerifyJwt(std::string_view token, const KeySet& keys, const JwtValidation& validation);
// The same checks with the key chosen by the caller from the (unverified) header, for tokens whose
// keys are named another way, e.g. a client assertion's `x5t` certificate thumbprint. The resolver
// returns nullptr to refuse.
using KeyResolver = std::function<const RsaKey*(const json::Value& header)>;
Result<json::Value> VerifyJwtWith(std::string_view token, const KeyResolver& resolve, const JwtValidation& validation);

// Decodes a JWT's header or claims segment without verifying anything (for tests and diagnostics).
Result<json::Value> DecodeJwtPart(std::string_view token, int part_index);

}  // namespace ward::identity
