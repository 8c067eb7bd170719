#include "api/api.h"
#include "common/strings.h"

#include <cctype>

#include "api/errors.h"
#include "common/log.h"

namespace ward::api {
namespace {

constexpr std::string_view kJsonContentType = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// "/api/v1.0/alerts" is the versioned spelling of "/api/alerts".
void NormalizeVersionedPath(http::Request& req) {
  if (req.path.size() >= 9 && EqualsIgnoreCase(req.path.substr(0, 9), "/api/v1.0") &&
      (req.path.size() == 9 || req.path[9] == '/')) {
    req.path = "/api" + req.path.substr(9);
  }
}

// Paths the portal may answer when no route claims them: not the API's own namespaces, whose
// unknown paths keep MDE's 404 envelope.
bool IsPortalPath(std::string_view path) {
  for (std::string_view api : {"/api/", "/api", "/sensor/", "/siem/", "/v1.0/", "/beta/", "/metrics", "/healthz", "/readyz"}) {
    if (path.size() >= api.size() && EqualsIgnoreCase(path.substr(0, api.size()), api) &&
        (api.back() == '/' || path.size() == api.size() || path[api.size()] == '/')) {
      return false;
    }
  }
  return true;
}

std::string BaseUrlOf(const http::Request& req) {
  std::string_view host = req.headers.Get("host");
  if (host.empty()) host = "localhost";
  return std::string(req.secure ? "https://" : "http://") + std::string(host);
}

}  // namespace

Result<json::Value> Call::JsonBody() const {
  if (req.body.empty()) return Err(InvalidArgument("Request body is incorrect: the body is empty"));
  auto v = json::Value::Parse(req.body);
  if (!v) return Err(InvalidArgument("Request body is incorrect: " + v.error().message()));
  if (!v->is_object()) return Err(InvalidArgument("Request body is incorrect: a JSON object is expected"));
  return v;
}

Result<odata::Query> Call::ODataQuery(const odata::EntitySchema& schema) const {
  return odata::ParseQuery(req.query, schema);
}

std::string Call::BaseUrl() const { return BaseUrlOf(req); }

void Call::Json(int status, std::string body) {
  res.status = status;
  res.headers.Set("Content-Type", std::string(kJsonContentType));
  res.headers.Set("OData-Version", "4.0");
  res.body = std::move(body);
}

void Call::Fail(const Status& st, std::string_view mde_code) {
  HttpError e = MapStatus(st);
  if (mde_code.empty()) mde_code = e.code;
  // Request bodies that do not parse get MDE's own wording.
  if (mde_code == "InvalidInput" && StartsWith(st.message(), "Request body is incorrect")) mde_code = "InvalidRequestBody";
  if (mde_code == "InvalidInput" && StartsWith(st.message(), "Parameter ") &&
      st.message().size() > 11 && st.message().ends_with(" is missing")) {
    mde_code = "MissingRequiredParameter";
  }
  Json(e.status, ErrorBody(mde_code, st.message(), req.request_id));
  if (e.status == 401) res.headers.Set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
}

std::optional<std::vector<std::string>> Call::IdBatch(const json::Value& body, const char* name, size_t max) {
  const json::Value* v = body.Find(name);
  if (!v || v->is_null()) {
    Fail(InvalidArgument(std::string("Parameter ") + name + " is missing"));
    return std::nullopt;
  }
  auto ids = state::ReadStringArray(v);
  if (!ids) {
    Fail(InvalidArgument(std::string("Request body is incorrect: ") + name + " must be an array of strings"));
    return std::nullopt;
  }
  if (ids->empty()) {
    Fail(InvalidArgument(std::string(name) + " is empty"));
    return std::nullopt;
  }
  if (ids->size() > max) {
    Fail(InvalidArgument("Received: " + std::to_string(ids->size()) + ", allowed: " + std::to_string(max)),
         "MaximumBatchSizeExceeded");
    return std::nullopt;
  }
  return ids;
}

void Call::ODataList(const odata::EntitySchema& schema, const odata::Query& q, std::vector<json::Value> entities) {
  // Apply filter and order first, then page here so that nextLink can be computed.
  odata::Query fo;
  fo.orderby = q.orderby;
  if (q.filter) {
    std::vector<json::Value> kept;
    for (json::Value& e : entities) {
      if (odata::Matches(*q.filter, e, schema)) kept.push_back(std::move(e));
    }
    entities = std::move(kept);
  }
  odata::Apply(fo, schema, entities);
  size_t total = entities.size();
  size_t begin = std::min<size_t>(static_cast<size_t>(q.skip), total);
  size_t end = std::min<size_t>(begin + static_cast<size_t>(q.top.value_or(10000)), total);
  std::vector<const json::Value*> page;
  page.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) page.push_back(&entities[i]);
  ODataPage(schema, q, page, total, end < total);
}

