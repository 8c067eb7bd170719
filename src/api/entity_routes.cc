// Files, IPs, domains and users — the profiled entities of the investigation API (mde-api.md
// §3.5) — and a device's logon users (§3.2). Ward keeps no entity tables: every answer is computed
// per request from the event store, scanned with the entity key, the caller's devices and the time
// range pushed down, and from the alerts the caller may see. Only devices in the caller's device
// groups count; tenant-wide ("global") figures go only to callers who see every device.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "api/api.h"
#include "common/strings.h"
#include "api/entities.h"
#include "api/validators.h"
#include "common/time.h"
#include "events/schema.h"

namespace ward::api {
namespace {

using events::Predicate;

constexpr int64_t kTicksPerHour = int64_t{3600} * kTicksPerSecond;
constexpr int64_t kDefaultLookBackHours = 720;  // 30 days, MDE's default and maximum
constexpr size_t kMaxDomainMachines = 500;       // MDE caps /domains/{d}/machines
constexpr size_t kTopFileNames = 5;
constexpr size_t kMaxUserName = 256;

// The tables whose SHA1/SHA256/FileName columns describe a file on disk or a process image.
// InitiatingProcess* hashes are left out: an initiating process was itself created, and its
// creation is a DeviceProcessEvents row with the same hashes.
constexpr const char* kFileTables[] = {"DeviceProcessEvents", "DeviceFileEvents", "DeviceImageLoadEvents",
                                       "DeviceEvents"};

std::string Lower(std::string_view s) { return state::LowerAscii(s); }

// Hash containers keyed by string that look up string_views without building a string per row.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// Finds or adds `key` with a value-initialised V; allocates only for a new key.
template <class V>
V& Slot(StringMap<V>& map, std::string_view key) {
  auto it = map.find(key);
  return it != map.end() ? it->second : map.emplace(std::string(key), V{}).first->second;
}

// The devices whose events count for this caller.
class EventScope {
 public:
  EventScope(Call& call, CallerView view) : view_(std::move(view)) {
    whole_tenant_ = call.services.authz.ScopeFor(call.principal).all;
    for (const state::Machine& m : view_.machines) visible_.insert(m.id);
  }
  const CallerView& view() const { return view_; }
  // Tenant-wide callers also get "global" figures; nothing outside their view is hidden from them.
  bool whole_tenant() const { return whole_tenant_; }
  bool Visible(std::string_view device_id) const { return visible_.find(device_id) != visible_.end(); }
  // A scoped caller without devices sees no events at all.
  bool nothing_visible() const { return !whole_tenant_ && visible_.empty(); }
  // Scoped callers scan only their devices' rows; tenant-wide ones scan all (for the global figures).
  void Restrict(events::ScanRequest& req) const {
    if (whole_tenant_) return;
    Predicate p{"DeviceId", Predicate::Op::kIn, {}};
    for (const std::string& id : visible_) p.values.emplace_back(id);
    req.predicates.push_back(std::move(p));
  }

 private:
  CallerView view_;
  bool whole_tenant_ = false;
  StringSet visible_;
};

Result<EventScope> LoadEventScope(Call& call, bool with_alerts) {
  if (!call.services.event_store) return Err(Unavailable("the event store is not running"));
  WARD_ASSIGN_OR_RETURN(CallerView view, LoadCallerView(call, with_alerts));
  return EventScope(call, std::move(view));
}

// The rows of one scanned batch, with the requested columns resolved by name once per batch.
class Rows {
 public:
  Rows(const events::ColumnBatch& batch, const std::vector<std::string>& wanted) : batch_(batch) {
    for (const std::string& name : wanted) {
      auto it = std::find(batch.names.begin(), batch.names.end(), name);
      slots_.push_back(it == batch.names.end() ? -1 : static_cast<int>(it - batch.names.begin()));
    }
  }
  size_t size() const { return batch_.rows; }
  // The string in column slot `c` of row `r`; "" when null or not in this table.
  std::string_view Str(size_t c, size_t r) const {
    const events::ColumnVector* col = Column(c, r);
    return col && !col->strings.empty() ? std::string_view(col->strings[r]) : std::string_view();
  }
  std::optional<int64_t> Int(size_t c, size_t r) const {
    const events::ColumnVector* col = Column(c, r);
    if (!col || col->ints.empty()) return std::nullopt;
    return col->ints[r];
  }

