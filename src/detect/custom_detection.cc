#include "detect/custom_detection.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/log.h"
#include "common/time.h"
#include "detect/evidence.h"

namespace ward::detect {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

// "<N><unit>" with unit one of `units` (upper-cased): the count and the unit; nullopt when malformed.
std::optional<std::pair<int64_t, char>> CountAndUnit(std::string_view text, std::string_view units) {
  if (text.size() < 2 || text.size() > 6) return std::nullopt;
  char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (units.find(unit) == std::string_view::npos) return std::nullopt;
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (text[0] == '0') return std::nullopt;  // no leading zeros (and no "0M")
  return std::make_pair(n, unit);
}

int64_t UnitMs(char unit) { return unit == 'M' ? kMinuteMs : unit == 'H' ? kHourMs : kDayMs; }

std::optional<std::string> CellString(const kql::Column& c, size_t row) {
  if (c.nulls[row]) return std::nullopt;
  if (!c.strings.empty()) return c.strings[row];
  if (!c.ints.empty()) return std::to_string(c.ints[row]);
  return std::nullopt;
}

const kql::Column* FindColumn(const kql::QueryResult& r, std::string_view name) {
  for (const kql::Column& c : r.columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Result row `row` as a row of `table`: the result's columns of the same name and representation.
events::Row AsTableRow(const kql::QueryResult& r, size_t row, const events::TableDef& table) {
  events::Row out;
  out.table = table.id;
  out.values.assign(table.columns.size(), std::monostate{});
  for (const kql::Column& c : r.columns) {
    int i = table.Find(c.name);
    if (i < 0 || c.nulls[row]) continue;
    events::ColumnType t = table.columns[static_cast<size_t>(i)].type;
    const bool string_column = t == events::ColumnType::kString || t == events::ColumnType::kDynamic;
    if (!c.strings.empty() && string_column) out.values[static_cast<size_t>(i)] = c.strings[row];
    else if (!c.ints.empty() && !string_column && t != events::ColumnType::kReal) out.values[static_cast<size_t>(i)] = c.ints[row];
    else if (!c.reals.empty() && t == events::ColumnType::kReal) out.values[static_cast<size_t>(i)] = c.reals[row];
  }
  return out;
}

std::string ErrorCodeFor(const Status& st) {
  if (st.code() == StatusCode::kResourceExhausted) {
    return st.message().find("time") != std::string::npos ? "queryTimeout" : "queryLimitsExceeded";
  }
  return "queryExecutionFailed";
}

}  // namespace

Result<Schedule> ParseSchedule(std::string_view period, std::string_view lookback, milliseconds nrt_every) {
  Schedule s;
  if (period == "0") {
    s.period = "0";
    s.every = nrt_every;
    s.window = milliseconds(kHourMs);
  } else if (auto p = CountAndUnit(period, "HM");
             p && ((p->second == 'H' && (p->first == 1 || p->first == 3 || p->first == 12 || p->first == 24)) ||
                   (p->second == 'M' && p->first <= 1440))) {
    s.period = std::to_string(p->first) + p->second;
    s.every = milliseconds(p->first * UnitMs(p->second));
    static const std::map<int64_t, int64_t> kMdeLookback = {{1, 4 * kHourMs}, {3, 12 * kHourMs}, {12, 48 * kHourMs},
                                                            {24, 30 * kDayMs}};
    s.window = milliseconds(p->second == 'H' ? kMdeLookback.at(p->first) : 4 * s.every.count());
  } else {
    return Err(InvalidArgument("schedule.period must be 0, 1H, 3H, 12H or 24H (or <N>M for every N minutes, 1 to 1440, "
                               "a Ward extension), not '" + std::string(period) + "'"));
  }
  if (!lookback.empty()) {
    auto l = CountAndUnit(lookback, "MHD");
    const int64_t ms = l ? l->first * UnitMs(l->second) : 0;
    if (!l || ms < s.every.count() || ms > 30 * kDayMs) {
      return Err(InvalidArgument("schedule.lookbackPeriod must be <N>M, <N>H or <N>D, from the period to 30 days, not '" +
                                 std::string(lookback) + "'"));
    }
    s.lookback = std::to_string(l->first) + l->second;
    s.window = milliseconds(ms);
  }
  return s;
}

std::optional<int64_t> NextRunMs(const state::CustomDetectionRule& rule, const Schedule& schedule) {
  if (!rule.is_enabled) return std::nullopt;
  if (rule.last_run_ms == 0 || rule.last_run_query_ms != rule.query_modified_ms) return rule.query_modified_ms;
  return rule.last_run_ms + schedule.every.count();
}

int64_t WindowStartMs(const state::CustomDetectionRule& rule, const Schedule& schedule, int64_t now_ms,
                      milliseconds max_lookback) {
  const int64_t earliest = now_ms - max_lookback.count();
  const bool first = rule.last_success_ms == 0 || rule.last_run_query_ms != rule.query_modified_ms;
  if (first) return earliest;
  // The runs that should have happened since the last completed one would have reached back to
  // (last + period - window): cover that too, so that downtime loses nothing within the retention.
  int64_t from = std::min(now_ms - schedule.window.count(),
                          rule.last_success_ms + schedule.every.count() - schedule.window.count());
  return std::max(from, earliest);
}

Result<kql::QueryShape> CheckRuleQuery(std::string_view text, const events::SchemaRegistry& registry,
                                       kql::QueryError* error) {
  WARD_ASSIGN_OR_RETURN(kql::QueryShape shape, kql::CheckQuery(text, registry, error));
  struct Need {
    const char* name;
    std::vector<kql::Type> types;
    const char* type_name;
  };
  static const Need kNeeded[] = {{"Timestamp", {kql::Type::kDateTime}, "datetime"},
                                 {"DeviceId", {kql::Type::kString}, "string"},
                                 {"ReportId", {kql::Type::kLong, kql::Type::kInt}, "long"}};
  std::vector<std::string> missing;
  for (const Need& n : kNeeded) {
    auto it = std::find_if(shape.columns.begin(), shape.columns.end(), [&](const auto& c) { return c.first == n.name; });
    if (it == shape.columns.end()) {
      missing.push_back(n.name);
    } else if (std::find(n.types.begin(), n.types.end(), it->second) == n.types.end()) {
      return Err(InvalidArgument(std::string("A custom detection query must return the column ") + n.name + " as " +
                                 n.type_name + ", not " + kql::TypeName(it->second)));
    }
  }
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
    return Err(InvalidArgument("A custom detection query must return the columns Timestamp, DeviceId and ReportId "
                               "(so each result row names one event); missing: " + names));
  }
  return shape;
}

const events::TableDef& SourceTable(const kql::QueryShape& shape, const events::SchemaRegistry& registry) {
  if (shape.tables.size() == 1) {
    if (const events::TableDef* t = registry.Find(shape.tables[0])) return *t;
  }
  std::vector<const events::TableDef*> candidates;
  for (const std::string& name : shape.tables) {
    if (const events::TableDef* t = registry.Find(name)) candidates.push_back(t);
  }
  if (candidates.empty()) {
    for (const events::TableDef& t : registry.tables()) {
      if (t.Find("DeviceId") >= 0) candidates.push_back(&t);
    }
  }
  const events::TableDef* best = candidates.empty() ? &registry.tables().front() : candidates.front();
  size_t best_score = 0;
  for (const events::TableDef* t : candidates) {
    size_t score = 0;
    for (const auto& [name, type] : shape.columns) score += t->Find(name) >= 0;
    if (score > best_score) best = t, best_score = score;
  }
  return *best;
}

Result<AlertSpec> AlertFromRow(const state::CustomDetectionRule& rule, const kql::QueryResult& result, size_t row,
                               const events::TableDef& source, int64_t now_ms) {
  const kql::Column* ts = FindColumn(result, "Timestamp");
  const kql::Column* device = FindColumn(result, "DeviceId");
  const kql::Column* report = FindColumn(result, "ReportId");
  using Needed = std::pair<const kql::Column*, const char*>;
  for (auto [c, name] : {Needed{ts, "Timestamp"}, Needed{device, "DeviceId"}, Needed{report, "ReportId"}}) {
    if (!c || c->nulls[row] || (c->ints.empty() && c->strings.empty())) {
      return Err(InvalidArgument(std::string("the row has no ") + name));
    }
  }
  if (ts->ints.empty()) return Err(InvalidArgument("the row has no Timestamp"));
  std::optional<std::string> device_id = CellString(*device, row), report_id = CellString(*report, row);
  if (!device_id || device_id->empty()) return Err(InvalidArgument("the row has no DeviceId"));
  AlertSpec s;
  s.tenant_id = rule.tenant_id;
  s.machine_id = *device_id;
  if (const kql::Column* name = FindColumn(result, "DeviceName")) s.computer_dns_name = CellString(*name, row).value_or("");
  s.detector_id = rule.detector_id;
  s.title = rule.alert_title;
  s.description = rule.alert_description;
  s.recommended_action = rule.recommended_actions;
  s.category = rule.alert_category;
  s.severity = rule.alert_severity;
  s.detection_source = std::string(kCustomDetectionSource);
  s.mitre_techniques = rule.mitre_techniques;
  s.event_ms = ts->ints[row] / kTicksPerMillisecond;
  s.event_key = *device_id + ":" + *report_id;
  s.row = row;
  events::Row as_row = AsTableRow(result, row, source);
  s.evidence = EvidenceFromRow(RowView(as_row, source), now_ms);
  return s;
}

CustomDetections::CustomDetections(state::StateStore& store, events::EventStore& events, AlertWriter& writer,
                                   const events::SchemaRegistry& registry, metrics::Registry& metrics,
                                   CustomDetectionOptions options)
    : store_(store),
      events_(events),
      writer_(writer),
      registry_(registry),
      options_(std::move(options)),
      runs_(metrics.AddCounter("ward_custom_detection_runs_total", "Custom detection rule runs by outcome", {"status"})),
      alerts_(metrics.AddCounter("ward_custom_detection_alerts_total", "Result rows of custom detection rules that "
                                 "raised or extended an alert", {})) {}

CustomDetections::~CustomDetections() { Stop(); }

int64_t CustomDetections::Now() const { return options_.now_ms ? options_.now_ms() : NowMs(); }

Status CustomDetections::Start() {
  if (thread_.joinable()) return FailedPrecondition("custom detections already started");
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void CustomDetections::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CustomDetections::Wake() {
  {
    std::lock_guard lock(wake_mu_);
    woken_ = true;
  }
  wake_cv_.notify_all();
}

void CustomDetections::Loop() {
  while (!stop_) {
    RunDue();
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_for(lock, options_.tick, [&] { return stop_.load() || woken_; });
    woken_ = false;
  }
}

size_t CustomDetections::RunDue() {
  auto tenants = store_.ListTenants();
  if (!tenants) {
    log::Warn("custom detections: cannot list tenants", {{"error", tenants.error().message()}});
    return 0;
  }
  size_t ran = 0;
  for (const state::Tenant& t : *tenants) {
    auto rules = state::Repo<state::CustomDetectionRule>(store_).List(t.id);
    if (!rules) {
      log::Warn("custom detections: cannot list rules", {{"tenant", t.id}, {"error", rules.error().message()}});
      continue;
    }
    for (const state::CustomDetectionRule& rule : *rules) {
      if (stop_) return ran;
      auto schedule = ParseSchedule(rule.period, rule.lookback, options_.nrt_every);
      if (!schedule) continue;  // the API refuses such rules; a hand-edited store is not ours to fix
      std::optional<int64_t> next = NextRunMs(rule, *schedule);
      if (!next || *next > Now()) continue;
      if (!ClaimRun(rule, *schedule)) continue;
      if (options_.before_run) options_.before_run();
      auto done = Run(rule, Now());
      if (!done && done.error().code() != StatusCode::kNotFound) {
        log::Warn("custom detection run not recorded", {{"rule", rule.id}, {"tenant", t.id}, {"error", done.error().message()}});
      }
      ++ran;
    }
  }
  return ran;
}

// Nodes sharing the state store all schedule every rule; the one whose versioned update marks the
// run as started runs it, the others see the version moved (or the rule no longer due) and skip.
bool CustomDetections::ClaimRun(const state::CustomDetectionRule& rule, const Schedule& schedule) {
  auto doc = store_.Get(rule.tenant_id, state::Kind::kCustomDetectionRule, rule.id);
  if (!doc) return false;
  auto fresh = state::CustomDetectionRuleFromJson(doc->body);
  if (!fresh) return false;
  std::optional<int64_t> next = NextRunMs(*fresh, schedule);
  if (!next || *next > Now()) return false;  // another node ran it since the list was read
  fresh->last_run_ms = Now();
  fresh->last_run_query_ms = fresh->query_modified_ms;
  doc->body = state::ToJson(*fresh);
  return store_.Update(rule.tenant_id, state::Kind::kCustomDetectionRule, *doc, doc->version).ok();
}

Result<state::CustomDetectionRule> CustomDetections::RunNow(const std::string& tenant, const std::string& id) {
  WARD_ASSIGN_OR_RETURN(state::CustomDetectionRule rule, state::Repo<state::CustomDetectionRule>(store_).Get(tenant, id));
  if (options_.before_run) options_.before_run();
  return Run(rule, Now());
}

Status CustomDetections::LoadSeen(const std::string& tenant, Seen& seen) {
  if (seen.loaded) return Status::Ok();
  WARD_ASSIGN_OR_RETURN(std::vector<state::Alert> alerts, state::Repo<state::Alert>(store_).List(tenant));
  for (const state::Alert& a : alerts) {
    if (a.detection_source != kCustomDetectionSource || a.detector_id.empty()) continue;
    auto& keys = seen.by_detector[a.detector_id];
    // Every key of the alert was last taken by it no later than its last update (or last event,
    // for clocks ahead): once that is older than a window's start, none of its rows can come back.
    const int64_t at = std::max(a.last_update_ms, a.last_event_ms);
    for (const std::string& k : a.event_keys) keys[k] = std::max(keys[k], at);
  }
  seen.loaded = true;
  return Status::Ok();
}

Result<state::CustomDetectionRule> CustomDetections::Run(const state::CustomDetectionRule& rule, int64_t now) {
  std::lock_guard lock(run_mu_);
  std::string status = "completed", error_code, reason;
  int64_t raised = 0;
  auto fail = [&](std::string code, std::string why) {
    status = "failed";
    error_code = std::move(code);
    reason = std::move(why);
  };
  auto schedule = ParseSchedule(rule.period, rule.lookback, options_.nrt_every);
  auto shape = schedule ? CheckRuleQuery(rule.query_text, registry_) : Result<kql::QueryShape>(Err(schedule.error()));
  Seen& seen = seen_[rule.tenant_id];
  Status loaded = LoadSeen(rule.tenant_id, seen);
  if (!shape) {
    fail("queryExecutionFailed", shape.error().message());
  } else if (!loaded.ok()) {
    fail("alertCreationFailed", loaded.message());
  } else {
    const int64_t from = WindowStartMs(rule, *schedule, now, options_.max_lookback);
    kql::QueryOptions q = options_.query;
    q.tenant_id = rule.tenant_id;
    q.device_ids.reset();  // rules see the whole tenant (organizationalScope is not supported)
    q.now_ticks = now * kTicksPerMillisecond;
    q.lookback = std::chrono::ceil<std::chrono::seconds>(milliseconds(now - from));
    q.cancel = &stop_;  // Stop() does not wait for a long query
    auto result = kql::RunQuery(rule.query_text, q, events_, registry_);
    if (!result && stop_) return Err(Unavailable("stopping: the run is not recorded and is done again at start"));
    if (!result) {
      fail(ErrorCodeFor(result.error()), result.error().message());
    } else {
      auto& keys = seen.by_detector[rule.detector_id];
      for (auto it = keys.begin(); it != keys.end();) it = it->second < from ? keys.erase(it) : std::next(it);
      const events::TableDef& source = SourceTable(*shape, registry_);
      std::map<std::string, std::optional<state::Machine>> machines;
      size_t unmatched = 0, failed = 0, fresh = 0;
      bool over_limit = result->truncated;
      std::string first_failure;
      for (size_t row = 0; row < result->rows; ++row) {
        auto spec = AlertFromRow(rule, *result, row, source, NowMs());
        if (!spec) {
          ++unmatched;
          continue;
        }
        if (auto seen_key = keys.find(spec->event_key); seen_key != keys.end()) {
          seen_key->second = now;  // still coming back: keep it while it does, and one window more
          continue;
        }
        if (fresh == options_.max_alerts_per_run) {
          over_limit = true;
          break;
        }
        ++fresh;
        auto [m, inserted] = machines.try_emplace(spec->machine_id);
        if (inserted) {
          auto got = state::Repo<state::Machine>(store_).Get(rule.tenant_id, spec->machine_id);
          if (got) m->second = std::move(*got);
        }
        if (!m->second) {
          ++unmatched;  // a DeviceId that names no device of the tenant
          continue;
        }
        spec->computer_dns_name = m->second->computer_dns_name;
        auto r = writer_.Raise(*spec);
        if (!r) {
          ++failed;
          if (first_failure.empty()) first_failure = r.error().message();
          continue;
        }
        keys[spec->event_key] = now;
        if (r->changed) ++raised;
      }
      alerts_.Inc({}, static_cast<uint64_t>(raised));
      if (failed && !raised) {
        fail("alertCreationFailed", "No alert could be created: " + first_failure);
      } else if (failed) {
        status = "partiallyFailed", error_code = "partialRowsFailed";
        reason = "Only a subset of query results could be processed to alerts: " + first_failure;
      } else if (unmatched) {
        status = "partiallyFailed", error_code = "alertReportNotFound";
        reason = std::to_string(unmatched) + " result row(s) could not be matched to an event by Timestamp, DeviceId "
                 "and ReportId of a device of this tenant. Check the query for aggregation expressions on those columns.";
      } else if (over_limit) {
        status = "partiallyFailed", error_code = "queryExceededResultSize";
        reason = "Result size limit exceeded. Only the first " + std::to_string(options_.max_alerts_per_run) +
                 " new query results were processed; the rest are processed by the next runs.";
      }
    }
  }
  runs_.Inc({status});
  if (status == "failed") {
    log::Warn("custom detection rule failed", {{"tenant", rule.tenant_id}, {"rule", rule.id}, {"errorCode", error_code},
                                               {"reason", reason}});
  }
  return state::Repo<state::CustomDetectionRule>(store_).Mutate(
      rule.tenant_id, rule.id, [&](state::CustomDetectionRule& r) -> Status {
        r.last_run_ms = now;
        r.last_run_query_ms = rule.query_modified_ms;  // the query that ran (it may have changed meanwhile)
        if (status != "failed") r.last_success_ms = now;
        r.last_run_status = status;
        r.last_run_error_code = error_code;
        r.last_run_failure_reason = reason;
        r.alerts_raised += raised;
        return Status::Ok();
      });
}

}  // namespace ward::detect
