#pragma once
// The REST surface: MDE-compatible /api/* resources, Ward's management API, and the Azure-AD-shaped
// identity endpoints, behind one middleware chain:
//   request id → route → (for /api/*) bearer authentication → rate limit → handler → audit → metrics.
// Every error leaves in MDE's envelope. Handlers are plain functions over a Call.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/odata.h"
#include "api/rate_limiter.h"
#include "api/running_queries.h"
#include "kql/admission.h"
#include "common/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "http/static_files.h"
#include "identity/keys.h"
#include "identity/token_service.h"
#include "events/event_log.h"
#include "events/event_store.h"
#include "ingest/ingest_service.h"
#include "json/json.h"
#include "kql/engine.h"
#include "rbac/authorizer.h"
#include "state/state_store.h"

namespace ward::detect {
class SigmaDetector;
class CustomDetections;
class AlertWriter;
}

namespace ward::ingest {
class SensorPolicyCache;
}

namespace ward::actions {
class ActionService;
class DownloadLinks;
}

namespace ward::stream {
class StreamService;
}

namespace ward::api {

class MachineCatalog;

struct Services {
  state::StateStore& store;
  identity::KeyManager& keys;
  identity::TokenService& tokens;
  rbac::Authorizer& authz;
  RateLimiter& limiter;
  metrics::Registry& metrics;
  ingest::IngestService* ingest = nullptr;  // sensor telemetry; null when not wired (unit tests)
  events::EventStore* event_store = nullptr;  // telemetry for timelines (and hunting)
  events::EventLog* event_log = nullptr;      // server-made rows (alerts) are appended here
  detect::SigmaDetector* sigma = nullptr;     // live Sigma rules (/api/detectionrules); null when not wired
  detect::CustomDetections* custom_detections = nullptr;  // scheduled KQL rules; woken when one is saved
  detect::AlertWriter* alert_writer = nullptr;  // the one writer of alerts (CreateAlertByReference)
  kql::QueryOptions hunting;                  // hunting limits (config.json "hunting")
  // Hunting queries in flight (list/cancel). Shared by the copies of Services the Api makes.
  std::shared_ptr<RunningQueries> running_queries = std::make_shared<RunningQueries>();
  // Hunting slots shared fairly between tenants (config.json "hunting.concurrentQueries").
  std::shared_ptr<kql::QueryAdmission> hunting_admission = std::make_shared<kql::QueryAdmission>(1);
  // In-memory machines and their alerts (machine_catalog.h); set by RegisterMachineRoutes.
  std::shared_ptr<MachineCatalog> machine_catalog;
  // What sensors enforce (blocking indicators per device group); set by RegisterSensorRoutes.
  std::shared_ptr<ingest::SensorPolicyCache> sensor_policies;
  actions::ActionService* actions = nullptr;  // machine actions; null when not wired (unit tests)
  std::shared_ptr<actions::DownloadLinks> download_links;  // signed links to action files
  stream::StreamService* streaming = nullptr;  // the Streaming API's destinations; null when not wired
  std::string library_dir;                    // live-response library bytes (<data-dir>/library)
  std::string public_url;                   // configured URL clients use ("" = request host)
  // The portal's built assets, served at / for paths no route claims; null = no portal.
  std::shared_ptr<const http::StaticFiles> portal_assets;
  std::string server_cert_sha256;           // pinned by sensors; "" for plain HTTP
};

// One authenticated API call in flight.
class Call {
 public:
  Call(Services& s, http::Request& req, http::Response& res, const rbac::Principal& p)
      : services(s), req(req), res(res), principal(p) {}

  Services& services;
  http::Request& req;
  http::Response& res;
  const rbac::Principal& principal;
  std::string audit_target;  // set by handlers that change state

  const std::string& tenant() const { return principal.tenant_id; }
  // Authorization (rbac::Authorizer) with the caller's principal.
  Status Require(const rbac::Requirement& r) { return services.authz.Check(principal, r); }
  // The request body as a JSON object; InvalidRequestBody when malformed.
  Result<json::Value> JsonBody() const;
  // Parsed query options for an entity set; errors are ODataError.
  Result<odata::Query> ODataQuery(const odata::EntitySchema& schema) const;
  std::string BaseUrl() const;  // scheme://host as the client reached us