 private:
  const events::ColumnVector* Column(size_t c, size_t r) const {
    if (slots_[c] < 0) return nullptr;
    const events::ColumnVector& col = batch_.columns[slots_[c]];
    return col.nulls[r] ? nullptr : &col;
  }
  const events::ColumnBatch& batch_;
  std::vector<int> slots_;
};

// One scan of a table for the caller: `columns` (those the table lacks read as null) of the rows
// matching every predicate, since from_ticks, restricted to the caller's devices.
Status ScanEvents(Call& call, const EventScope& scope, std::string_view table, const std::vector<std::string>& columns,
                  std::vector<Predicate> predicates, std::optional<int64_t> from_ticks,
                  const std::function<void(const Rows&, size_t)>& on_row) {
  if (scope.nothing_visible()) return Status::Ok();
  const events::TableDef* def = events::SchemaRegistry::Hunting().Find(table);
  if (!def) return Internal("unknown hunting table " + std::string(table));
  events::ScanRequest req;
  req.tenant_id = call.tenant();
  req.table = std::string(table);
  for (const std::string& c : columns) {
    if (def->Find(c) >= 0) req.columns.push_back(c);
  }
  for (const Predicate& p : predicates) {
    if (def->Find(p.column) < 0) return Status::Ok();  // a predicate on a missing column matches nothing
  }
  req.predicates = std::move(predicates);
  scope.Restrict(req);
  req.from_ticks = from_ticks;
  auto scanned = call.services.event_store->Scan(req, [&](events::ColumnBatch&& batch) {
    Rows rows(batch, columns);
    for (size_t r = 0; r < rows.size(); ++r) on_row(rows, r);
    return true;
  });
  return scanned ? Status::Ok() : scanned.error();
}

// Per-device first/last sighting and row count, over every device a scan returned.
class Sightings {
 public:
  void Add(std::string_view device_id, int64_t ticks) {
    Seen& s = Slot(devices_, device_id);
    s.first = s.rows == 0 ? ticks : std::min(s.first, ticks);
    s.last = s.rows == 0 ? ticks : std::max(s.last, ticks);
    ++s.rows;
  }
  // Over the devices the caller may see.
  Prevalence Org(const EventScope& scope) const {
    return Summarize([&](const std::string& id) { return scope.Visible(id); });
  }
  // Over the whole tenant, for tenant-wide callers only.
  std::optional<Prevalence> Global(const EventScope& scope) const {
    if (!scope.whole_tenant()) return std::nullopt;
    return Summarize([](const std::string&) { return true; });
  }
  // The visible devices, most recently seen first.
  std::vector<const state::Machine*> VisibleMachines(const EventScope& scope) const {
    std::vector<std::pair<int64_t, const state::Machine*>> seen;
    for (const auto& [id, s] : devices_) {
      if (const state::Machine* m = scope.view().FindMachine(id)) seen.emplace_back(s.last, m);
    }
    std::sort(seen.begin(), seen.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second->id < b.second->id;
    });
    std::vector<const state::Machine*> out;
    for (const auto& [last, m] : seen) out.push_back(m);
    return out;
  }

 private:
  struct Seen {
    int64_t first = 0, last = 0, rows = 0;
  };
  Prevalence Summarize(const std::function<bool(const std::string&)>& counts) const {
    Prevalence p;
    for (const auto& [id, s] : devices_) {
      if (!counts(id)) continue;
      p.first_ticks = p.devices == 0 ? s.first : std::min(p.first_ticks, s.first);
      p.last_ticks = std::max(p.last_ticks, s.last);
      ++p.devices;
    }
    return p;
  }
  StringMap<Seen> devices_;
};

// Equality on a hash column; hex is stored lower-case, but upper-case senders are tolerated.
Predicate HashPredicate(const char* column, const std::string& lower_hex) {
  std::string upper = lower_hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {column, Predicate::Op::kIn, {lower_hex, upper}};
}

// What the file tables say of one hash, within the caller's view.
struct FileScan {
  FileFacts facts;
  Sightings sightings;
  StringMap<int64_t> names;  // FileName → rows
  int64_t size_ticks = 0, version_ticks = 0;  // of the rows size and version info came from

