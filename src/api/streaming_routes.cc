// The Streaming API's configuration (a Ward extension: MDE configures streaming in its portal):
//   GET/POST /api/streaming/configurations, GET/PATCH/DELETE /api/streaming/configurations/{id},
//   GET /api/streaming/configurations/{id}/deadletters?destination=<name>&$top=N.
// A configuration names its event types (MDE's "AdvancedHunting-<Table>" categories, alerts being
// AlertInfo/AlertEvidence), an optional device-group filter and its destinations (stream/destinations.h);
// its "status" shows, per destination, the state, lag, throughput and last error. Secrets are never
// returned ("***"; sending "***" back keeps the stored secret). "replayFrom" (a time) makes every
// destination send again what the log holds from then on. Needs "Manage portal system settings".
#include <set>

#include "api/api.h"
#include "api/errors.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"
#include "stream/destinations.h"
#include "stream/stream_record.h"
#include "stream/stream_service.h"

namespace ward::api {
namespace {

constexpr size_t kMaxName = 128;

std::string Caller(const Call& call) { return call.principal.is_user() ? call.principal.name : call.principal.client_id; }

json::Value TimeOrNull(int64_t ms) { return ms ? json::Value(odata::FormatDateTimeMs(ms)) : json::Value(); }

json::Value StatusJson(Call& call, const state::StreamConfiguration& c) {
  json::Value status = json::Value::Object();
  std::vector<stream::DestinationStatus> destinations;
  if (call.services.streaming) destinations = call.services.streaming->StatusOf(c.tenant_id, c.id);
  status.AppendMember("state", !c.enabled ? "Disabled" : destinations.empty() ? "Starting" : "Enabled");
  json::Value list = json::Value::Array();
  for (const stream::DestinationStatus& d : destinations) {
    json::Value v = json::Value::Object();
    v.AppendMember("name", d.name);
    v.AppendMember("type", d.type);
    v.AppendMember("state", d.state);
    v.AppendMember("lagRecords", static_cast<int64_t>(d.end_offset > d.cursor ? d.end_offset - d.cursor : 0));
    v.AppendMember("lagSeconds", d.lag_seconds);
    v.AppendMember("deliveredRecords", static_cast<int64_t>(d.delivered));
    v.AppendMember("deadLetteredRecords", static_cast<int64_t>(d.rejected));
    v.AppendMember("failedDeliveries", static_cast<int64_t>(d.failures));
    v.AppendMember("recordsPerSecond", d.records_per_second);
    v.AppendMember("lastError", d.last_error.empty() ? json::Value() : json::Value(d.last_error));
    v.AppendMember("lastErrorDateTime", TimeOrNull(d.last_error_ms));
    v.AppendMember("lastSuccessDateTime", TimeOrNull(d.last_success_ms));
    v.AppendMember("logOffset", static_cast<int64_t>(d.cursor));
    v.AppendMember("logEndOffset", static_cast<int64_t>(d.end_offset));
    list.Append(std::move(v));
  }
  status.AppendMember("destinations", std::move(list));
  return status;
}

json::Value ConfigJson(Call& call, const state::StreamConfiguration& c) {
  json::Value v = json::Value::Object();
  v.AppendMember("id", c.id);
  v.AppendMember("name", c.name);
  v.AppendMember("enabled", c.enabled);
  v.AppendMember("eventTypes", state::StringArray(c.event_types));
  v.AppendMember("deviceGroups", state::StringArray(c.device_groups));
  auto destinations = json::Value::Parse(c.destinations_json);
  v.AppendMember("destinations", destinations ? stream::RedactDestinations(*destinations) : json::Value::Array());
  v.AppendMember("replayFrom", c.replay_generation ? json::Value(FormatIsoTicks(c.replay_from_ticks)) : json::Value());
  v.AppendMember("createdBy", c.created_by);
  v.AppendMember("createdDateTime", TimeOrNull(c.created_ms));
  v.AppendMember("lastModifiedBy", c.last_modified_by);
  v.AppendMember("lastModifiedDateTime", TimeOrNull(c.last_modified_ms));
  v.AppendMember("status", StatusJson(call, c));
  return v;
}

Result<std::vector<std::string>> StringList(const json::Value& v, const char* name) {
  if (!v.is_array()) return Err(InvalidArgument(std::string(name) + " must be an array of strings"));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.items().size(); ++i) {
    if (!v.items()[i].is_string()) return Err(InvalidArgument(std::string(name) + "[" + std::to_string(i) + "] must be a string"));
    out.push_back(v.items()[i].as_string());
  }
  return out;
}

// Applies a POST or PATCH body to `c`; `from_ticks` receives a replay request. Messages name the field.
Status ApplyBody(Call& call, const json::Value& body, bool create, state::StreamConfiguration& c,
                 std::optional<int64_t>* from_ticks) {
  static const std::set<std::string> kKnown = {"name", "enabled", "eventtypes", "devicegroups", "destinations", "replayfrom"};
  for (const json::Member& m : body.members()) {
    if (!kKnown.count(AsciiLower(m.key)) && m.key != "id" && m.key != "status")
      return InvalidArgument("Request body is incorrect: unknown field " + m.key);
  }
  if (const json::Value* v = body.FindCaseInsensitive("name")) {
    if (!v->is_string() || v->as_string().empty() || v->as_string().size() > kMaxName)
      return InvalidArgument("name must be a string of 1 to 128 characters");
    c.name = v->as_string();
  } else if (create) {
    return InvalidArgument("Parameter name is missing");
  }
  if (const json::Value* v = body.FindCaseInsensitive("enabled")) {
    if (!v->is_bool()) return InvalidArgument("enabled must be true or false");
    c.enabled = v->as_bool();
  }
  if (const json::Value* v = body.FindCaseInsensitive("eventTypes")) {
    WARD_ASSIGN_OR_RETURN(auto types, StringList(*v, "eventTypes"));
    if (types.empty()) return InvalidArgument("eventTypes must name at least one AdvancedHunting-<Table> category");
    std::vector<std::string> canonical;
    for (size_t i = 0; i < types.size(); ++i) {
      const events::TableDef* t = stream::TableOfCategory(events::SchemaRegistry::Hunting(), types[i]);
      if (!t) {
        return InvalidArgument("eventTypes[" + std::to_string(i) + "] '" + types[i] +
                               "' is not an advanced hunting category such as AdvancedHunting-DeviceProcessEvents");
      }
      std::string name = stream::CategoryOf(t->name);
      if (std::find(canonical.begin(), canonical.end(), name) == canonical.end()) canonical.push_back(name);
    }
    c.event_types = std::move(canonical);
  } else if (create) {
    return InvalidArgument("Parameter eventTypes is missing");
  }
  if (const json::Value* v = body.FindCaseInsensitive("deviceGroups")) {
    WARD_ASSIGN_OR_RETURN(auto groups, StringList(*v, "deviceGroups"));
    for (size_t i = 0; i < groups.size(); ++i) {
      auto g = state::Repo<state::DeviceGroup>(call.services.store).GetByUniqueKey(call.tenant(), groups[i]);
      if (!g) return InvalidArgument("deviceGroups[" + std::to_string(i) + "] '" + groups[i] + "' is not a device group");
      groups[i] = g->name;
    }
    c.device_groups = std::move(groups);
  }
  if (const json::Value* v = body.FindCaseInsensitive("destinations")) {
    json::Value stored = json::Value::Array();
    if (auto parsed = json::Value::Parse(c.destinations_json.empty() ? "[]" : c.destinations_json)) stored = *parsed;
    json::Value incoming = stream::RestoreRedactedSecrets(*v, stored);
    WARD_RETURN_IF_ERROR(stream::ValidateDestinations(incoming));
    c.destinations_json = incoming.Serialize();
  } else if (create) {
    return InvalidArgument("Parameter destinations is missing");
  }
  if (const json::Value* v = body.FindCaseInsensitive("replayFrom"); v && !v->is_null()) {
    auto ticks = v->is_string() ? ParseIsoTicks(v->as_string()) : std::nullopt;
    if (!ticks) return InvalidArgument("replayFrom must be an ISO 8601 date and time");
    if (*ticks > NowTicks()) return InvalidArgument("replayFrom is in the future");
    if (call.services.streaming) {
      int64_t earliest = call.services.streaming->earliest_replayable_ticks();
      if (earliest > 0 && *ticks < earliest) {
        return InvalidArgument("replayFrom is before the oldest event the log still holds (" + FormatIsoTicks(earliest) + ")");
      }
    }
    *from_ticks = *ticks;
  }
  return Status::Ok();
}

Result<state::StreamConfiguration> Find(Call& call) {
  std::string id(call.req.PathParam("id"));
  auto c = state::Repo<state::StreamConfiguration>(call.services.store).Get(call.tenant(), id);
  if (!c && c.error().code() == StatusCode::kNotFound) return Err(NotFound("Streaming configuration " + id + " was not found"));
  return c;
}

Status NameTaken(const Status& st) {
  return st.code() == StatusCode::kAlreadyExists ? AlreadyExists("A streaming configuration with that name already exists") : st;
}

void Changed(Call& call, const state::StreamConfiguration& c) {
  call.audit_target = "streamingconfiguration:" + c.id;
  if (call.services.streaming) call.services.streaming->Reconcile();
}

std::string Context(const Call& call) { return call.BaseUrl() + "/api/$metadata#StreamingConfigurations"; }

void List(Call& call) {
  if (Status st = call.Require(requirements::ManagePortal()); !st.ok()) return call.Fail(st);
  auto configs = state::Repo<state::StreamConfiguration>(call.services.store).List(call.tenant());
  if (!configs) return call.Fail(configs.error());
  json::Writer w;
  w.StartObject().KV("@odata.context", Context(call)).Key("value").StartArray();
  for (const state::StreamConfiguration& c : *configs) w.Val(ConfigJson(call, c));
  w.EndArray().EndObject();
  call.Json(200, w.Take());
}

void Create(Call& call) {
  if (Status st = call.Require(requirements::ManagePortal()); !st.ok()) return call.Fail(st);
  if (!call.services.streaming) return call.Fail(Unavailable("Streaming is not available on this server"));
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  state::StreamConfiguration c;
  c.tenant_id = call.tenant();
  std::optional<int64_t> from;
  if (Status st = ApplyBody(call, *body, true, c, &from); !st.ok()) return call.Fail(st);
  c.id = NewGuid();
  c.created_by = c.last_modified_by = Caller(call);
  c.created_ms = c.last_modified_ms = NowMs();
  if (from) c.replay_from_ticks = *from;  // shown as the configuration's start; cursors start there
  // Cursors first: what is appended from now on is this configuration's, even before its workers start.
  if (Status st = call.services.streaming->PrepareCursors(c, from); !st.ok()) return call.Fail(st);
  if (Status st = state::Repo<state::StreamConfiguration>(call.services.store).Insert(c); !st.ok()) return call.Fail(NameTaken(st));
  Changed(call, c);
  call.Json(201, ConfigJson(call, c).Serialize());
}

void Update(Call& call) {
  if (Status st = call.Require(requirements::ManagePortal()); !st.ok()) return call.Fail(st);
  if (!call.services.streaming) return call.Fail(Unavailable("Streaming is not available on this server"));
  auto found = Find(call);
  if (!found) return call.Fail(found.error());
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  Status applied;
  auto written = state::Repo<state::StreamConfiguration>(call.services.store).Mutate(
      call.tenant(), found->id, [&](state::StreamConfiguration& c) -> Status {
        std::optional<int64_t> from;
        applied = ApplyBody(call, *body, false, c, &from);
        if (!applied.ok()) return applied;
        if (from) {
          c.replay_from_ticks = *from;
          ++c.replay_generation;
        }
        c.last_modified_by = Caller(call);
        c.last_modified_ms = NowMs();
        // New destinations start at the log's end (a replay, if asked, rewinds them all).
        applied = call.services.streaming->PrepareCursors(c, std::nullopt);
        return applied;
      });
  if (!written) return call.Fail(applied.ok() ? NameTaken(written.error()) : applied);
  Changed(call, *written);
  call.Json(200, ConfigJson(call, *written).Serialize());
}

void Delete(Call& call) {
  if (Status st = call.Require(requirements::ManagePortal()); !st.ok()) return call.Fail(st);
  auto found = Find(call);
  if (!found) return call.Fail(found.error());
  if (Status st = state::Repo<state::StreamConfiguration>(call.services.store).Delete(call.tenant(), found->id); !st.ok())
    return call.Fail(st);
  Changed(call, *found);
  call.NoContent();
}

void DeadLetters(Call& call) {
  if (Status st = call.Require(requirements::ManagePortal()); !st.ok()) return call.Fail(st);
  auto found = Find(call);
  if (!found) return call.Fail(found.error());
  auto form = http::ParseForm(call.req.query);
  if (!form) return call.Fail(InvalidArgument("malformed query string"));
  std::string destination, top_text;
  for (const auto& [k, v] : *form) {
    if (EqualsIgnoreCase(k, "destination")) destination = v;
    else if (k == "$top") top_text = v;
  }
  auto destinations = json::Value::Parse(found->destinations_json);
  std::vector<std::string> names;
  if (destinations) {
    for (const json::Value& d : destinations->items()) names.push_back(d.GetString("name").value_or(""));
  }
  if (destination.empty() && names.size() == 1) destination = names[0];
  if (std::find(names.begin(), names.end(), destination) == names.end())
    return call.Fail(InvalidArgument("destination must name one of the configuration's destinations"));
  size_t top = 100;
  if (const std::string& t = top_text; !t.empty()) {
    if (t.size() > 5 || t.find_first_not_of("0123456789") != std::string::npos || std::stoul(t) == 0 || std::stoul(t) > 10000)
      return call.Fail(InvalidArgument("$top must be an integer from 1 to 10000"));
    top = std::stoul(t);
  }
  if (!call.services.streaming) return call.Fail(Unavailable("Streaming is not available on this server"));
  auto letters = call.services.streaming->DeadLetters(call.tenant(), found->id, destination, top);
  if (!letters) return call.Fail(letters.error());
  json::Writer w;
  w.StartObject().Key("value").StartArray();
  for (const stream::DeadLetter& d : *letters) {
    w.StartObject().KV("time", odata::FormatDateTimeMs(d.time_ms)).KV("destination", destination).KV("reason", d.reason);
    w.Key("record").Raw(d.record.empty() ? "null" : d.record);
    w.EndObject();
  }
  w.EndArray().EndObject();
  call.Json(200, w.Take());
}

}  // namespace

void RegisterStreamingRoutes(Api& api) {
  const std::string base = "/api/streaming/configurations";
  api.Add("GET", base, List);
  api.Add("POST", base, Create);
  api.Add("GET", base + "/{id}", [](Call& call) {
    if (Status st = call.Require(requirements::ManagePortal()); !st.ok()) return call.Fail(st);
    auto found = Find(call);
    if (!found) return call.Fail(found.error());
    call.Json(200, ConfigJson(call, *found).Serialize());
  });
  api.Add("PATCH", base + "/{id}", Update);
  api.Add("DELETE", base + "/{id}", Delete);
  api.Add("GET", base + "/{id}/deadletters", DeadLetters);
}

}  // namespace ward::api
