#include "identity/token_service.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "common/crypto.h"
#include "common/markup.h"
#include "identity/password.h"
#include "rbac/permissions.h"

namespace ward::identity {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
int64_t NowMs() { return NowSeconds() * 1000; }

std::string_view FormGet(const Form& form, std::string_view key) {
  for (const auto& [k, v] : form) {
    if (k == key) return v;
  }
  return {};
}

std::string TrimSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> SplitSpaces(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string part;
  while (in >> part) out.push_back(part);
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

bool IsOidcScope(std::string_view s) {
  return s == "openid" || s == "profile" || s == "offline_access" || s == "email";
}

// RFC 8252 §7.3: a loopback redirect URI matches a registered one whatever its port.
bool RedirectUriAllowed(const state::App& app, std::string_view uri) {
  auto strip_port = [](std::string_view u) -> std::string {
    for (std::string_view prefix : {"http://localhost", "http://127.0.0.1", "http://[::1]"}) {
      if (u.substr(0, prefix.size()) == prefix) {
        std::string_view rest = u.substr(prefix.size());
        if (!rest.empty() && rest[0] == ':') {
          size_t slash = rest.find('/');
          rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
        }
        return std::string(prefix) + std::string(rest);
      }
    }
    return std::string(u);
  };
  std::string want = TrimSlash(strip_port(uri));
  return std::any_of(app.redirect_uris.begin(), app.redirect_uris.end(),
                     [&](const std::string& r) { return TrimSlash(strip_port(r)) == want; });
}

json::Value ClientInfo(const state::User& user) {
  json::Value v = json::Value::Object();
  v.Set("uid", user.id);
  v.Set("utid", user.tenant_id);
  return v;
}

}  // namespace

OAuthReply OAuthError(int status, std::string_view error, std::string_view description, int aadsts_code) {
  json::Writer w;
  std::string trace = NewGuid();
  w.StartObject();
  w.KV("error", error);
  w.KV("error_description", "AADSTS" + std::to_string(aadsts_code) + ": " + std::string(description) +
                                " Trace ID: " + trace);
  w.Key("error_codes").StartArray().Int(aadsts_code).EndArray();
  w.KV("timestamp", std::to_string(NowSeconds()));
  w.KV("trace_id", trace);
  w.KV("correlation_id", NewGuid());
  w.EndObject();
  return OAuthReply{status, "application/json; charset=utf-8", w.Take(), {}};
}

struct TokenService::GrantContext {
  state::Tenant tenant;
  bool v2 = false;
  const Form& form;
  std::string_view authorization_header;
  std::string_view tenant_segment;
  std::string_view base_url;
};

constexpr std::string_view kJwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

TokenService::TokenService(state::StateStore& store, KeyManager& keys, IdentityConfig config)
    : store_(store), keys_(keys), config_(std::move(config)) {
  config_.public_url = TrimSlash(config_.public_url);
}

std::string TokenService::AccessTokenIssuer(std::string_view tid) const {
  return config_.public_url + "/" + std::string(tid) + "/";
}

std::string TokenService::IdTokenIssuer(std::string_view tid, bool v2) const {
  return v2 ? config_.public_url + "/" + std::string(tid) + "/v2.0" : AccessTokenIssuer(tid);
}

std::vector<std::string> TokenService::AcceptedAudiences() const {
  std::vector<std::string> out(std::begin(kMdeResources), std::end(kMdeResources));
  out.push_back(config_.public_url);
  out.emplace_back(kSiemResource);
  return out;
}

Result<state::Tenant> TokenService::ResolveTenant(std::string_view segment) {
  if (segment.empty() || segment.size() > 128) return Err(NotFound("tenant missing"));
  if (IsGuid(segment)) return store_.GetTenant(Lower(segment));
  // Tenants may also be named by their display name (like a verified domain in Azure AD).
  WARD_ASSIGN_OR_RETURN(std::vector<state::Tenant> all, store_.ListTenants());
  for (const state::Tenant& t : all) {
    if (Lower(t.name) == Lower(segment)) return t;
  }
  return Err(NotFound("Tenant '" + std::string(segment) + "' not found."));
}

// Works out the audience from `resource` (v1) or from the scopes' resource prefix (v2), and fills
// requested_scopes with the permission names asked for (".default" for all consented).
Result<std::string> TokenService::ResolveResource(const Form& form, bool v2, std::vector<std::string>* requested) {
  std::vector<std::string> accepted = AcceptedAudiences();
  auto canonical = [&](std::string candidate) -> std::optional<std::string> {
    candidate = TrimSlash(candidate);
    for (const std::string& a : accepted) {
      if (Lower(a) == Lower(candidate)) return a;
    }
    return std::nullopt;
  };
  std::string resource_param(FormGet(form, "resource"));
  std::string_view scope_param = FormGet(form, "scope");
  if (!v2 || (!resource_param.empty() && scope_param.empty())) {
    if (resource_param.empty()) {
      // v1 without a resource: Ward's own API, as Azure AD defaults to the AAD graph.
      resource_param = config_.public_url;
    }
    auto r = canonical(resource_param);
    if (!r) return Err(InvalidArgument("The resource principal named " + resource_param + " was not found in the tenant."));
    requested->push_back(".default");
    for (const std::string& s : SplitSpaces(scope_param)) {
      if (IsOidcScope(s)) requested->push_back(s);
    }
    return *r;
  }
  std::optional<std::string> resource;
  for (const std::string& s : SplitSpaces(scope_param)) {
    if (IsOidcScope(s)) {
      requested->push_back(s);
      continue;
    }
    size_t slash = s.rfind('/');
    std::string res = slash == std::string::npos ? std::string() : s.substr(0, slash);
    std::string perm = slash == std::string::npos ? s : s.substr(slash + 1);
    if (res.empty()) res = config_.public_url;  // bare "Machine.Read" means Ward's API
    auto r = canonical(res);
    if (!r) return Err(InvalidArgument("The resource principal named " + res + " was not found in the tenant."));
    if (resource && *resource != *r) return Err(InvalidArgument("Scopes for more than one resource were requested."));
    resource = *r;
    requested->push_back(perm);
  }
  if (!resource) return Err(InvalidArgument("The request must include a scope for a resource, e.g. "
                                            "https://api.securitycenter.microsoft.com/.default."));
  return *resource;
}

Result<state::App> TokenService::AuthenticateClient(GrantContext& ctx, bool require_secret) {
  std::string client_id(FormGet(ctx.form, "client_id"));
  std::string client_secret(FormGet(ctx.form, "client_secret"));
  std::string_view auth = ctx.authorization_header;
  if (auth.size() > 6 && Lower(auth.substr(0, 6)) == "basic ") {
    auto decoded = Base64Decode(auth.substr(6));
    if (!decoded) return Err(Unauthenticated("malformed Basic authorization header"));
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return Err(Unauthenticated("malformed Basic authorization header"));
    client_id = decoded->substr(0, colon);
    client_secret = decoded->substr(colon + 1);
  }
  if (client_id.empty()) return Err(InvalidArgument("client_id"));
  auto app = state::Repo<state::App>(store_).Get(ctx.tenant.id, Lower(client_id));
  if (!app || !app->enabled) {
    return Err(NotFound("Application with identifier '" + client_id + "' was not found in the directory '" +
                        ctx.tenant.id + "'."));
  }
  std::string_view assertion_type = FormGet(ctx.form, "client_assertion_type");
  if (!assertion_type.empty()) {
    if (assertion_type != kJwtBearerAssertion) {
      return Err(Unauthenticated("client_assertion_type must be " + std::string(kJwtBearerAssertion)));
    }
    WARD_RETURN_IF_ERROR(VerifyClientAssertion(ctx, *app, FormGet(ctx.form, "client_assertion")));
    return *app;
  }
  if (client_secret.empty()) {
    if (require_secret || !app->public_client) {
      return Err(Unauthenticated("The request body must contain the following parameter: 'client_assertion' or "
                                 "'client_secret'."));
    }
    return *app;
  }
  int64_t now = NowMs();
  for (const state::AppSecret& s : app->secrets) {
    if (VerifySecret(client_secret, s.hash)) {
      if (s.expires_ms != 0 && s.expires_ms < now) {
        return Err(Unauthenticated("The provided client secret keys for app '" + client_id + "' are expired."));
      }
      return *app;
    }
  }
  return Err(Unauthenticated("Invalid client secret provided. Ensure the secret being sent in the request is the "
                             "client secret value, not the client secret ID, for a secret added to app '" +
                             client_id + "'."));
}

// A client assertion (RFC 7523) signed by one of the app's registered certificates, named by its
// SHA-1 thumbprint in `x5t` (base64url) or `kid` (hex); aud is our token endpoint; iss = sub = the
// client id; each jti is accepted once.
Status TokenService::VerifyClientAssertion(GrantContext& ctx, const state::App& app, std::string_view assertion) {
  if (assertion.empty()) return Unauthenticated("client_assertion is missing");
  std::vector<RsaKey> keys;
  for (const state::AppCertificate& c : app.certificates) {
    auto key = RsaKey::FromPublicPem(c.thumbprint, c.public_key_pem);
    if (key) keys.push_back(std::move(*key));
  }
  int64_t now_ms = NowMs();
  KeyResolver resolve = [&](const json::Value& header) -> const RsaKey* {
    std::string thumbprint;
    if (auto x5t = header.GetString("x5t")) {
      // MSAL Python pads x5t with '='; the thumbprint itself is what matters.
      std::string_view unpadded = *x5t;
      while (!unpadded.empty() && unpadded.back() == '=') unpadded.remove_suffix(1);
      auto raw = Base64UrlDecode(unpadded);
      if (!raw) return nullptr;
      thumbprint = HexEncode(*raw);
    } else if (auto kid = header.GetString("kid")) {
      thumbprint = *kid;
    }
    for (char& c : thumbprint) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].kid() != thumbprint) continue;
      // An expired certificate no longer authenticates.
      for (const state::AppCertificate& c : app.certificates) {
        if (c.thumbprint == thumbprint && c.expires_ms != 0 && c.expires_ms < now_ms) return nullptr;
      }
      return &keys[i];
    }
    return nullptr;
  };
  JwtValidation v;
  v.expected_issuer = app.client_id;
  v.clock_skew = std::chrono::seconds(300);
  for (std::string_view base : {std::string_view(config_.public_url), ctx.base_url}) {
    if (base.empty()) continue;
    for (std::string_view seg : {std::string_view(ctx.tenant.id), ctx.tenant_segment}) {
      v.accepted_audiences.push_back(std::string(base) + "/" + std::string(seg) + "/oauth2/token");
      v.accepted_audiences.push_back(std::string(base) + "/" + std::string(seg) + "/oauth2/v2.0/token");
    }
  }
  auto claims = VerifyJwtWith(assertion, resolve, v);
  if (!claims) return Unauthenticated("Client assertion failed validation: " + claims.error().message());
  if (Lower(claims->GetString("sub").value_or("")) != app.client_id) return Unauthenticated("Client assertion sub must be the client id");
  // exp may be fractional (MSAL Python writes time.time()); VerifyJwtWith already checked it is a number.
  int64_t exp = static_cast<int64_t>(claims->Find("exp")->as_double());
  auto jti = claims->GetString("jti");
  if (!jti || jti->empty()) return Unauthenticated("Client assertion must carry a jti");
  if (exp * 1000 > now_ms + 3600 * 1000) return Unauthenticated("Client assertion lifetime is too long");
  state::UsedAssertion used{ctx.tenant.id, HashSecret(app.client_id + "/" + *jti), (exp + 300) * 1000};
  Status st = state::Repo<state::UsedAssertion>(store_).Insert(used);
  if (st.code() == StatusCode::kAlreadyExists) return Unauthenticated("Client assertion was already used (jti replay)");
  return st;
}