  std::vector<std::string> TopFileNames() const {
    std::vector<std::pair<std::string, int64_t>> sorted(names.begin(), names.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::vector<std::string> out;
    for (size_t i = 0; i < sorted.size() && i < kTopFileNames; ++i) out.push_back(sorted[i].first);
    return out;
  }
};

Status ScanFile(Call& call, const EventScope& scope, const FileHash& hash, std::optional<int64_t> from_ticks,
                FileScan* out) {
  enum Col { kTs, kDevice, kName, kSha1, kSha256, kMd5, kSize, kCompany, kProduct };
  static const std::vector<std::string> kColumns = {"Timestamp", "DeviceId", "FileName", "SHA1", "SHA256", "MD5",
                                                    "FileSize", "ProcessVersionInfoCompanyName",
                                                    "ProcessVersionInfoProductName"};
  bool second_pass = false;
  auto on_row = [&](const Rows& rows, size_t r) {
    if (second_pass && EqualsIgnoreCase(rows.Str(kSha256, r), hash.hex)) return;  // counted in the first pass
    int64_t ts = rows.Int(kTs, r).value_or(0);
    std::string_view device = rows.Str(kDevice, r);
    out->sightings.Add(device, ts);
    // Names, sizes and versions only from visible devices: they would tell of the others.
    if (!scope.Visible(device)) return;
    FileFacts& f = out->facts;
    if (!rows.Str(kName, r).empty()) ++Slot(out->names, rows.Str(kName, r));
    if (f.sha1.empty()) f.sha1 = Lower(rows.Str(kSha1, r));
    if (f.sha256.empty()) f.sha256 = Lower(rows.Str(kSha256, r));
    if (f.md5.empty()) f.md5 = Lower(rows.Str(kMd5, r));
    if (auto size = rows.Int(kSize, r); size && ts >= out->size_ticks) {
      f.size = *size;
      out->size_ticks = ts;
    }
    if (!rows.Str(kCompany, r).empty() || !rows.Str(kProduct, r).empty()) {
      if (ts >= out->version_ticks) {
        f.publisher = rows.Str(kCompany, r);
        f.product_name = rows.Str(kProduct, r);
        out->version_ticks = ts;
      }
    }
  };
  auto scan_all = [&](const char* column, const std::string& hex) -> Status {
    for (const char* table : kFileTables) {
      WARD_RETURN_IF_ERROR(ScanEvents(call, scope, table, kColumns, {HashPredicate(column, hex)}, from_ticks, on_row));
    }
    return Status::Ok();
  };
  WARD_RETURN_IF_ERROR(scan_all(hash.Column(), hash.hex));
  // Asked by SHA-256, the file is also every row with its SHA-1 (some sensors and tables report
  // only SHA-1), so that both keys give the same answer.
  if (hash.kind == FileHash::Kind::kSha256 && !out->facts.sha1.empty()) {
    second_pass = true;
    WARD_RETURN_IF_ERROR(scan_all("SHA1", out->facts.sha1));
  }
  out->facts.global = out->sightings.Global(scope);
  if (!out->names.empty()) out->facts.file_name = out->TopFileNames().front();
  return Status::Ok();
}

// Signer and issuer from the latest certificate report of a visible device.
Status ScanCertificate(Call& call, const EventScope& scope, FileFacts* f) {
  if (f->sha1.empty()) return Status::Ok();
  enum Col { kTs, kDevice, kSigner, kIssuer, kSignerHash, kTrusted };
  static const std::vector<std::string> kColumns = {"Timestamp", "DeviceId", "Signer", "Issuer", "SignerHash",
                                                    "IsTrusted"};
  int64_t latest = -1;
  return ScanEvents(call, scope, "DeviceFileCertificateInfo", kColumns, {HashPredicate("SHA1", f->sha1)}, std::nullopt,
                    [&](const Rows& rows, size_t r) {
                      int64_t ts = rows.Int(kTs, r).value_or(0);
                      if (!scope.Visible(rows.Str(kDevice, r)) || ts < latest) return;
                      latest = ts;
                      f->signer = rows.Str(kSigner, r);
                      f->issuer = rows.Str(kIssuer, r);
                      f->signer_hash = Lower(rows.Str(kSignerHash, r));
                      f->certificate_trusted = rows.Int(kTrusted, r).value_or(0) != 0;
                    });
}

// Devices seen connecting to an IP (as remote or local address) since from_ticks.
Status ScanIp(Call& call, const EventScope& scope, const std::string& ip, std::string_view as_given,
              std::optional<int64_t> from_ticks, Sightings* out) {
  static const std::vector<std::string> kColumns = {"Timestamp", "DeviceId"};
  std::vector<events::CellValue> values = {ip};
  if (as_given != ip) values.emplace_back(std::string(as_given));  // a sensor that kept the input's spelling
  for (const char* column : {"RemoteIP", "LocalIP"}) {
    WARD_RETURN_IF_ERROR(ScanEvents(call, scope, "DeviceNetworkEvents", kColumns, {{column, Predicate::Op::kIn, values}},
                                    from_ticks, [&](const Rows& rows, size_t r) {
                                      out->Add(rows.Str(1, r), rows.Int(0, r).value_or(0));
                                    }));
  }
  return Status::Ok();
}

// Devices seen connecting to the domain or a subdomain of it since from_ticks. `has` on the
// term-indexed RemoteUrl narrows the scan to rows containing the domain's terms; the host check
// then drops look-alikes such as "example.com.evil.org".
Status ScanDomain(Call& call, const EventScope& scope, const std::string& domain, std::optional<int64_t> from_ticks,
                  Sightings* out) {
  static const std::vector<std::string> kColumns = {"Timestamp", "DeviceId", "RemoteUrl"};
  return ScanEvents(call, scope, "DeviceNetworkEvents", kColumns, {{"RemoteUrl", Predicate::Op::kHas, {domain}}},
                    from_ticks, [&](const Rows& rows, size_t r) {
                      if (HostInDomain(UrlHost(rows.Str(2, r)), domain)) {
                        out->Add(rows.Str(1, r), rows.Int(0, r).value_or(0));
                      }
                    });
}

Predicate SuccessfulLogons() { return {"ActionType", Predicate::Op::kEquals, {std::string("LogonSuccess")}}; }

// ?lookBackHours=N (1..720, default 720) as the start of the time range.
Result<int64_t> LookBackStart(const Call& call) {
  auto form = http::ParseForm(call.req.query);
  if (!form) return Err(InvalidArgument("malformed query string"));
  int64_t hours = kDefaultLookBackHours;
  for (const auto& [k, v] : *form) {
    if (!EqualsIgnoreCase(k, "lookBackHours")) continue;
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || !end || *end || n < 1 || n > kDefaultLookBackHours) {
      return Err(InvalidArgument("lookBackHours must be an integer from 1 to 720"));
    }
    hours = n;
  }
  return NowTicks() - hours * kTicksPerHour;
}

// A single stats object: MDE types these as complex types, not entity sets.
void RespondStats(Call& call, std::string_view type_name, const json::Value& stats) {
  json::Writer w;
  w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#microsoft.windowsDefenderATP.api." +
                                           std::string(type_name));
  for (const json::Member& m : stats.members()) w.Key(m.key).Val(m.value);
  w.EndObject();
  call.Json(200, w.Take());
}

