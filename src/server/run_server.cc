#include "server/run_server.h"

#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <filesystem>

#include "actions/action_service.h"
#include "api/api.h"
#include "api/portal.h"
#include "detect/custom_detection.h"
#include "detect/detection_engine.h"
#include "detect/sigma_detector.h"
#include "events/event_log.h"
#include "events/event_store.h"
#include "events/store_writer.h"
#include "ingest/onboarding.h"
#include "ingest/profile_updater.h"
#include "common/log.h"
#include "http/server.h"
#include "identity/keys.h"
#include "identity/token_service.h"
#include "rbac/authorizer.h"
#include "server/backends.h"
#include "server/config.h"
#include "stream/stream_service.h"

namespace ward::server {


Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  std::string host;
  std::string port;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Err(InvalidArgument("--listen must look like [::1]:8443"));
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return Err(InvalidArgument("--listen must look like 127.0.0.1:8443"));
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return Err(InvalidArgument("--listen must be host:port with a port from 0 to 65535"));
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoi(port)));
}

std::string FindWebRoot(const std::string& configured) {
  namespace fs = std::filesystem;
  if (configured == "none") return "";
  if (!configured.empty()) return configured;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const char* rel : {"../web/dist", "../share/ward/web"}) {
    fs::path dir = exe.parent_path() / rel;
    if (fs::is_regular_file(dir / "index.html", ec)) return fs::weakly_canonical(dir, ec).string();
  }
  return "";
}