void Call::ODataPage(const odata::EntitySchema& schema, const odata::Query& q, const std::vector<const json::Value*>& page,
                     std::optional<size_t> total, bool more) {
  json::Writer w;
  w.StartObject();
  w.KV("@odata.context", BaseUrl() + "/api/$metadata#" + schema.entity_set);
  if (q.count && total) w.KV("@odata.count", static_cast<int64_t>(*total));
  w.Key("value").StartArray();
  for (const json::Value* entity : page) {
    if (q.select.empty()) {
      w.Val(*entity);
      continue;
    }
    w.StartObject();
    for (const std::string& prop : q.select) {
      const json::Value* v = entity->Find(prop);
      w.Key(prop).Val(v ? *v : json::Value());
    }
    w.EndObject();
  }
  w.EndArray();
  if (more) {
    // Keep the caller's other options and move $skip forward.
    std::string next = BaseUrl() + req.path + "?";
    std::string kept;
    size_t pos = 0;
    std::string_view query = req.query;
    while (pos <= query.size()) {
      size_t amp = query.find('&', pos);
      if (amp == std::string_view::npos) amp = query.size();
      std::string_view part = query.substr(pos, amp - pos);
      if (!part.empty() && !StartsWith(part, "$skip=") && !StartsWith(part, "%24skip=")) {
        kept += std::string(part) + "&";
      }
      pos = amp + 1;
    }
    next += kept + "$skip=" + std::to_string(q.skip + static_cast<int64_t>(page.size()));
    w.KV("@odata.nextLink", next);
  }
  w.EndObject();
  Json(200, w.Take());
}

void Call::ODataCount(const odata::EntitySchema& schema, const odata::Query& q, std::vector<json::Value> entities) {
  int64_t n = 0;
  for (const json::Value& e : entities) {
    if (!q.filter || odata::Matches(*q.filter, e, schema)) ++n;
  }
  res.status = 200;
  res.headers.Set("Content-Type", "text/plain; charset=utf-8");
  res.headers.Set("OData-Version", "4.0");
  res.body = std::to_string(n);
}

void Call::ODataEntity(std::string_view entity_set, const json::Value& entity, int status) {
  json::Writer w;
  w.StartObject();
  w.KV("@odata.context", BaseUrl() + "/api/$metadata#" + std::string(entity_set) + "/$entity");
  for (const json::Member& m : entity.members()) w.Key(m.key).Val(m.value);
  w.EndObject();
  Json(status, w.Take());
}