Result<FileHash> ParseSha1(std::string_view text) {
  auto hash = ParseFileHash(text);
  if (hash && hash->kind != FileHash::Kind::kSha1) {
    return Err(InvalidArgument(std::string(text) + " is invalid: this route takes a SHA-1"));
  }
  return hash;
}

Result<std::string> ParseUserName(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserName) return Err(InvalidArgument("the user name must have 1 to 256 characters"));
  return std::string(name);
}

// The route's permission, then its entity key (path parameter `param`) in canonical form. On
// failure the MDE error (`code` for a malformed key) is written and nullopt returned.
template <class Parse>
auto PathKey(Call& call, const rbac::Requirement& need, std::string_view param, Parse parse, std::string_view code)
    -> std::optional<typename decltype(parse(std::string_view()))::value_type> {
  if (Status st = call.Require(need); !st.ok()) {
    call.Fail(st);
    return std::nullopt;
  }
  auto key = parse(call.req.PathParam(param));
  if (!key) {
    call.Fail(key.error(), code);
    return std::nullopt;
  }
  return std::move(*key);
}

std::optional<FileHash> FileKey(Call& call, const rbac::Requirement& need) {
  return PathKey(call, need, "id", ParseFileHash, "InvalidHashValue");
}
std::optional<FileHash> Sha1Key(Call& call, const rbac::Requirement& need) {
  return PathKey(call, need, "id", ParseSha1, "InvalidHashValue");
}
std::optional<std::string> IpKey(Call& call, const rbac::Requirement& need) {
  return PathKey(call, need, "ip", CanonicalIpAddress, "InvalidIpAddress");
}
std::optional<std::string> DomainKey(Call& call, const rbac::Requirement& need) {
  return PathKey(call, need, "domain", CanonicalDomainName, "InvalidDomainName");
}
std::optional<std::string> UserKey(Call& call, const rbac::Requirement& need) {
  return PathKey(call, need, "name", ParseUserName, "");
}