bool IsLoopback(const std::string& host) {
  return host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

// The SIEM API's own listener, with the main listener's TLS and limits, so that wdatp-alertexporter
// URLs map 1:1: there /api/alerts is the SIEM endpoint and nothing else is served. Prints and logs
// its address as the main listener does.
Result<std::unique_ptr<http::Server>> StartSiemListener(const std::string& listen, http::ServerOptions opts,
                                                        bool insecure_http, api::Api& api) {
  auto parsed = ParseListen(listen);
  if (!parsed) return Err(InvalidArgument("config.json: siem.listen must be host:port, not '" + listen + "'"));
  auto [host, port] = *parsed;
  const bool tls = !opts.tls_cert_file.empty();
  if (!tls && !IsLoopback(host) && !insecure_http) {
    return Err(InvalidArgument("config.json: siem.listen on a non-loopback address needs TLS or --insecure-http"));
  }
  opts.address = host == "localhost" ? "127.0.0.1" : host;
  opts.port = port;
  opts.threads = 2;  // a SIEM polls every few minutes
  auto server = std::make_unique<http::Server>(
      opts, [&api](http::Request& req, http::Response& res) { api::HandleSiemListener(api, req, res); },
      [&api](int status, std::string_view code, std::string_view message, const http::Request& req,
             http::Response& res) { api.RenderError(status, code, message, req, res); },
      [&api](const http::Request& req, const http::Response& res, std::chrono::nanoseconds elapsed) {
        api.OnComplete(req, res, elapsed);
      });
  WARD_ASSIGN_OR_RETURN(uint16_t bound, server->Start());
  std::string url = std::string(tls ? "https://" : "http://") +
                    (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  log::Info("SIEM API listening", {{"url", url + "/api/alerts"}});
  std::printf("ward SIEM API listening on %s\n", url.c_str());
  std::fflush(stdout);
  return server;
}

// Every tenant's Sigma rules added through /api/detectionrules (they live in the state store).
Result<std::vector<detect::ApiSigmaRule>> LoadApiSigmaRules(state::StateStore& store) {
  std::vector<detect::ApiSigmaRule> rules;
  WARD_ASSIGN_OR_RETURN(auto tenants, store.ListTenants());
  for (const state::Tenant& t : tenants) {
    WARD_ASSIGN_OR_RETURN(auto stored, state::Repo<state::DetectionRule>(store).List(t.id));
    for (state::DetectionRule& r : stored) rules.push_back({r.tenant_id, r.id, std::move(r.yaml)});
  }
  return rules;
}

Status Serve(const ServeOptions& o) {
  namespace fs = std::filesystem;
  WARD_ASSIGN_OR_RETURN(Config cfg, LoadConfig(o.data_dir, o.config_path));
  // Opened first: with the embedded store, a data directory without one was never initialised.
  WARD_ASSIGN_OR_RETURN(auto store, OpenStateStore(o.data_dir, cfg, /*create=*/false));
  if (cfg.distributed()) {
    WARD_ASSIGN_OR_RETURN(bool held, HoldsInstallation(*store));
    if (!held) return FailedPrecondition(cfg.state_url + " holds no Ward installation; run `ward init --config ...` once first");
    std::error_code ec;
    fs::create_directories(o.data_dir, ec);  // a node's own files: TLS, cursors of node-local consumers
  }
  log::SetLevel(cfg.log_level == "debug" ? log::Level::kDebug
                : cfg.log_level == "warn" ? log::Level::kWarn
                : cfg.log_level == "error" ? log::Level::kError
                                           : log::Level::kInfo);
  WARD_ASSIGN_OR_RETURN(auto listen, ParseListen(o.listen));
  auto [host, port] = listen;

  http::ServerOptions http_opts;
  http_opts.address = host == "localhost" ? "127.0.0.1" : host;
  http_opts.port = port;
  // Handlers run synchronously and a hunting query holds its thread for its duration (waiting for a
  // slot included), so there are more threads than cores: the rest of the API stays responsive.
  http_opts.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(8u, 4 * std::thread::hardware_concurrency()));
  http_opts.max_body_bytes = cfg.max_body_bytes;
  http_opts.max_header_bytes = cfg.max_header_bytes;
  http_opts.tls_cert_file = o.tls_cert;
  http_opts.tls_key_file = o.tls_key;
  if (o.tls_cert.empty() != o.tls_key.empty()) return InvalidArgument("--tls-cert and --tls-key go together");
  bool want_self_signed = o.self_signed_tls || (o.tls_cert.empty() && !IsLoopback(host) && !o.insecure_http);
  if (o.tls_cert.empty() && want_self_signed) {
    std::string dir = o.data_dir + "/tls";
    http_opts.tls_cert_file = dir + "/server.crt";
    http_opts.tls_key_file = dir + "/server.key";
    if (!fs::exists(http_opts.tls_cert_file)) {
      fs::create_directories(dir);
      std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
      if (!IsLoopback(host) && host != "0.0.0.0" && host != "::") names.push_back(host);
      WARD_RETURN_IF_ERROR(http::GenerateSelfSignedCertificate(http_opts.tls_cert_file, http_opts.tls_key_file, names));
      log::Info("generated a self-signed certificate", {{"cert", http_opts.tls_cert_file}});
    }
  }
  bool tls = !http_opts.tls_cert_file.empty();
  if (!tls && !IsLoopback(host) && !o.insecure_http) {
    return InvalidArgument("listening on a non-loopback address needs TLS (--tls-cert/--tls-key) or --insecure-http");
  }

  std::string public_url = !o.public_url.empty() ? o.public_url : cfg.public_url;
  if (public_url.empty()) {
    std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    public_url = std::string(tls ? "https://" : "http://") + shown + ":" + std::to_string(port);
  }

  identity::KeyManager keys(*store);
  WARD_RETURN_IF_ERROR(keys.Initialize());
  identity::TokenService tokens(*store, keys, identity::IdentityConfig{public_url});
  rbac::Authorizer authz(*store);
  api::RateLimiterConfig limits = cfg.rate_limits;
  if (o.disable_rate_limits) limits.enabled = false;
  api::RateLimiter limiter(limits);
  if (cfg.distributed()) {
    // Limits hold per installation, not per node: every node counts in the shared store.
    limiter.ShareCountsThrough([&store](const std::vector<std::string>& keys, int64_t expires_ms) {
      return store->AddToCounters(keys, expires_ms);
    });
  }
  metrics::Registry registry;

  // Telemetry: durable log → (columnar store, machine profiles, detection).
  const events::SchemaRegistry& schema = events::SchemaRegistry::Hunting();
  std::string events_dir = o.data_dir + "/events";
  fs::create_directories(events_dir + "/cursors");
  events::FileEventLogOptions log_options;
  log_options.dir = events_dir + "/log";
  log_options.cursor_dir = events_dir + "/cursors";
  // Segments younger than this stay: a batch retried after a restart is still recognised as a
  // duplicate (the dedup index is rebuilt from the log), and streams can replay that far back.
  log_options.min_retention = std::chrono::hours(cfg.stream_replay_hours);
  // The log and the store are the embedded ones unless config.json names Kafka / ClickHouse; what
  // follows uses only the EventLog and EventStore seams.
  WARD_ASSIGN_OR_RETURN(std::unique_ptr<events::EventLog> event_log, OpenEventLog(cfg, log_options));
  WARD_ASSIGN_OR_RETURN(std::unique_ptr<events::EventStore> event_store, OpenEventStore(o.data_dir, cfg));
  events::StoreWriter store_writer(*event_log, *event_store, schema, registry);
  WARD_RETURN_IF_ERROR(store_writer.Start());
  ingest::ProfileUpdater profiles(*event_log, *store, authz, schema);
  WARD_RETURN_IF_ERROR(profiles.Start());
  // Detection: its own log consumer; alerts go to the state store and back into the log.
  detect::AlertWriter alert_writer(*store, event_log.get(), schema);
  detect::DetectionEngine detection(*event_log, *store, alert_writer, schema, registry);
  detection.AddDetector(std::make_unique<detect::IocDetector>(*store, schema));
  detect::SigmaDetector* sigma_rules = nullptr;
  {
    WARD_ASSIGN_OR_RETURN(std::vector<detect::ApiSigmaRule> api_rules, LoadApiSigmaRules(*store));
    std::vector<detect::SigmaLoadOutcome> outcomes;
    WARD_ASSIGN_OR_RETURN(auto sigma, detect::SigmaDetector::Create(schema, o.data_dir + "/rules/sigma", std::move(api_rules), &outcomes));
    for (const detect::SigmaLoadOutcome& r : outcomes) {
      if (r.state == detect::SigmaLoadState::kFailed) log::Warn("sigma rule not loaded", {{"rule", r.source}, {"reason", r.reason}});
    }
    log::Info("sigma rules loaded", {{"rules", std::to_string(sigma->rules())}, {"files", std::to_string(outcomes.size())}});
    sigma_rules = sigma.get();
    detection.AddDetector(std::move(sigma));
  }
  WARD_RETURN_IF_ERROR(detection.Start());
  // Custom detection rules: scheduled KQL over the event store, alerts through the same writer.
  detect::CustomDetectionOptions custom_options;
  custom_options.query = cfg.hunting;
  custom_options.query.threads = 1;  // scheduled work leaves a core to interactive hunting
  custom_options.max_lookback = std::min<std::chrono::milliseconds>(custom_options.max_lookback, cfg.hunting.lookback);
  custom_options.before_run = [&] {
    if (auto end = event_log->EndPosition()) store_writer.WaitUntilApplied(*end, std::chrono::seconds(30));
  };
  detect::CustomDetections custom_detections(*store, *event_store, alert_writer, schema, registry, custom_options);
  WARD_RETURN_IF_ERROR(custom_detections.Start());
  // Streaming: each destination is its own log consumer (src/stream/stream_service.h).
  stream::StreamServiceOptions stream_options;
  stream_options.cursor_dir = events_dir + "/cursors";
  stream_options.dead_letter_dir = o.data_dir + "/streaming/deadletters";
  stream_options.sink_context.files_dir = o.data_dir + "/streaming/files";
  stream::StreamService streaming(*event_log, *store, schema, registry, stream_options);
  WARD_RETURN_IF_ERROR(streaming.Start());
  ingest::IngestService ingest_service(*event_log, schema, registry);
  WARD_RETURN_IF_ERROR(ingest_service.RebuildDedupIndex());

  actions::ActionOptions action_options;
  const std::string shared_dir = SharedDir(o.data_dir, cfg);
  action_options.files_dir = shared_dir + "/actions";
  action_options.pending_timeout = std::chrono::seconds(cfg.action_pending_timeout_s);
  action_options.running_timeout = std::chrono::seconds(cfg.action_running_timeout_s);
  // Sensors long-poll whichever node they reach; actions created through another node reach them
  // within this interval.
  if (cfg.distributed()) action_options.refresh = std::chrono::seconds(1);
  action_options.max_long_polls = cfg.action_long_polls > 0 ? cfg.action_long_polls : std::max(2, http_opts.threads / 4);
  actions::ActionService action_service(*store, action_options);
  action_service.Start();
  WARD_ASSIGN_OR_RETURN(std::string link_key, actions::LoadOrCreateLinkKey(shared_dir + "/actions/links.key"));

  api::Services services{*store, keys, tokens, authz, limiter, registry};
  services.actions = &action_service;
  services.download_links = std::make_shared<actions::DownloadLinks>(link_key);
  services.library_dir = shared_dir + "/library";
  services.streaming = &streaming;
  services.ingest = &ingest_service;
  services.event_store = event_store.get();
  services.event_log = event_log.get();
  services.sigma = sigma_rules;
  services.custom_detections = &custom_detections;
  services.alert_writer = &alert_writer;
  services.hunting = cfg.hunting;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  services.hunting_admission = std::make_shared<kql::QueryAdmission>(cfg.hunting_slots > 0 ? cfg.hunting_slots : std::max(1, cores / 2));
  services.public_url = public_url;
  if (tls) services.server_cert_sha256 = ingest::CertificateSha256FromPemFile(http_opts.tls_cert_file);
  if (std::string web_root = FindWebRoot(o.web_root); !web_root.empty()) {
    services.portal_assets = std::make_shared<const http::StaticFiles>(web_root);
    log::Info("portal assets", {{"dir", web_root}});
  } else {
    log::Warn("no portal assets found (build them with `make run` or `npm run build` in web/); serving the API only");
  }
  {
    WARD_ASSIGN_OR_RETURN(auto tenants, store->ListTenants());
    for (const state::Tenant& t : tenants) {
      if (auto app = api::EnsurePortalApp(*store, t.id, public_url); !app) return app.error();
    }
  }
  api::Api api(services);
  api::RegisterOperationalRoutes(api);
  api::RegisterPortalRoutes(api);
  api::RegisterIdentityRoutes(api);
  api::RegisterManagementRoutes(api);
  api::RegisterMachineRoutes(api);
  api::RegisterEntityRoutes(api);
  api::RegisterAlertRoutes(api);
  api::RegisterIndicatorRoutes(api);
  api::RegisterDetectionRuleRoutes(api);
  api::RegisterCustomDetectionRoutes(api);
  api::RegisterHuntingRoutes(api);
  api::RegisterSavedQueryRoutes(api);
  api::RegisterAuditRoutes(api);
  api::RegisterSensorRoutes(api);
  api::RegisterActionRoutes(api);
  api::RegisterStreamingRoutes(api);
  api::RegisterSiemRoutes(api);
  api::RegisterMetadataRoutes(api);  // last: its $metadata/openapi.json describe all the groups above

  // Block the signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  http::Server server(
      http_opts, [&api](http::Request& req, http::Response& res) { api.Handle(req, res); },
      [&api](int status, std::string_view code, std::string_view message, const http::Request& req,
             http::Response& res) { api.RenderError(status, code, message, req, res); },
      [&api](const http::Request& req, const http::Response& res, std::chrono::nanoseconds elapsed) {
        api.OnComplete(req, res, elapsed);
      });
  WARD_ASSIGN_OR_RETURN(uint16_t bound, server.Start());
  std::string url = std::string(tls ? "https://" : "http://") +
                    (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  log::Info("listening", {{"url", url}, {"publicUrl", public_url}, {"dataDir", o.data_dir}});
  std::printf("ward listening on %s\n", url.c_str());
  std::fflush(stdout);

  // The SIEM API's own listener, when configured (config.json "siem.listen").
  std::unique_ptr<http::Server> siem_server;
  if (!cfg.siem_listen.empty()) {
    WARD_ASSIGN_OR_RETURN(siem_server, StartSiemListener(cfg.siem_listen, http_opts, o.insecure_http, api));
  }

  // Housekeeping every minute: expired auth codes, refresh tokens and used assertions are deleted, and
  // event-log segments every consumer has passed are dropped.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread sweeper([&] {
    std::unique_lock lock(stop_mu);
    while (!stop_cv.wait_for(lock, std::chrono::minutes(1), [&] { return stopping; })) {
      int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
      auto n = store->DeleteExpired(now);
      if (!n) log::Warn("sweeping expired OAuth artefacts failed", {{"error", n.error().message()}});
      // The log is kept until every consumer is past it (and for the dedup window).
      events::LogPosition oldest_needed = events::MinPosition(
          events::MinPosition(store_writer.needed(), profiles.committed()),
          events::MinPosition(detection.committed(), streaming.oldest_needed()));
      if (Status st = event_log->ReleaseBefore(oldest_needed); !st.ok())
        log::Warn("event log truncation failed", {{"error", st.message()}});
    }
  });

  // Nodes sharing a state store: Sigma rules added through another node's API are picked up here
  // (the IoC matcher, RBAC, keys and machine caches follow the store's ChangeCounter themselves).
  std::thread shared_state_sync;
  if (cfg.distributed()) {
    shared_state_sync = std::thread([&] {
      int64_t seen = -1;
      std::unique_lock lock(stop_mu);
      while (!stop_cv.wait_for(lock, std::chrono::seconds(2), [&] { return stopping; })) {
        int64_t counter = store->ChangeCounter();
        if (counter == seen || !sigma_rules) continue;
        auto rules = LoadApiSigmaRules(*store);
        if (!rules) continue;  // try again next round rather than drop rules on a read error
        if (Status st = sigma_rules->ReplaceApiRules(std::move(*rules)); !st.ok()) {
          log::Warn("reloading Sigma rules from the shared store failed", {{"error", st.message()}});
          continue;
        }
        seen = counter;
      }
    });
  }

  int sig = 0;
  sigwait(&signals, &sig);
  log::Info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  {
    std::lock_guard lock(stop_mu);
    stopping = true;
  }
  stop_cv.notify_all();
  sweeper.join();
  if (shared_state_sync.joinable()) shared_state_sync.join();
  // Running hunts answer "cancelled" instead of holding the stop up for up to their timeout.
  if (size_t n = services.running_queries->CancelAll(); n > 0) log::Info("hunting queries cancelled", {{"count", std::to_string(n)}});
  if (siem_server) siem_server->Stop();
  server.Stop();
  // Consumers stop after the server so every acknowledged batch is already in the log.
  custom_detections.Stop();
  profiles.Stop();
  detection.Stop();
  streaming.Stop();
  store_writer.Stop();
  log::Info("stopped");
  return Status::Ok();
}

}  // namespace ward::server