Api::Api(Services services) : services_(services) {
  requests_ = &services_.metrics.AddCounter("ward_http_requests_total", "HTTP requests by route, method and status",
                                            {"route", "method", "status"});
  latency_ = &services_.metrics.AddHistogram(
      "ward_http_request_duration_seconds", "HTTP request latency by route", {"route"},
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  denials_ = &services_.metrics.AddCounter("ward_authz_denials_total", "Requests refused by authentication, "
                                           "authorization or rate limits", {"reason"});
}

void Api::Add(std::string method, std::string pattern, CallHandler handler, Audience audience) {
  const size_t index = router_.size();
  bearer_.resize(index + 1, false);
  bearer_[index] = true;
  router_.Add(std::move(method), std::move(pattern),
              [this, handler = std::move(handler), audience](http::Request& req, http::Response& res) {
                Authenticated(req, res, handler, audience);
              });
}

std::vector<ApiRoute> Api::Routes() const {
  std::vector<http::Router::RouteInfo> routes = router_.Routes();
  std::vector<ApiRoute> out;
  out.reserve(routes.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    out.push_back({std::move(routes[i].method), std::move(routes[i].pattern), std::move(routes[i].captures),
                   i < bearer_.size() && bearer_[i]});
  }
  return out;
}

void Api::Handle(http::Request& req, http::Response& res) {
  NormalizeVersionedPath(req);
  switch (router_.Dispatch(req, res)) {
    case http::Router::Outcome::kHandled: break;
    case http::Router::Outcome::kNotFound:
      if (IsPortalPath(req.path) && services_.portal_assets && services_.portal_assets->Serve(req, res)) {
        req.route = "portal";
        break;
      }
      req.route = "unmatched";
      RenderError(404, "ResourceNotFound", "Resource " + req.path + " wasn't found", req, res);
      break;
    case http::Router::Outcome::kMethodNotAllowed:
      RenderError(405, "MethodNotAllowed", "The HTTP method " + req.method + " is not supported for " + req.path, req, res);
      break;
  }
}

void Api::RenderError(int status, std::string_view code, std::string_view message, const http::Request& req,
                      http::Response& res) {
  res.status = status;
  res.headers.Set("Content-Type", std::string(kJsonContentType));
  res.body = ErrorBody(code, message, req.request_id);
}

void Api::Authenticated(http::Request& req, http::Response& res, const CallHandler& handler, Audience audience) {
  auto principal = services_.tokens.Authenticate(req.headers.Get("authorization"));
  if (principal && audience == Audience::kApi && (*principal)->audience == identity::kSiemResource) {
    principal = Err(Unauthenticated("a token for " + std::string(identity::kSiemResource) + " is for the SIEM API only"));
  }
  if (!principal) {
    denials_->Inc({"unauthenticated"});
    log::Warn("authentication failed", {{"request_id", req.request_id}, {"path", req.path},
                                        {"reason", principal.error().message()}, {"remote", req.remote_address}});
    rbac::Principal nobody;
    Call call(services_, req, res, nobody);
    // The reason stays in the log; clients get MDE's generic message.
    call.Fail(Unauthenticated("Authorization token is missing, invalid or expired"), "Unauthorized");
    return;
  }
  const rbac::Principal& p = **principal;
  std::string caller = p.tenant_id + (p.is_user() ? "/user/" : "/app/") + p.object_id;
  RateLimiter::Decision d = services_.limiter.Check(caller, req.route);
  Call call(services_, req, res, p);
  if (!d.allowed) {
    denials_->Inc({"rate_limited"});
    res.headers.Set("Retry-After", std::to_string(d.retry_after_seconds));
    call.Fail(ResourceExhausted("Rate limit is exceeded. Try again in " + std::to_string(d.retry_after_seconds) +
                                " seconds."),
              "TooManyRequests");
    res.headers.Set("Retry-After", std::to_string(d.retry_after_seconds));
    return;
  }
  try {
    handler(call);
  } catch (const std::exception& e) {
    log::Error("handler threw", {{"request_id", req.request_id}, {"route", req.route}, {"what", e.what()}});
    call.Fail(Internal("An internal error occurred; retry later"));
  }
  if (res.status == 403) denials_->Inc({"forbidden"});
  if (req.method != "GET" && req.method != "HEAD") Audit(call);
}

void Api::Audit(const Call& call) {
  state::AuditEntry e;
  e.tenant_id = call.principal.tenant_id;
  e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
  e.actor_type = call.principal.is_user() ? "User" : "Application";
  e.actor_id = call.principal.is_user() ? call.principal.object_id : call.principal.client_id;
  e.actor_name = call.principal.name;
  e.action = call.req.method + " " + call.req.route;
  e.target = call.audit_target.empty() ? call.req.path : call.audit_target;
  e.result = call.res.status < 400 ? "Success" : "Failure";
  e.http_status = call.res.status;
  e.request_id = call.req.request_id;
  if (call.res.status >= 400) e.details = call.res.body.substr(0, 1024);
  auto st = services_.store.AppendAudit(e);
  if (!st) log::Error("audit append failed", {{"request_id", call.req.request_id}, {"error", st.error().message()}});
}

void Api::OnComplete(const http::Request& req, const http::Response& res, std::chrono::nanoseconds elapsed) {
  std::string status = std::to_string(res.status);
  const std::string& route = req.route.empty() ? std::string("unmatched") : req.route;
  requests_->Inc({route, req.method, status});
  latency_->Observe({route}, std::chrono::duration<double>(elapsed).count());
  if (res.status >= 400) {
    log::Warn("request failed", {{"request_id", req.request_id}, {"method", req.method}, {"path", req.path},
                                 {"status", status}, {"remote", req.remote_address}});
  }
}

namespace requirements {
const rbac::Requirement& ManagePortal() {
  static const rbac::Requirement r{{"Ward.Management.ReadWrite.All"}, {"Ward.Management.ReadWrite"},
                                   rbac::PortalPermission::kManagePortalSettings};
  return r;
}
const rbac::Requirement& ReadAudit() {
  static const rbac::Requirement r{{"Ward.AuditLog.Read.All"}, {"Ward.AuditLog.Read"},
                                   rbac::PortalPermission::kManagePortalSettings};
  return r;
}
const rbac::Requirement& Hunting() {
  static const rbac::Requirement r{{"AdvancedQuery.Read.All", "AdvancedHunting.Read.All", "ThreatHunting.Read.All"},
                                   {"AdvancedQuery.Read", "AdvancedHunting.Read", "ThreatHunting.Read"},
                                   rbac::PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& ReadMachines() {
  static const rbac::Requirement r{{"Machine.Read.All", "Machine.ReadWrite.All"}, {"Machine.Read", "Machine.ReadWrite"},
                                   rbac::PortalPermission::kViewData};
  return r;
}
}  // namespace requirements

}  // namespace ward::api