Result<std::string> TokenService::SignAccessToken(const json::Value& claims) {
  std::shared_ptr<const KeySet> keys = keys_.Current();
  const RsaKey* key = keys->active();
  if (key == nullptr) return Err(Unavailable("no active signing key"));
  return SignJwt(claims, *key);
}

namespace {

OAuthReply ClientError(const Status& st) {
  if (st.code() == StatusCode::kNotFound) return OAuthError(400, "unauthorized_client", st.message(), 700016);
  if (st.code() == StatusCode::kInvalidArgument) {
    return OAuthError(400, "invalid_request", "The request body must contain the following parameter: '" +
                                                  st.message() + "'.", 900144);
  }
  return OAuthError(401, "invalid_client", st.message(), 7000215);
}

}  // namespace

OAuthReply TokenService::Token(std::string_view tenant_segment, bool v2, const Form& form,
                               std::string_view authorization_header, std::string_view base_url) {
  auto tenant = ResolveTenant(tenant_segment);
  std::string grant(FormGet(form, "grant_type"));
  if (!tenant) {
    bool multi = tenant_segment == "common" || tenant_segment == "organizations";
    if (!(multi && (grant == "password" || grant == "refresh_token" || grant == "authorization_code"))) {
      return OAuthError(400, "invalid_request", "Tenant '" + std::string(tenant_segment) + "' not found.", 90002);
    }
  }
  GrantContext ctx{tenant ? *tenant : state::Tenant{}, v2, form, authorization_header, tenant_segment, base_url};
  if (grant.empty()) {
    return OAuthError(400, "invalid_request",
                      "The request body must contain the following parameter: 'grant_type'.", 900144);
  }
  if (grant == "client_credentials") return ClientCredentials(ctx);
  if (grant == "password") return Password(ctx);
  if (grant == "authorization_code") return AuthorizationCode(ctx);
  if (grant == "refresh_token") return RefreshTokenGrant(ctx);
  return OAuthError(400, "unsupported_grant_type", "The provided value for the input parameter 'grant_type' is not "
                                                   "valid.", 70003);
}