// GET .../stats of an IP or a domain: `scan` fills the sightings since the look-back start.
void RespondSightingStats(Call& call, std::string_view type_name,
                          const std::function<Status(const EventScope&, int64_t, Sightings*)>& scan,
                          const std::function<json::Value(const Prevalence&)>& render) {
  auto from = LookBackStart(call);
  if (!from) return call.Fail(from.error());
  auto scope = LoadEventScope(call, false);
  if (!scope) return call.Fail(scope.error());
  Sightings seen;
  if (Status st = scan(*scope, *from, &seen); !st.ok()) return call.Fail(st);
  RespondStats(call, type_name, render(seen.Org(*scope)));
}

// GET .../alerts for an entity: the caller's alerts that `related` picks.
void RespondRelatedAlerts(Call& call, const std::function<bool(const state::Alert&)>& related) {
  auto view = LoadCallerView(call);
  if (!view) return call.Fail(view.error());
  std::vector<const state::Alert*> alerts;
  for (const state::Alert& a : view->alerts) {
    if (related(a)) alerts.push_back(&a);
  }
  RespondAlerts(call, *view, std::move(alerts));
}

bool AnyEvidence(const state::Alert& a, const std::function<bool(const state::AlertEvidence&)>& match) {
  return std::any_of(a.evidence.begin(), a.evidence.end(), match);
}

// GET .../machines for an entity: `scan` fills the sightings of the caller's devices.
void RespondSeenMachines(Call& call, const std::function<Status(const EventScope&, Sightings*)>& scan,
                         size_t cap = SIZE_MAX) {
  auto scope = LoadEventScope(call, /*with_alerts=*/true);  // riskScore needs the alerts
  if (!scope) return call.Fail(scope.error());
  Sightings seen;
  if (Status st = scan(*scope, &seen); !st.ok()) return call.Fail(st);
  std::vector<const state::Machine*> machines = seen.VisibleMachines(*scope);
  if (machines.size() > cap) machines.resize(cap);
  RespondMachines(call, scope->view(), std::move(machines));
}

void FileRoutes(Api& api) {
  api.Add("GET", "/api/files/{id}", [](Call& call) {
    auto hash = FileKey(call, requirements::ReadFiles());
    if (!hash) return;
    auto scope = LoadEventScope(call, false);
    if (!scope) return call.Fail(scope.error());
    FileScan scan;
    if (Status st = ScanFile(call, *scope, *hash, std::nullopt, &scan); !st.ok()) return call.Fail(st);
    if (scan.sightings.Org(*scope).devices == 0) return call.Fail(NotFound("File " + hash->hex + " was not found"));
    if (Status st = ScanCertificate(call, *scope, &scan.facts); !st.ok()) return call.Fail(st);
    call.ODataEntity("Files", FileJson(scan.facts));
  });
  api.Add("GET", "/api/files/{id}/stats", [](Call& call) {
    auto hash = FileKey(call, requirements::ReadFiles());
    if (!hash) return;
    auto from = LookBackStart(call);
    if (!from) return call.Fail(from.error());
    auto scope = LoadEventScope(call, false);
    if (!scope) return call.Fail(scope.error());
    FileScan scan;
    if (Status st = ScanFile(call, *scope, *hash, *from, &scan); !st.ok()) return call.Fail(st);
    std::string sha1 = !scan.facts.sha1.empty() ? scan.facts.sha1 : hash->kind == FileHash::Kind::kSha1 ? hash->hex : "";
    RespondStats(call, "InOrgFileStats",
                 InOrgFileStatsJson(sha1, scan.sightings.Org(*scope), scan.facts.global, scan.TopFileNames()));
  });
  api.Add("GET", "/api/files/{id}/alerts", [](Call& call) {
    auto sha1 = Sha1Key(call, requirements::ReadAlerts());
    if (!sha1) return;
    RespondRelatedAlerts(call, [&](const state::Alert& a) {
      return AnyEvidence(a, [&](const state::AlertEvidence& e) { return EqualsIgnoreCase(e.sha1, sha1->hex); });
    });
  });
  api.Add("GET", "/api/files/{id}/machines", [](Call& call) {
    auto sha1 = Sha1Key(call, requirements::ReadMachines());
    if (!sha1) return;
    RespondSeenMachines(call, [&](const EventScope& scope, Sightings* seen) -> Status {
      FileScan scan;
      WARD_RETURN_IF_ERROR(ScanFile(call, scope, *sha1, std::nullopt, &scan));
      *seen = std::move(scan.sightings);
      return Status::Ok();
    });
  });
}

