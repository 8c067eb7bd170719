#include "server/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "json/json.h"

namespace ward::server {
namespace {

Status CheckKeys(const json::Value& obj, const std::set<std::string>& allowed, const std::string& where) {
  for (const json::Member& m : obj.members()) {
    if (!allowed.count(m.key)) return InvalidArgument("config.json: unknown key '" + m.key + "' in " + where);
  }
  return Status::Ok();
}

Result<api::RateLimit> ReadLimit(const json::Value& v, api::RateLimit base, const std::string& where) {
  if (!v.is_object()) return Err(InvalidArgument("config.json: " + where + " must be an object"));
  WARD_RETURN_IF_ERROR(CheckKeys(v, {"perMinute", "perHour"}, where));
  if (const json::Value* m = v.Find("perMinute")) {
    if (!m->is_int() || m->as_int() < 1) return Err(InvalidArgument("config.json: " + where + ".perMinute must be >= 1"));
    base.per_minute = m->as_int();
  }
  if (const json::Value* h = v.Find("perHour")) {
    if (!h->is_int() || h->as_int() < 1) return Err(InvalidArgument("config.json: " + where + ".perHour must be >= 1"));
    base.per_hour = h->as_int();
  }
  return base;
}

}  // namespace

api::RateLimiterConfig MdeDefaultRateLimits() {
  api::RateLimiterConfig c;
  c.per_route["/api/alerts/batchUpdate"] = {10, 500};
  c.per_route["/api/alerts/CreateAlertByReference"] = {15, 1500};
  c.per_route["/api/machineactions/{id}/getPackageUri"] = {2, 120};
  c.per_route["/api/indicators/import"] = {30, 1500};
  c.per_route["/api/indicators/BatchDelete"] = {30, 1500};
  c.per_route["/api/machines/{id}/runliveresponse"] = {10, 1500};
  c.per_route["/api/advancedqueries/run"] = {45, 1500};
  c.per_route["/api/advancedhunting/run"] = {45, 1500};
  return c;
}

Result<Config> LoadConfig(const std::string& data_dir, const std::string& config_path) {
  Config cfg;
  cfg.rate_limits = MdeDefaultRateLimits();
  const std::string path = config_path.empty() ? data_dir + "/config.json" : config_path;
  std::ifstream in(path);
  if (!in) {
    if (!config_path.empty()) return Err(NotFound("cannot read the configuration file " + config_path));
    return cfg;  // no file in the data directory: defaults
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = json::Value::Parse(ss.str());
  if (!doc) return Err(InvalidArgument("config.json: " + doc.error().message()));
  if (!doc->is_object()) return Err(InvalidArgument("config.json must hold an object"));
  WARD_RETURN_IF_ERROR(CheckKeys(*doc, {"publicUrl", "logLevel", "rateLimits", "limits", "retentionDays", "hunting", "actions", "streaming", "siem", "state", "log", "events", "sharedDir"}, "the top level"));
  for (auto [key, schemes, out] : {std::tuple{"state", std::vector<std::string>{"postgres://", "postgresql://"}, &cfg.state_url},
                                   std::tuple{"log", std::vector<std::string>{"kafka://"}, &cfg.log_url},
                                   std::tuple{"events", std::vector<std::string>{"clickhouse://"}, &cfg.events_url}}) {
    const json::Value* v = doc->Find(key);
    if (!v) continue;
    bool known = v->is_string() && std::any_of(schemes.begin(), schemes.end(), [&](const std::string& s) {
      return v->as_string().rfind(s, 0) == 0 && v->as_string().size() > s.size();
    });
    if (!known) return Err(InvalidArgument(std::string("config.json: ") + key + " must be a URL starting with " + schemes[0]));
    *out = v->as_string();
  }
  if (const json::Value* d = doc->Find("sharedDir")) {
    if (!d->is_string() || d->as_string().empty() || d->as_string()[0] != '/') {
      return Err(InvalidArgument("config.json: sharedDir must be an absolute path"));
    }
    cfg.shared_dir = d->as_string();
  }
  if (const json::Value* st = doc->Find("streaming")) {
    if (!st->is_object()) return Err(InvalidArgument("config.json: streaming must be an object"));
    WARD_RETURN_IF_ERROR(CheckKeys(*st, {"replayHours"}, "streaming"));
    if (const json::Value* v = st->Find("replayHours")) {
      if (!v->is_int() || v->as_int() < 1 || v->as_int() > 24 * 30) return Err(InvalidArgument("config.json: streaming.replayHours must be 1 to 720"));
      cfg.stream_replay_hours = static_cast<int>(v->as_int());
    }
  }
  if (const json::Value* siem = doc->Find("siem")) {
    if (!siem->is_object()) return Err(InvalidArgument("config.json: siem must be an object"));
    WARD_RETURN_IF_ERROR(CheckKeys(*siem, {"listen"}, "siem"));
    if (const json::Value* l = siem->Find("listen")) {
      if (!l->is_string() || l->as_string().empty()) return Err(InvalidArgument("config.json: siem.listen must be host:port"));
      cfg.siem_listen = l->as_string();
    }
  }
  if (const json::Value* a = doc->Find("actions")) {
    if (!a->is_object()) return Err(InvalidArgument("config.json: actions must be an object"));
    WARD_RETURN_IF_ERROR(CheckKeys(*a, {"pendingTimeoutSeconds", "runningTimeoutSeconds", "longPolls"}, "actions"));
    for (auto [key, out] : {std::pair{"pendingTimeoutSeconds", &cfg.action_pending_timeout_s},
                            std::pair{"runningTimeoutSeconds", &cfg.action_running_timeout_s}}) {
      if (const json::Value* v = a->Find(key)) {
        if (!v->is_int() || v->as_int() < 1 || v->as_int() > 30LL * 24 * 3600) {
          return Err(InvalidArgument(std::string("config.json: actions.") + key + " must be 1 to 2592000"));
        }
        *out = v->as_int();
      }
    }
    if (const json::Value* v = a->Find("longPolls")) {
      if (!v->is_int() || v->as_int() < 1 || v->as_int() > 1024) return Err(InvalidArgument("config.json: actions.longPolls must be 1 to 1024"));
      cfg.action_long_polls = static_cast<int>(v->as_int());
    }
  }
  if (auto u = doc->GetString("publicUrl")) cfg.public_url = *u;
  if (auto l = doc->GetString("logLevel")) {
    if (*l != "debug" && *l != "info" && *l != "warn" && *l != "error") {
      return Err(InvalidArgument("config.json: logLevel must be debug, info, warn or error"));
    }
    cfg.log_level = *l;
  }
  if (const json::Value* rl = doc->Find("rateLimits")) {
    if (!rl->is_object()) return Err(InvalidArgument("config.json: rateLimits must be an object"));
    WARD_RETURN_IF_ERROR(CheckKeys(*rl, {"enabled", "perMinute", "perHour", "routes"}, "rateLimits"));
    if (auto e = rl->GetBool("enabled")) cfg.rate_limits.enabled = *e;
    json::Value defaults = json::Value::Object();
    if (const json::Value* m = rl->Find("perMinute")) defaults.Set("perMinute", *m);
    if (const json::Value* h = rl->Find("perHour")) defaults.Set("perHour", *h);
    WARD_ASSIGN_OR_RETURN(cfg.rate_limits.defaults, ReadLimit(defaults, cfg.rate_limits.defaults, "rateLimits"));
    if (const json::Value* routes = rl->Find("routes")) {
      if (!routes->is_object()) return Err(InvalidArgument("config.json: rateLimits.routes must be an object"));
      for (const json::Member& m : routes->members()) {
        WARD_ASSIGN_OR_RETURN(cfg.rate_limits.per_route[m.key],
                              ReadLimit(m.value, cfg.rate_limits.defaults, "rateLimits.routes." + m.key));
      }
    }
  }
  if (const json::Value* r = doc->Find("retentionDays")) {
    if (!r->is_int() || r->as_int() < 1 || r->as_int() > 3650) {
      return Err(InvalidArgument("config.json: retentionDays must be 1 to 3650"));
    }
    cfg.retention_days = static_cast<int>(r->as_int());
  }
  if (const json::Value* h = doc->Find("hunting")) {
    if (!h->is_object()) return Err(InvalidArgument("config.json: hunting must be an object"));
    WARD_RETURN_IF_ERROR(CheckKeys(*h, {"maxRows", "maxResultBytes", "timeoutSeconds", "lookbackDays", "concurrentQueries"}, "hunting"));
    auto positive = [&](const char* key, int64_t max, int64_t* out) -> Status {
      const json::Value* v = h->Find(key);
      if (!v) return Status::Ok();
      if (!v->is_int() || v->as_int() < 1 || v->as_int() > max) {
        return InvalidArgument(std::string("config.json: hunting.") + key + " must be 1 to " + std::to_string(max));
      }
      *out = v->as_int();
      return Status::Ok();
    };
    int64_t rows = static_cast<int64_t>(cfg.hunting.max_rows), bytes = static_cast<int64_t>(cfg.hunting.max_result_bytes);
    int64_t timeout = cfg.hunting.timeout.count() / 1000, days = std::chrono::duration_cast<std::chrono::hours>(cfg.hunting.lookback).count() / 24;
    WARD_RETURN_IF_ERROR(positive("maxRows", 10'000'000, &rows));
    WARD_RETURN_IF_ERROR(positive("maxResultBytes", int64_t{4} << 30, &bytes));
    WARD_RETURN_IF_ERROR(positive("timeoutSeconds", 3600, &timeout));
    WARD_RETURN_IF_ERROR(positive("lookbackDays", 3650, &days));
    int64_t slots = cfg.hunting_slots;
    if (h->Find("concurrentQueries")) WARD_RETURN_IF_ERROR(positive("concurrentQueries", 64, &slots));
    cfg.hunting_slots = static_cast<int>(slots);
    cfg.hunting.max_rows = static_cast<size_t>(rows);
    cfg.hunting.max_result_bytes = static_cast<size_t>(bytes);
    cfg.hunting.timeout = std::chrono::seconds(timeout);
    cfg.hunting.lookback = std::chrono::hours(24 * days);
  }
  if (const json::Value* lim = doc->Find("limits")) {
    if (!lim->is_object()) return Err(InvalidArgument("config.json: limits must be an object"));
    WARD_RETURN_IF_ERROR(CheckKeys(*lim, {"maxBodyBytes", "maxHeaderBytes"}, "limits"));
    if (auto b = lim->GetInt("maxBodyBytes")) cfg.max_body_bytes = static_cast<size_t>(*b);
    if (auto h = lim->GetInt("maxHeaderBytes")) cfg.max_header_bytes = static_cast<size_t>(*h);
  }
  return cfg;
}

Status WriteDefaultConfig(const std::string& data_dir, const std::string& public_url) {
  json::Value doc = json::Value::Object();
  if (!public_url.empty()) doc.Set("publicUrl", public_url);
  doc.Set("logLevel", "info");
  json::Value rl = json::Value::Object();
  rl.Set("enabled", true);
  rl.Set("perMinute", 100);
  rl.Set("perHour", 1500);
  doc.Set("rateLimits", std::move(rl));
  std::ofstream out(data_dir + "/config.json");
  out << doc.Serialize() << "\n";
  if (!out) return Internal("cannot write " + data_dir + "/config.json");
  return Status::Ok();
}

}  // namespace ward::server