OAuthReply TokenService::ClientCredentials(GrantContext& ctx) {
  if (ctx.tenant.id.empty()) {
    return OAuthError(400, "invalid_request", "Use a tenant-specific endpoint for client credentials.", 90002);
  }
  auto app = AuthenticateClient(ctx, /*require_secret=*/true);
  if (!app) return ClientError(app.error());
  std::vector<std::string> requested;
  auto resource = ResolveResource(ctx.form, ctx.v2, &requested);
  if (!resource) return OAuthError(400, "invalid_resource", resource.error().message(), 500011);
  if (ctx.v2 && (requested.size() != 1 || requested[0] != ".default")) {
    return OAuthError(400, "invalid_scope", "The provided value for scope " + std::string(FormGet(ctx.form, "scope")) +
                                                " is not valid. Client credential flows must have a scope value with "
                                                "/.default suffixed to the resource identifier.",
                      1002012);
  }
  int64_t now = NowSeconds();
  int64_t exp = now + config_.access_token_lifetime.count();
  json::Value claims = json::Value::Object();
  claims.Set("aud", *resource);
  claims.Set("iss", AccessTokenIssuer(ctx.tenant.id));
  claims.Set("iat", now);
  claims.Set("nbf", now);
  claims.Set("exp", exp);
  claims.Set("app_displayname", app->display_name);
  claims.Set("appid", app->client_id);
  claims.Set("appidacr", "1");
  claims.Set("idp", AccessTokenIssuer(ctx.tenant.id));
  claims.Set("idtyp", "app");
  claims.Set("oid", app->client_id);
  claims.Set("roles", state::StringArray(app->app_permissions));
  claims.Set("sub", app->client_id);
  claims.Set("tid", ctx.tenant.id);
  claims.Set("ver", "1.0");
  auto token = SignAccessToken(claims);
  if (!token) return OAuthError(500, "temporarily_unavailable", token.error().message(), 90033);
  json::Writer w;
  w.StartObject().KV("token_type", "Bearer").KV("expires_in", config_.access_token_lifetime.count());
  w.KV("ext_expires_in", config_.access_token_lifetime.count());
  if (!ctx.v2) {
    w.KV("expires_on", std::to_string(exp)).KV("not_before", std::to_string(now)).KV("resource", *resource);
  }
  w.KV("access_token", *token).EndObject();
  return OAuthReply{200, "application/json; charset=utf-8", w.Take(), {}};
}