  void Json(int status, std::string body);
  void Fail(const Status& st, std::string_view mde_code = "");
  // A required array of ids in the body (alertIds, IndicatorIds, MachineIds): 1 to `max` strings. On
  // error it has answered (MissingRequiredParameter, InvalidRequestBody, MaximumBatchSizeExceeded).
  std::optional<std::vector<std::string>> IdBatch(const json::Value& body, const char* name, size_t max = 500);
  // {"@odata.context": ".../$metadata#<set>", "value": [...], "@odata.nextLink"?}
  void ODataList(const odata::EntitySchema& schema, const odata::Query& q, std::vector<json::Value> entities);
  // Writes one page that the caller already filtered, ordered and cut to [$skip, $skip + $top):
  // `total` is the filtered count (for $count=true; may be unknown), `more` whether a next page exists.
  void ODataPage(const odata::EntitySchema& schema, const odata::Query& q, const std::vector<const json::Value*>& page,
                 std::optional<size_t> total, bool more);
  // A `$count` path segment: the number of entities matching $filter, as a bare integer in text/plain
  // (OData v4: $top, $skip and $orderby do not affect it).
  void ODataCount(const odata::EntitySchema& schema, const odata::Query& q, std::vector<json::Value> entities);
  void ODataEntity(std::string_view entity_set, const json::Value& entity, int status = 200);
  void NoContent() { res.status = 204; }
};

using CallHandler = std::function<void(Call&)>;

// A registered route as data, for the OpenAPI document.
struct ApiRoute {
  std::string method;                 // upper-case
  std::string pattern;                // as registered, e.g. "/api/machines/{id}"
  std::vector<std::string> captures;  // the pattern's {names}, in path order
  bool bearer = false;                // added with Api::Add: needs a bearer token
};

// Which token audiences a bearer route takes: Ward's API resources, or those plus the Azure AD Graph
// resource the legacy SIEM API documents (identity::kSiemResource).
enum class Audience { kApi, kApiOrSiem };

class Api {
 public:
  explicit Api(Services services);

  // Registers an authenticated /api route. rate_route overrides the rate-limit key (defaults to pattern).
  void Add(std::string method, std::string pattern, CallHandler handler, Audience audience = Audience::kApi);

  // The http::Server callbacks.
  void Handle(http::Request& req, http::Response& res);
  void RenderError(int status, std::string_view code, std::string_view message, const http::Request& req,
                   http::Response& res);
  void OnComplete(const http::Request& req, const http::Response& res, std::chrono::nanoseconds elapsed);

  Services& services() { return services_; }
  http::Router& router() { return router_; }
  // Every route (Api::Add and router().Add alike) in registration order. Const, so safe while serving.
  std::vector<ApiRoute> Routes() const;

 private:
  void Authenticated(http::Request& req, http::Response& res, const CallHandler& handler, Audience audience);
  void Audit(const Call& call);

  Services services_;
  http::Router router_;
  std::vector<bool> bearer_;  // by router index: whether the route was added with Add()
  metrics::Counter* requests_ = nullptr;
  metrics::Histogram* latency_ = nullptr;
  metrics::Counter* denials_ = nullptr;
};

// Route groups, each in its own file.
void RegisterIdentityRoutes(Api& api);     // oauth_routes.cc
void RegisterOperationalRoutes(Api& api);  // healthz, readyz, metrics
void RegisterManagementRoutes(Api& api);   // management_routes.cc
void RegisterMachineRoutes(Api& api);      // machine_routes.cc
void RegisterEntityRoutes(Api& api);       // entity_routes.cc: files, IPs, domains, users
void RegisterAlertRoutes(Api& api);        // alert_routes.cc: alerts and machine actions (read)
void RegisterIndicatorRoutes(Api& api);    // indicator_routes.cc: IoCs
void RegisterDetectionRuleRoutes(Api& api);  // detection_rule_routes.cc: Sigma rules (Ward extension)
void RegisterCustomDetectionRoutes(Api& api);  // custom_detection_routes.cc: Graph's security detectionRules
void RegisterHuntingRoutes(Api& api);      // hunting_routes.cc: advanced hunting (KQL)
void RegisterAuditRoutes(Api& api);        // audit_routes.cc
void RegisterSensorRoutes(Api& api);       // sensor_routes.cc: /sensor/v1/* and onboarding
void RegisterActionRoutes(Api& api);       // action_routes.cc: response actions, their sensor channel, library
void RegisterStreamingRoutes(Api& api);    // streaming_routes.cc: streaming configurations (Ward extension)
void RegisterSiemRoutes(Api& api);         // siem_routes.cc: the legacy SIEM detections API (/siem/api/alerts)
void RegisterPortalRoutes(Api& api);       // portal_routes.cc: /portal/config.json, /api/rbac/me
void RegisterSavedQueryRoutes(Api& api);   // saved_query_routes.cc: /api/advancedhunting/savedqueries
// The separate SIEM listener (config.json "siem.listen") with wdatp-alertexporter's layout: there
// /api/alerts is the SIEM endpoint and nothing else is served. Needs RegisterSiemRoutes on `api`.
void HandleSiemListener(Api& api, http::Request& req, http::Response& res);
// metadata_routes.cc: /api/$metadata, /api (service document), /api/openapi.json. Register it last:
// the OpenAPI document lists the routes registered when it is requested.
void RegisterMetadataRoutes(Api& api);

// Replies on the sensor channel (/sensor/v1/*): a JSON body, and the MDE error envelope (401 asks for
// the WardDevice scheme).
void JsonReply(http::Response& res, int status, std::string body);
void SensorError(http::Request& req, http::Response& res, const Status& st, std::string_view code = "");

// Requirements shared by route files.
namespace requirements {
const rbac::Requirement& ManagePortal();
const rbac::Requirement& ReadAudit();
const rbac::Requirement& ReadMachines();
const rbac::Requirement& Hunting();  // advanced hunting: runs, the schema, saved queries
}  // namespace requirements

}  // namespace ward::api