void IpRoutes(Api& api) {
  api.Add("GET", "/api/ips/{ip}/stats", [](Call& call) {
    auto ip = IpKey(call, requirements::ReadIps());
    if (!ip) return;
    RespondSightingStats(
        call, "InOrgIPStats",
        [&](const EventScope& scope, int64_t from, Sightings* seen) {
          return ScanIp(call, scope, *ip, call.req.PathParam("ip"), from, seen);
        },
        [&](const Prevalence& org) { return InOrgIpStatsJson(*ip, org); });
  });
  api.Add("GET", "/api/ips/{ip}/alerts", [](Call& call) {
    auto ip = IpKey(call, requirements::ReadAlerts());
    if (!ip) return;
    RespondRelatedAlerts(call, [&](const state::Alert& a) {
      return AnyEvidence(a, [&](const state::AlertEvidence& e) {
        auto evidence_ip = CanonicalIpAddress(e.ip_address);
        return evidence_ip && *evidence_ip == *ip;
      });
    });
  });
}

void DomainRoutes(Api& api) {
  api.Add("GET", "/api/domains/{domain}/stats", [](Call& call) {
    auto domain = DomainKey(call, requirements::ReadUrls());
    if (!domain) return;
    RespondSightingStats(
        call, "InOrgDomainStats",
        [&](const EventScope& scope, int64_t from, Sightings* seen) { return ScanDomain(call, scope, *domain, from, seen); },
        [&](const Prevalence& org) { return InOrgDomainStatsJson(*domain, org); });
  });
  api.Add("GET", "/api/domains/{domain}/alerts", [](Call& call) {
    auto domain = DomainKey(call, requirements::ReadAlertsWithReadWrite());
    if (!domain) return;
    RespondRelatedAlerts(call, [&](const state::Alert& a) {
      return AnyEvidence(a, [&](const state::AlertEvidence& e) { return HostInDomain(UrlHost(e.url), *domain); });
    });
  });
  api.Add("GET", "/api/domains/{domain}/machines", [](Call& call) {
    auto domain = DomainKey(call, requirements::ReadMachines());
    if (!domain) return;
    RespondSeenMachines(
        call, [&](const EventScope& scope, Sightings* seen) { return ScanDomain(call, scope, *domain, std::nullopt, seen); },
        kMaxDomainMachines);
  });
}

void UserRoutes(Api& api) {
  api.Add("GET", "/api/users/{name}/alerts", [](Call& call) {
    auto name = UserKey(call, requirements::ReadAlerts());
    if (!name) return;
    RespondRelatedAlerts(call, [&](const state::Alert& a) {
      return EqualsIgnoreCase(a.related_user_name, *name) ||
             AnyEvidence(a, [&](const state::AlertEvidence& e) { return EqualsIgnoreCase(e.account_name, *name); });
    });
  });
  api.Add("GET", "/api/users/{name}/machines", [](Call& call) {
    auto name = UserKey(call, requirements::ReadMachinesWithReadWrite());
    if (!name) return;
    RespondSeenMachines(call, [&](const EventScope& scope, Sightings* seen) -> Status {
      static const std::vector<std::string> kColumns = {"Timestamp", "DeviceId"};
      WARD_RETURN_IF_ERROR(ScanEvents(call, scope, "DeviceLogonEvents", kColumns,
                                      {{"AccountName", Predicate::Op::kEqualsCi, {*name}}, SuccessfulLogons()},
                                      std::nullopt, [&](const Rows& rows, size_t r) {
                                        seen->Add(rows.Str(1, r), rows.Int(0, r).value_or(0));
                                      }));
      // Sessions the device reports (DeviceInfo LoggedOnUsers) count as logons too; they sort
      // after every logon event.
      for (const state::Machine& m : scope.view().machines) {
        if (std::any_of(m.logged_on_users.begin(), m.logged_on_users.end(),
                        [&](const std::string& u) { return EqualsIgnoreCase(u, *name); })) {
          seen->Add(m.id, 0);
        }
      }
      return Status::Ok();
    });
  });
}

