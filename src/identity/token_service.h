#pragma once
// The Azure-AD-shaped authorization server: token endpoint (v1 and v2), authorize endpoint with a
// sign-in page, OpenID discovery, JWKS, MSAL's instance discovery and user-realm lookups, and bearer
// token authentication for the API. HTTP-agnostic: src/api maps requests to these calls.
//
// Access tokens are RS256 JWTs valid for one hour with MDE's claims: aud, iss ("<public url>/<tid>/"),
// tid, iat/nbf/exp, appid, oid, idtyp, and `roles` (application context) or `scp` + upn/name (user
// context). Verified tokens are cached until they expire, so RSA verification is not on the hot path.
// Thread-safe.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "identity/keys.h"
#include "identity/login_throttle.h"
#include "json/json.h"
#include "rbac/authorizer.h"
#include "state/state_store.h"

namespace ward::identity {

// The resources (audiences) Ward answers to besides its own public URL.
inline constexpr std::string_view kMdeResources[] = {
    "https://api.securitycenter.microsoft.com",
    "https://api.security.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
};

// The resource the legacy SIEM API documents for its tokens (Azure AD Graph, mde-api.md §8). Ward
// issues tokens for it, but only routes that opt in (the SIEM API) accept them: a token for one
// resource is not a token for every other.
inline constexpr std::string_view kSiemResource = "https://graph.windows.net";

struct IdentityConfig {
  std::string public_url;  // e.g. "https://ward.example.com:8443" (no trailing slash); issuer base
  std::chrono::seconds access_token_lifetime{3600};
  std::chrono::seconds refresh_token_lifetime{90 * 24 * 3600};
  std::chrono::seconds auth_code_lifetime{600};
};

using Form = std::vector<std::pair<std::string, std::string>>;

// An OAuth endpoint's answer: JSON body (token or error) or, for authorize, an HTML page/redirect.
struct OAuthReply {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::string location;  // for 302
};

class TokenService {
 public:
  TokenService(state::StateStore& store, KeyManager& keys, IdentityConfig config);

  // POST /{tenant}/oauth2/token (v2=false) and /{tenant}/oauth2/v2.0/token (v2=true).
  // authorization_header carries HTTP Basic client credentials when the client uses them; base_url
  // (scheme://host as the client reached us) is one of the accepted audiences of client assertions.
  OAuthReply Token(std::string_view tenant_segment, bool v2, const Form& form, std::string_view authorization_header,
                   std::string_view base_url = {});
  // GET shows the sign-in page; POST checks the credentials and redirects with a code.
  OAuthReply AuthorizePage(std::string_view tenant_segment, const Form& query);
  OAuthReply AuthorizeSubmit(std::string_view tenant_segment, const Form& form);

  // Discovery documents. base_url is how the client reached us (scheme://host[:port]).
  Result<json::Value> OpenIdConfiguration(std::string_view tenant_segment, bool v2, std::string_view base_url);
  json::Value Jwks();
  json::Value InstanceDiscovery(std::string_view base_url, std::string_view authority_host);
  json::Value UserRealm(std::string_view username);

  // Validates "Bearer <jwt>" and returns the caller. Unauthenticated on any failure.
  Result<std::shared_ptr<const rbac::Principal>> Authenticate(std::string_view authorization_header);

  std::string AccessTokenIssuer(std::string_view tid) const;
  std::string IdTokenIssuer(std::string_view tid, bool v2) const;
  // Every resource Ward issues tokens for and verifies: MDE's, its public URL and kSiemResource.
  std::vector<std::string> AcceptedAudiences() const;

 private:
  struct GrantContext;
  Result<state::Tenant> ResolveTenant(std::string_view segment);
  Result<std::string> ResolveResource(const Form& form, bool v2, std::vector<std::string>* requested_scopes);
  OAuthReply ClientCredentials(GrantContext& ctx);
  OAuthReply Password(GrantContext& ctx);
  OAuthReply AuthorizationCode(GrantContext& ctx);
  OAuthReply RefreshTokenGrant(GrantContext& ctx);
  OAuthReply IssueUserTokens(GrantContext& ctx, const state::App& app, const state::User& user,
                             const std::string& resource, const std::vector<std::string>& requested, bool want_refresh,
                             const std::string& nonce);
  Result<state::App> AuthenticateClient(GrantContext& ctx, bool require_secret);
  Status VerifyClientAssertion(GrantContext& ctx, const state::App& app, std::string_view assertion);
  Result<std::string> SignAccessToken(const json::Value& claims);

  // Checks a user's password with smart lockout; the same error for unknown users, wrong passwords
  // and disabled accounts. Locked accounts get kFailedPrecondition.
  Result<state::User> CheckUserPassword(const state::Tenant& tenant, std::string_view username,
                                        std::string_view password);

  state::StateStore& store_;
  KeyManager& keys_;
  IdentityConfig config_;
  LoginThrottle throttle_;

  // Verified-token cache: token → principal and expiry. Bounded; cleared wholesale when full.
  struct CacheEntry {
    std::shared_ptr<const rbac::Principal> principal;
    int64_t exp = 0;
  };
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kMaxCachedPerShard = 8192;
  // Transparent hashing lets lookups use the header's string_view without copying the token.
  // Only the tail is hashed: it is the RS256 signature, random, and hashing all ~2 KB showed up in
  // profiles. Equality still compares the whole token.
  struct TokenHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>{}(s.substr(s.size() > 64 ? s.size() - 64 : 0));
    }
  };
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::string, CacheEntry, TokenHash, std::equal_to<>> entries;
  };
  CacheShard cache_[kCacheShards];
};

// The OAuth error body Azure AD returns: {"error","error_description","error_codes","timestamp",
// "trace_id","correlation_id"}.
OAuthReply OAuthError(int status, std::string_view error, std::string_view description, int aadsts_code);

}  // namespace ward::identity