OAuthReply TokenService::Password(GrantContext& ctx) {
  std::string username(FormGet(ctx.form, "username"));
  std::string password(FormGet(ctx.form, "password"));
  if (username.empty()) return OAuthError(400, "invalid_request", "The request body must contain the following parameter: 'username'.", 900144);
  if (password.empty()) return OAuthError(400, "invalid_request", "The request body must contain the following parameter: 'password'.", 900144);
  if (ctx.tenant.id.empty()) {
    // common/organizations: the user's own tenant.
    auto tenants = store_.ListTenants();
    if (tenants) {
      for (const state::Tenant& t : *tenants) {
        if (state::Repo<state::User>(store_).GetByUniqueKey(t.id, username)) {
          ctx.tenant = t;
          break;
        }
      }
    }
    if (ctx.tenant.id.empty()) return OAuthError(400, "invalid_grant", "Error validating credentials due to invalid username or password.", 50126);
  }
  auto app = AuthenticateClient(ctx, /*require_secret=*/false);
  if (!app) return ClientError(app.error());
  auto user = CheckUserPassword(ctx.tenant, username, password);
  if (!user) {
    if (user.error().code() == StatusCode::kFailedPrecondition) {
      return OAuthError(400, "invalid_grant", user.error().message(), 50053);
    }
    return OAuthError(400, "invalid_grant", "Error validating credentials due to invalid username or password.", 50126);
  }
  std::vector<std::string> requested;
  auto resource = ResolveResource(ctx.form, ctx.v2, &requested);
  if (!resource) return OAuthError(400, "invalid_resource", resource.error().message(), 500011);
  bool want_refresh = !ctx.v2 || std::find(requested.begin(), requested.end(), "offline_access") != requested.end();
  return IssueUserTokens(ctx, *app, *user, *resource, requested, want_refresh, "");
}

Result<state::User> TokenService::CheckUserPassword(const state::Tenant& tenant, std::string_view username,
                                                    std::string_view password) {
  std::string key = tenant.id + "/" + Lower(username);
  if (throttle_.Locked(key)) {
    return Err(FailedPrecondition("Your account is temporarily locked to prevent unauthorized use. Try again later."));
  }
  auto user = state::Repo<state::User>(store_).GetByUniqueKey(tenant.id, username);
  // Verify a dummy hash for unknown users so timing does not reveal which names exist.
  static const std::string kDummyHash = HashPassword("ward-dummy-password").value_or("");
  bool ok = user ? VerifyPassword(password, user->password_hash) : (VerifyPassword(password, kDummyHash), false);
  if (!ok || !user->enabled) {
    throttle_.RecordFailure(key);
    return Err(Unauthenticated("invalid username or password"));
  }
  throttle_.RecordSuccess(key);
  return *user;
}