// Describes accounts over every device the caller sees, from successful logons: those named `names`
// (lower-case), and when `keys` is given only those "domain\\name" keys.
Status DescribeAccounts(Call& call, const EventScope& scope, const std::unordered_set<std::string>& names,
                        const std::unordered_set<std::string>* keys, std::vector<LogonUser>* out) {
  auto key_of = [](std::string_view domain, std::string_view name) { return Lower(domain) + "\\" + Lower(name); };
  // 2: their logons on every device the caller sees.
  struct Account {
    LogonUser user;
    int64_t latest = -1;  // the row the spelling and SID came from
    StringMap<int64_t> logons;  // device → successful logons
    std::set<std::string, std::less<>> types;
  };
  std::unordered_map<std::string, Account> accounts;
  enum Col { kTs, kDevice, kName, kDomain, kSid, kType };
  static const std::vector<std::string> kColumns = {"Timestamp", "DeviceId", "AccountName", "AccountDomain",
                                                    "AccountSid", "LogonType"};
  // `has_any` is case-insensitive and uses the term index; it also matches names that merely contain
  // one of these as a term, which the key check below drops.
  Predicate by_name{"AccountName", Predicate::Op::kHasAny, {}};
  for (const std::string& n : names) by_name.values.emplace_back(n);
  WARD_RETURN_IF_ERROR(ScanEvents(
      call, scope, "DeviceLogonEvents", kColumns, {std::move(by_name), SuccessfulLogons()}, std::nullopt,
      [&](const Rows& rows, size_t r) {
        std::string_view device_id = rows.Str(kDevice, r);
        std::string key = key_of(rows.Str(kDomain, r), rows.Str(kName, r));
        if (!scope.Visible(device_id) || (keys && !keys->count(key)) || !names.count(Lower(rows.Str(kName, r)))) return;
        Account& a = accounts[key];
        int64_t ts = rows.Int(kTs, r).value_or(0);
        LogonUser& u = a.user;
        u.first_ticks = u.first_ticks == 0 ? ts : std::min(u.first_ticks, ts);
        u.last_ticks = std::max(u.last_ticks, ts);
        std::string_view sid = rows.Str(kSid, r);
        if (!sid.empty() && (u.account_sid.empty() || ts >= a.latest)) u.account_sid = sid;
        if (ts >= a.latest) {
          a.latest = ts;
          u.account_name = rows.Str(kName, r);
          u.account_domain = rows.Str(kDomain, r);
        }
        ++Slot(a.logons, device_id);
        if (std::string_view t = rows.Str(kType, r); !t.empty() && a.types.find(t) == a.types.end()) a.types.emplace(t);
      }));
  for (auto& [key, a] : accounts) {
    LogonUser& u = a.user;
    u.logon_types.assign(a.types.begin(), a.types.end());
    u.machines = static_cast<int64_t>(a.logons.size());
    // Most and least logons; ties go to the smaller id so that answers are stable.
    std::vector<std::pair<int64_t, std::string>> ranked;
    for (const auto& [id, n] : a.logons) ranked.emplace_back(n, id);
    std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first > y.first : x.second < y.second;
    });
    u.most_prevalent_machine_id = ranked.front().second;
    auto least = std::min_element(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first < y.first : x.second < y.second;
    });
    u.least_prevalent_machine_id = least->second;
    out->push_back(std::move(u));
  }
  std::sort(out->begin(), out->end(), [](const LogonUser& x, const LogonUser& y) {
    return x.last_ticks != y.last_ticks ? x.last_ticks > y.last_ticks : x.account_name < y.account_name;
  });
  return Status::Ok();
}

// The accounts that logged on to one device, each described over all of the caller's devices.
Status CollectLogonUsers(Call& call, const EventScope& scope, const state::Machine& device, std::vector<LogonUser>* out) {
  auto key_of = [](std::string_view domain, std::string_view name) { return Lower(domain) + "\\" + Lower(name); };
  // 1: who logged on here.
  std::unordered_set<std::string> keys;
  std::unordered_set<std::string> names;  // lower-case
  {
    enum Col { kName, kDomain };
    static const std::vector<std::string> kColumns = {"AccountName", "AccountDomain"};
    WARD_RETURN_IF_ERROR(ScanEvents(call, scope, "DeviceLogonEvents", kColumns,
                                    {{"DeviceId", Predicate::Op::kEquals, {device.id}}, SuccessfulLogons()},
                                    std::nullopt, [&](const Rows& rows, size_t r) {
                                      if (rows.Str(kName, r).empty()) return;
                                      keys.insert(key_of(rows.Str(kDomain, r), rows.Str(kName, r)));
                                      names.insert(Lower(rows.Str(kName, r)));
                                    }));
  }
  if (keys.empty()) return Status::Ok();
  return DescribeAccounts(call, scope, names, &keys, out);
}

void LogonUserRoutes(Api& api) {
  api.Add("GET", "/api/machines/{id}/logonusers", [](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadUsers());
    if (!m) return call.Fail(m.error());
    auto q = call.ODataQuery(LogonUserSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto scope = LoadEventScope(call, false);
    if (!scope) return call.Fail(scope.error());
    std::vector<LogonUser> users;
    if (Status st = CollectLogonUsers(call, *scope, *m, &users); !st.ok()) return call.Fail(st);
    std::vector<json::Value> out;
    out.reserve(users.size());
    for (const LogonUser& u : users) out.push_back(LogonUserJson(u));
    call.ODataList(LogonUserSchema(), *q, std::move(out));
  });
}

// An alert's related files and user (mde-api.md §3.1), described from the event store like the
// /api/files and /api/machines/{id}/logonusers routes.
void AlertRelationRoutes(Api& api) {
  api.Add("GET", "/api/alerts/{id}/files", [](Call& call) {
    if (Status st = call.Require(requirements::ReadFiles()); !st.ok()) return call.Fail(st);
    auto alert = FindAlertForCaller(call, call.req.PathParam("id"), requirements::ReadFiles());
    if (!alert) return call.Fail(alert.error());
    auto scope = LoadEventScope(call, false);
    if (!scope) return call.Fail(scope.error());
    json::Writer w;
    w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#Files").Key("value").StartArray();
    StringSet seen;
    for (const state::AlertEvidence& e : alert->evidence) {
      std::string key = !e.sha1.empty() ? e.sha1 : e.sha256;
      if (key.empty() || seen.count(Lower(key))) continue;
      seen.insert(Lower(key));
      auto hash = ParseFileHash(key);
      if (!hash) continue;
      FileScan scan;
      if (Status st = ScanFile(call, *scope, *hash, std::nullopt, &scan); !st.ok()) return call.Fail(st);
      FileFacts& f = scan.facts;
      // What the evidence itself says fills what the store no longer holds.
      if (f.sha1.empty()) f.sha1 = Lower(e.sha1);
      if (f.sha256.empty()) f.sha256 = Lower(e.sha256);
      if (f.file_name.empty()) f.file_name = e.file_name;
      if (Status st = ScanCertificate(call, *scope, &f); !st.ok()) return call.Fail(st);
      w.Val(FileJson(f));
    }
    w.EndArray().EndObject();
    call.Json(200, w.Take());
  });
  api.Add("GET", "/api/alerts/{id}/user", [](Call& call) {
    if (Status st = call.Require(requirements::ReadUsers()); !st.ok()) return call.Fail(st);
    auto alert = FindAlertForCaller(call, call.req.PathParam("id"), requirements::ReadUsers());
    if (!alert) return call.Fail(alert.error());
    if (alert->related_user_name.empty()) return call.Fail(NotFound("Alert " + alert->id + " has no related user"));
    auto scope = LoadEventScope(call, false);
    if (!scope) return call.Fail(scope.error());
    std::unordered_set<std::string> names = {Lower(alert->related_user_name)};
    std::unordered_set<std::string> keys = {Lower(alert->related_user_domain) + "\\" + Lower(alert->related_user_name)};
    std::vector<LogonUser> users;
    Status st = DescribeAccounts(call, *scope, names, alert->related_user_domain.empty() ? nullptr : &keys, &users);
    if (!st.ok()) return call.Fail(st);
    LogonUser u;
    if (!users.empty()) {
      u = std::move(users.front());
    } else {
      // Known from the alert only (no successful logon on a visible device).
      u.account_name = alert->related_user_name;
      u.account_domain = alert->related_user_domain;
    }
    call.ODataEntity("Users", LogonUserJson(u));
  });
}

}  // namespace

void RegisterEntityRoutes(Api& api) {
  AlertRelationRoutes(api);
  FileRoutes(api);
  IpRoutes(api);
  DomainRoutes(api);
  UserRoutes(api);
  LogonUserRoutes(api);
}

}  // namespace ward::api