OAuthReply TokenService::IssueUserTokens(GrantContext& ctx, const state::App& app, const state::User& user,
                                         const std::string& resource, const std::vector<std::string>& requested,
                                         bool want_refresh, const std::string& nonce) {
  // scp = what was asked for ∩ what the app is consented to (".default" = all consented).
  std::set<std::string> scp;
  bool all = std::find(requested.begin(), requested.end(), ".default") != requested.end();
  for (const std::string& d : app.delegated_permissions) {
    bool asked = all || std::any_of(requested.begin(), requested.end(),
                                    [&](const std::string& r) { return Lower(r) == Lower(d); });
    if (asked) scp.insert(d);
  }
  for (const std::string& r : requested) {
    if (r == ".default" || IsOidcScope(r)) continue;
    if (!rbac::CanonicalDelegatedPermission(r)) {
      return OAuthError(400, "invalid_scope", "The provided value for the input parameter 'scope' is not valid. The "
                                              "scope " + r + " does not exist.", 70011);
    }
  }
  std::vector<std::string> scp_list(scp.begin(), scp.end());
  int64_t now = NowSeconds();
  int64_t exp = now + config_.access_token_lifetime.count();
  json::Value claims = json::Value::Object();
  claims.Set("aud", resource);
  claims.Set("iss", AccessTokenIssuer(ctx.tenant.id));
  claims.Set("iat", now);
  claims.Set("nbf", now);
  claims.Set("exp", exp);
  claims.Set("amr", json::Value::Array().Append("pwd"));
  claims.Set("app_displayname", app.display_name);
  claims.Set("appid", app.client_id);
  claims.Set("appidacr", app.secrets.empty() ? "0" : "1");
  claims.Set("idtyp", "user");
  claims.Set("name", user.display_name);
  claims.Set("oid", user.id);
  claims.Set("scp", Join(scp_list, " "));
  claims.Set("sub", user.id);
  claims.Set("tid", ctx.tenant.id);
  claims.Set("unique_name", user.upn);
  claims.Set("upn", user.upn);
  claims.Set("ver", "1.0");
  auto token = SignAccessToken(claims);
  if (!token) return OAuthError(500, "temporarily_unavailable", token.error().message(), 90033);

  json::Writer w;
  w.StartObject().KV("token_type", "Bearer");
  std::vector<std::string> granted_scopes;
  for (const std::string& s : scp_list) granted_scopes.push_back(resource + "/" + s);
  w.KV("scope", Join(granted_scopes, " "));
  w.KV("expires_in", config_.access_token_lifetime.count()).KV("ext_expires_in", config_.access_token_lifetime.count());
  if (!ctx.v2) {
    w.KV("expires_on", std::to_string(exp)).KV("not_before", std::to_string(now)).KV("resource", resource);
  }
  w.KV("access_token", *token);
  if (want_refresh) {
    std::string refresh = RandomToken(32);
    state::RefreshToken rt;
    rt.tenant_id = ctx.tenant.id;
    rt.token_hash = HashSecret(refresh);
    rt.client_id = app.client_id;
    rt.user_id = user.id;
    rt.scope = Join(requested, " ");
    rt.resource = resource;
    rt.expires_ms = (now + config_.refresh_token_lifetime.count()) * 1000;
    if (Status st = state::Repo<state::RefreshToken>(store_).Insert(rt); !st.ok()) {
      return OAuthError(500, "temporarily_unavailable", st.message(), 90033);
    }
    // The tenant rides in the token so that /common can find it again.
    w.KV("refresh_token", ctx.tenant.id + "." + refresh);
  }
  bool want_id = std::find(requested.begin(), requested.end(), "openid") != requested.end() || !ctx.v2;
  if (want_id) {
    json::Value id = json::Value::Object();
    id.Set("aud", app.client_id);
    id.Set("iss", IdTokenIssuer(ctx.tenant.id, ctx.v2));
    id.Set("iat", now);
    id.Set("nbf", now);
    id.Set("exp", exp);
    id.Set("name", user.display_name);
    id.Set("oid", user.id);
    id.Set("preferred_username", user.upn);
    id.Set("sub", user.id);
    id.Set("tid", ctx.tenant.id);
    id.Set("upn", user.upn);
    id.Set("ver", ctx.v2 ? "2.0" : "1.0");
    if (!nonce.empty()) id.Set("nonce", nonce);
    auto id_token = SignAccessToken(id);
    if (!id_token) return OAuthError(500, "temporarily_unavailable", id_token.error().message(), 90033);
    w.KV("id_token", *id_token);
    w.KV("client_info", Base64UrlEncode(ClientInfo(user).Serialize()));
  }
  w.EndObject();
  return OAuthReply{200, "application/json; charset=utf-8", w.Take(), {}};
}

OAuthReply TokenService::AuthorizationCode(GrantContext& ctx) {
  std::string code(FormGet(ctx.form, "code"));
  if (code.empty()) return OAuthError(400, "invalid_request", "The request body must contain the following parameter: 'code'.", 900144);
  // Codes are "<tenant>.<random>" so that /common can route them.
  size_t dot = code.find('.');
  if (dot == std::string::npos) return OAuthError(400, "invalid_grant", "Malformed auth code.", 9002313);
  std::string tenant_id = code.substr(0, dot);
  if (!ctx.tenant.id.empty() && ctx.tenant.id != tenant_id) {
    return OAuthError(400, "invalid_grant", "The code was issued for another tenant.", 9002313);
  }
  auto tenant = store_.GetTenant(tenant_id);
  if (!tenant) return OAuthError(400, "invalid_grant", "Malformed auth code.", 9002313);
  ctx.tenant = *tenant;
  auto stored = state::Repo<state::AuthCode>(store_).Take(ctx.tenant.id, HashSecret(code.substr(dot + 1)));
  if (!stored) return OAuthError(400, "invalid_grant", "The provided authorization code or refresh token has expired, "
                                                       "was already redeemed or is invalid.", 70008);
  if (stored->expires_ms < NowMs()) return OAuthError(400, "invalid_grant", "The provided authorization code has expired.", 70008);
  auto app = AuthenticateClient(ctx, false);
  if (!app) return ClientError(app.error());
  if (app->client_id != stored->client_id) return OAuthError(400, "invalid_grant", "The code was issued to another client.", 70000);
  if (std::string(FormGet(ctx.form, "redirect_uri")) != stored->redirect_uri) {
    return OAuthError(400, "invalid_grant", "The reply URL does not match the one used to obtain the code.", 50148);
  }
  if (!stored->code_challenge.empty()) {
    std::string verifier(FormGet(ctx.form, "code_verifier"));
    if (verifier.size() < 43 || verifier.size() > 128) {
      return OAuthError(400, "invalid_grant", "The code_verifier is missing or malformed.", 501481);
    }
    std::string computed = stored->code_challenge_method == "plain" ? verifier : Base64UrlEncode(Sha256(verifier));
    if (!ConstantTimeEquals(computed, stored->code_challenge)) {
      return OAuthError(400, "invalid_grant", "The code_verifier does not match the code_challenge supplied in the "
                                              "authorization request.", 501481);
    }
  } else if (app->secrets.empty()) {
    // Public clients must use PKCE.
    return OAuthError(400, "invalid_grant", "Proof Key for Code Exchange is required for public clients.", 9002325);
  }
  auto user = state::Repo<state::User>(store_).Get(ctx.tenant.id, stored->user_id);
  if (!user || !user->enabled) return OAuthError(400, "invalid_grant", "The user is disabled or deleted.", 50057);
  std::vector<std::string> requested = SplitSpaces(stored->scope);
  bool want_refresh = !ctx.v2 || std::find(requested.begin(), requested.end(), "offline_access") != requested.end();
  return IssueUserTokens(ctx, *app, *user, stored->resource, requested, want_refresh, stored->nonce);
}

OAuthReply TokenService::RefreshTokenGrant(GrantContext& ctx) {
  std::string presented(FormGet(ctx.form, "refresh_token"));
  size_t dot = presented.find('.');
  if (dot == std::string::npos) return OAuthError(400, "invalid_grant", "Invalid refresh token.", 9002313);
  std::string tenant_id = presented.substr(0, dot);
  if (!ctx.tenant.id.empty() && ctx.tenant.id != tenant_id) {
    return OAuthError(400, "invalid_grant", "The refresh token was issued for another tenant.", 9002313);
  }
  auto tenant = store_.GetTenant(tenant_id);
  if (!tenant) return OAuthError(400, "invalid_grant", "Invalid refresh token.", 9002313);
  ctx.tenant = *tenant;
  // Refresh tokens rotate: the presented one is consumed and a new one issued.
  auto stored = state::Repo<state::RefreshToken>(store_).Take(ctx.tenant.id, HashSecret(presented.substr(dot + 1)));
  if (!stored || stored->revoked || stored->expires_ms < NowMs()) {
    return OAuthError(400, "invalid_grant", "The provided authorization code or refresh token has expired, was "
                                            "already redeemed or is invalid.", 70008);
  }
  auto app = AuthenticateClient(ctx, false);
  if (!app) return ClientError(app.error());
  if (app->client_id != stored->client_id) return OAuthError(400, "invalid_grant", "The refresh token was issued to another client.", 70000);
  auto user = state::Repo<state::User>(store_).Get(ctx.tenant.id, stored->user_id);
  if (!user || !user->enabled) return OAuthError(400, "invalid_grant", "The user is disabled or deleted.", 50057);
  std::vector<std::string> requested = SplitSpaces(stored->scope);
  return IssueUserTokens(ctx, *app, *user, stored->resource, requested, true, "");
}

OAuthReply TokenService::AuthorizePage(std::string_view tenant_segment, const Form& query) {
  auto tenant = ResolveTenant(tenant_segment);
  bool multi = tenant_segment == "common" || tenant_segment == "organizations";
  if (!tenant && !multi) {
    return OAuthReply{400, "text/html; charset=utf-8", "<!doctype html><p>Tenant not found.</p>", {}};
  }
  std::string client_id(FormGet(query, "client_id"));
  std::string redirect_uri(FormGet(query, "redirect_uri"));
  if (FormGet(query, "response_type") != "code") {
    return OAuthReply{400, "text/html; charset=utf-8", "<!doctype html><p>Only response_type=code is supported.</p>", {}};
  }
  if (client_id.empty() || redirect_uri.empty()) {
    return OAuthReply{400, "text/html; charset=utf-8", "<!doctype html><p>client_id and redirect_uri are required.</p>", {}};
  }
  std::string page =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in to Ward</title>"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
      // The portal's look (web/src/styles.css), inline: this page is served before any portal asset.
      "<style>body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;"
      "background:#f1f5f9;color:#0f172a;font:14px 'Segoe UI',system-ui,sans-serif}main{width:380px;background:#fff;"
      "border:1px solid #e2e8f0;border-radius:8px;padding:28px}h1{font-size:22px;margin:0 0 16px}"
      "label{display:block;font-size:12px;color:#64748b;margin-bottom:12px}input{display:block;box-sizing:border-box;"
      "width:100%;margin-top:4px;padding:8px;font:inherit;border:1px solid #cbd5e1;border-radius:6px}"
      "button{width:100%;padding:9px;font:inherit;color:#fff;background:#2563eb;border:0;border-radius:6px;cursor:pointer}"
      "[role=alert]{color:#b91c1c;background:#fef2f2;border:1px solid #fecaca;border-radius:8px;padding:10px}"
      "</style></head><body><main><h1>Sign in to Ward</h1><form method=\"post\">";
  for (std::string_view field : {"client_id", "redirect_uri", "scope", "state", "code_challenge",
                                 "code_challenge_method", "nonce", "response_mode", "resource"}) {
    std::string_view v = FormGet(query, field);
    if (v.empty()) continue;
    page += "<input type=\"hidden\" name=\"" + std::string(field) + "\" value=\"" + EscapeMarkup(v) + "\">";
  }
  page += "<input type=\"hidden\" name=\"response_type\" value=\"code\">"
          "<label>User name<input name=\"username\" autofocus autocomplete=\"username\" value=\"" +
          EscapeMarkup(FormGet(query, "login_hint")) +
          "\"></label><label>Password<input name=\"password\" type=\"password\" "
          "autocomplete=\"current-password\"></label><button type=\"submit\">Sign in</button></form></main></body></html>";
  OAuthReply reply{200, "text/html; charset=utf-8", std::move(page), {}};
  return reply;
}

OAuthReply TokenService::AuthorizeSubmit(std::string_view tenant_segment, const Form& form) {
  auto html_error = [](int status, std::string_view msg) {
    return OAuthReply{status, "text/html; charset=utf-8", "<!doctype html><p>" + EscapeMarkup(msg) + "</p>", {}};
  };
  std::string username(FormGet(form, "username"));
  std::string password(FormGet(form, "password"));
  std::string client_id = Lower(FormGet(form, "client_id"));
  std::string redirect_uri(FormGet(form, "redirect_uri"));
  auto tenant = ResolveTenant(tenant_segment);
  std::optional<state::User> user;
  if (tenant) {
    auto u = state::Repo<state::User>(store_).GetByUniqueKey(tenant->id, username);
    if (u) user = *u;
  } else if (tenant_segment == "common" || tenant_segment == "organizations") {
    auto tenants = store_.ListTenants();
    for (const state::Tenant& t : tenants ? *tenants : std::vector<state::Tenant>{}) {
      auto u = state::Repo<state::User>(store_).GetByUniqueKey(t.id, username);
      if (u) {
        user = *u;
        tenant = t;
        break;
      }
    }
  }
  if (!tenant) return html_error(400, "Tenant not found.");
  auto app = state::Repo<state::App>(store_).Get(tenant->id, client_id);
  if (!app || !app->enabled) return html_error(400, "Unknown application.");
  if (!RedirectUriAllowed(*app, redirect_uri)) return html_error(400, "The redirect URI is not registered for this application.");
  auto checked = CheckUserPassword(*tenant, username, password);
  if (!checked) {
    // Show the form again rather than redirecting: the client app should not learn of failed attempts.
    Form retry = form;
    retry.emplace_back("login_hint", username);
    OAuthReply page = AuthorizePage(tenant->id, retry);
    page.status = 200;
    std::string alert = checked.error().code() == StatusCode::kFailedPrecondition
                            ? checked.error().message()
                            : "Your account or password is incorrect.";
    page.body.insert(page.body.find("<form"), "<p role=\"alert\">" + EscapeMarkup(alert) + "</p>");
    return page;
  }
  user = *checked;
  std::string method(FormGet(form, "code_challenge_method"));
  std::string challenge(FormGet(form, "code_challenge"));
  if (!challenge.empty() && method.empty()) method = "plain";
  if (!challenge.empty() && method != "S256" && method != "plain") return html_error(400, "Unsupported code_challenge_method.");

  std::vector<std::string> requested;
  Form resource_form{{"scope", std::string(FormGet(form, "scope"))}, {"resource", std::string(FormGet(form, "resource"))}};
  bool v2 = FormGet(form, "resource").empty();
  auto resource = ResolveResource(resource_form, v2, &requested);
  if (!resource) return html_error(400, resource.error().message());

  std::string code = RandomToken(32);
  state::AuthCode ac;
  ac.tenant_id = tenant->id;
  ac.code_hash = HashSecret(code);
  ac.client_id = app->client_id;
  ac.user_id = user->id;
  ac.redirect_uri = redirect_uri;
  ac.code_challenge = challenge;
  ac.code_challenge_method = method;
  ac.scope = Join(requested, " ");
  ac.resource = *resource;
  ac.nonce = std::string(FormGet(form, "nonce"));
  ac.expires_ms = NowMs() + config_.auth_code_lifetime.count() * 1000;
  if (Status st = state::Repo<state::AuthCode>(store_).Insert(ac); !st.ok()) return html_error(500, st.message());
  std::string location = redirect_uri + (redirect_uri.find('?') == std::string::npos ? "?" : "&") +
                         "code=" + PercentEncode(tenant->id + "." + code);
  if (std::string_view state_param = FormGet(form, "state"); !state_param.empty()) {
    location += "&state=" + PercentEncode(state_param);
  }
  location += "&session_state=" + NewGuid();
  return OAuthReply{302, "text/html; charset=utf-8", "", location};
}

Result<json::Value> TokenService::OpenIdConfiguration(std::string_view tenant_segment, bool v2,
                                                      std::string_view base_url) {
  std::string tid;
  auto tenant = ResolveTenant(tenant_segment);
  if (tenant) {
    tid = tenant->id;
  } else if (tenant_segment == "common" || tenant_segment == "organizations") {
    tid = "{tenantid}";
  } else {
    return Err(NotFound("Tenant '" + std::string(tenant_segment) + "' not found."));
  }
  std::string base = TrimSlash(std::string(base_url)) + "/" + std::string(tenant_segment);
  json::Value doc = json::Value::Object();
  std::string suffix = v2 ? "/v2.0" : "";
  doc.Set("token_endpoint", base + "/oauth2" + suffix + "/token");
  doc.Set("token_endpoint_auth_methods_supported",
          json::Value::Array().Append("client_secret_post").Append("client_secret_basic"));
  doc.Set("jwks_uri", base + "/discovery" + suffix + "/keys");
  doc.Set("response_modes_supported", json::Value::Array().Append("query"));
  doc.Set("subject_types_supported", json::Value::Array().Append("pairwise"));
  doc.Set("id_token_signing_alg_values_supported", json::Value::Array().Append("RS256"));
  doc.Set("response_types_supported", json::Value::Array().Append("code"));
  doc.Set("scopes_supported", json::Value::Array().Append("openid").Append("profile").Append("email").Append("offline_access"));
  doc.Set("issuer", IdTokenIssuer(tid, v2));
  doc.Set("request_uri_parameter_supported", false);
  doc.Set("authorization_endpoint", base + "/oauth2" + suffix + "/authorize");
  doc.Set("grant_types_supported", json::Value::Array().Append("authorization_code").Append("client_credentials")
                                       .Append("password").Append("refresh_token"));
  doc.Set("code_challenge_methods_supported", json::Value::Array().Append("S256").Append("plain"));
  doc.Set("claims_supported", json::Value::Array().Append("sub").Append("iss").Append("aud").Append("exp").Append("iat")
                                  .Append("nbf").Append("name").Append("oid").Append("tid").Append("upn")
                                  .Append("preferred_username").Append("nonce"));
  doc.Set("tenant_region_scope", "WW");
  doc.Set("cloud_instance_name", "ward");
  return doc;
}

json::Value TokenService::Jwks() { return keys_.Current()->Jwks(); }

json::Value TokenService::InstanceDiscovery(std::string_view base_url, std::string_view authority_host) {
  // MSAL asks which hosts are aliases of the authority; Ward is its own single cloud.
  json::Value doc = json::Value::Object();
  std::string host(authority_host);
  doc.Set("tenant_discovery_endpoint", TrimSlash(std::string(base_url)) + "/{tenant}/v2.0/.well-known/openid-configuration");
  doc.Set("api-version", "1.1");
  json::Value meta = json::Value::Object();
  meta.Set("preferred_network", host);
  meta.Set("preferred_cache", host);
  meta.Set("aliases", json::Value::Array().Append(host));
  doc.Set("metadata", json::Value::Array().Append(std::move(meta)));
  return doc;
}

json::Value TokenService::UserRealm(std::string_view username) {
  json::Value doc = json::Value::Object();
  doc.Set("ver", "1.0");
  doc.Set("account_type", "Managed");
  std::string_view domain = username.substr(username.find('@') == std::string_view::npos ? username.size() : username.find('@') + 1);
  doc.Set("domain_name", domain);
  doc.Set("cloud_instance_name", "ward");
  doc.Set("cloud_audience_urn", "urn:federation:ward");
  return doc;
}

Result<std::shared_ptr<const rbac::Principal>> TokenService::Authenticate(std::string_view header) {
  if (header.size() < 8 || Lower(header.substr(0, 7)) != "bearer ") {
    return Err(Unauthenticated("Authorization header is missing or is not a Bearer token"));
  }
  std::string_view token = header.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  int64_t now = NowSeconds();
  CacheShard& shard = cache_[(TokenHash{}(token) >> 7) % kCacheShards];
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.entries.find(token);
    if (it != shard.entries.end()) {
      if (it->second.exp + 120 >= now) return it->second.principal;
      shard.entries.erase(it);
    }
  }
  std::shared_ptr<const KeySet> keys = keys_.Current();
  JwtValidation validation;
  validation.accepted_audiences = AcceptedAudiences();
  validation.issuer_for_tenant = [this](std::string_view tid) -> std::string {
    if (!IsGuid(tid) || !store_.GetTenant(tid)) return "";
    return AccessTokenIssuer(tid);
  };
  WARD_ASSIGN_OR_RETURN(json::Value claims, VerifyJwt(token, *keys, validation));
  auto principal = std::make_shared<rbac::Principal>();
  principal->tenant_id = claims.GetString("tid").value_or("");
  principal->client_id = claims.GetString("appid").value_or("");
  principal->object_id = claims.GetString("oid").value_or("");
  principal->audience = claims.GetString("aud").value_or("");
  if (auto scp = claims.GetString("scp")) {
    principal->type = rbac::Principal::Type::kUser;
    principal->name = claims.GetString("upn").value_or("");
    for (const std::string& s : SplitSpaces(*scp)) principal->scopes.insert(s);
  } else {
    principal->type = rbac::Principal::Type::kApplication;
    principal->name = claims.GetString("app_displayname").value_or(principal->client_id);
    if (auto roles = state::ReadStringArray(claims.Find("roles"))) {
      principal->roles.insert(roles->begin(), roles->end());
    }
  }
  if (principal->tenant_id.empty() || principal->object_id.empty()) return Err(Unauthenticated("token lacks tid/oid"));
  int64_t exp = claims.GetInt("exp").value_or(now);
  std::shared_ptr<const rbac::Principal> out = principal;
  std::lock_guard lock(shard.mu);
  if (shard.entries.size() >= kMaxCachedPerShard) shard.entries.clear();
  shard.entries[std::string(token)] = CacheEntry{out, exp};
  return out;
}

}  // namespace ward::identity
