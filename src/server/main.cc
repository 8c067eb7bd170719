// ward: the server and its admin CLI.
//   ward init   --data-dir DIR [--tenant-name NAME] [--public-url URL] [--json]
//   ward server --data-dir DIR --listen HOST:PORT [--tls | --tls-cert F --tls-key F] [--insecure-http]
//   ward admin  <tenants|users|user-groups|roles|device-groups|apps|keys|machines> ... --data-dir DIR
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>
#include <set>

#include "common/crypto.h"
#include "common/time.h"
#include "common/version.h"
#include "events/event_log.h"
#include "events/event_store.h"
#include "identity/certificates.h"
#include "identity/keys.h"
#include "identity/password.h"
#include "ingest/devices.h"
#include "ingest/onboarding.h"
#include "json/json.h"
#include "rbac/device_groups.h"
#include "rbac/permissions.h"
#include "server/bootstrap.h"
#include "server/config.h"
#include "server/backends.h"
#include "server/config.h"
#include "server/event_snapshot.h"
#include "server/migrate.h"
#include "server/hunt_command.h"
#include "server/run_server.h"

namespace {

using namespace ward;

int Fail(const Status& st) {
  std::fprintf(stderr, "ward: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// The state store the configuration names (<data-dir>/state.db by default).
Result<std::unique_ptr<state::StateStore>> OpenStore(const std::string& dir, const std::string& config_path) {
  WARD_ASSIGN_OR_RETURN(server::Config cfg, server::LoadConfig(dir, config_path));
  return server::OpenStateStore(dir, cfg, /*create=*/false);
}

std::vector<std::string> SplitCsv(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size() && !s.empty()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    if (comma > pos) out.push_back(s.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

void PrintJson(const json::Value& v) { std::printf("%s\n", v.Serialize().c_str()); }

// A new installation: in the data directory, or in the shared state store `config_path` names (the
// first node of several; the others only need the same configuration).
int Init(const std::string& dir, const std::string& config_path, const std::string& tenant_name,
         const std::string& public_url, bool as_json) {
  namespace fs = std::filesystem;
  auto cfg = server::LoadConfig(dir, config_path);
  if (!cfg) return Fail(cfg.error());
  if (!cfg->distributed() && fs::exists(dir + "/state.db")) return Fail(AlreadyExists(dir + " is already initialised"));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(Internal("cannot create " + dir + ": " + ec.message()));
  fs::permissions(dir, fs::perms::owner_all, ec);
  auto store = server::OpenStateStore(dir, *cfg, /*create=*/true);
  if (!store) return Fail(store.error());
  if (auto held = server::HoldsInstallation(**store); !held || *held) {
    return Fail(held ? AlreadyExists(cfg->state_url + " already holds a Ward installation") : held.error());
  }
  identity::KeyManager keys(**store);
  if (Status st = keys.Initialize(); !st.ok()) return Fail(st);
  auto tenant = server::CreateTenant(**store, tenant_name);
  if (!tenant) return Fail(tenant.error());
  auto admin = server::CreateUser(**store, tenant->tenant_id, "admin@ward.local", "Ward administrator", "");
  if (!admin) return Fail(admin.error());
  // The administrator joins the group that holds the built-in role.
  state::Repo<state::UserGroup> groups(**store);
  auto g = groups.Get(tenant->tenant_id, tenant->admin_group_id);
  if (!g) return Fail(g.error());
  g->member_ids.push_back(admin->id);
  if (Status st = groups.Update(*g); !st.ok()) return Fail(st);
  auto app = server::CreateApp(**store, tenant->tenant_id, "Ward API client", {"*"}, {"*"});
  if (!app) return Fail(app.error());
  if (config_path.empty()) {
    if (Status st = server::WriteDefaultConfig(dir, public_url); !st.ok()) return Fail(st);
  }
  std::string api_url = public_url.empty() ? "http://127.0.0.1:8443" : public_url;
  json::Value out = json::Value::Object();
  out.Set("tenantId", tenant->tenant_id);
  out.Set("adminUser", "admin@ward.local");
  out.Set("adminPassword", admin->password);
  out.Set("clientId", app->client_id);
  out.Set("clientSecret", app->secret);
  out.Set("apiUrl", api_url);
  if (as_json) {
    PrintJson(out);
  } else {
    std::printf("Initialised %s\n  tenant id:     %s\n  admin user:    admin@ward.local\n  admin password: %s\n"
                "  client id:     %s\n  client secret: %s\n(secrets are shown only now; only their hashes are kept)\n",
                dir.c_str(), tenant->tenant_id.c_str(), admin->password.c_str(), app->client_id.c_str(),
                app->secret.c_str());
  }
  return 0;
}

// `ward admin ...`: each subcommand opens the store, resolves the tenant, acts, prints JSON.
struct AdminArgs {
  std::string data_dir;
  std::string config_path;
  std::string tenant;
  std::string name, upn, password, display_name, permissions, delegated, role, user_group, user, group, kid, app, cert;
  std::string id, server_url, out;
  std::string names, domains, tags, os, remediation = "No automated response";
  int64_t rank = 1;
  int days = 365;
};

int RunAdminCommand(state::StateStore& store, const std::string& what, const std::string& verb, AdminArgs& a) {
  if (what == "tenants") {
    if (verb == "list") {
      auto all = store.ListTenants();
      if (!all) return Fail(all.error());
      json::Value arr = json::Value::Array();
      for (const auto& t : *all) {
        json::Value v = json::Value::Object();
        v.Set("id", t.id);
        v.Set("name", t.name);
        arr.Append(std::move(v));
      }
      PrintJson(arr);
      return 0;
    }
    auto t = server::CreateTenant(store, a.name.empty() ? "Ward tenant" : a.name);
    if (!t) return Fail(t.error());
    a.tenant = t->tenant_id;
    json::Value out = json::Value::Object();
    out.Set("tenantId", t->tenant_id);
    PrintJson(out);
    return 0;
  }
  if (what == "keys") {
    identity::KeyManager keys(store);
    if (verb == "rotate") {
      auto kid = keys.Rotate();
      if (!kid) return Fail(kid.error());
      PrintJson(json::Value::Object().Set("kid", *kid)), void();
      return 0;
    }
    if (verb == "retire") {
      Status st = keys.Retire(a.kid);
      return st.ok() ? 0 : Fail(st);
    }
    auto all = store.ListSigningKeys();
    if (!all) return Fail(all.error());
    json::Value arr = json::Value::Array();
    for (const auto& k : *all) {
      json::Value v = json::Value::Object();
      v.Set("kid", k.kid);
      v.Set("status", k.status);
      v.Set("created", k.created_ms);
      arr.Append(std::move(v));
    }
    PrintJson(arr);
    return 0;
  }
  auto tenant_r = server::ResolveTenant(store, a.tenant);
  if (!tenant_r) return Fail(tenant_r.error());
  const std::string tenant = *tenant_r;

  if (what == "users") {
    state::Repo<state::User> users(store);
    if (verb == "list") {
      auto all = users.List(tenant);
      if (!all) return Fail(all.error());
      json::Value arr = json::Value::Array();
      for (const auto& u : *all) {
        json::Value v = json::Value::Object();
        v.Set("id", u.id);
        v.Set("userPrincipalName", u.upn);
        v.Set("displayName", u.display_name);
        v.Set("accountEnabled", u.enabled);
        arr.Append(std::move(v));
      }
      PrintJson(arr);
      return 0;
    }
    if (verb == "create") {
      auto u = server::CreateUser(store, tenant, a.upn, a.display_name, a.password);
      if (!u) return Fail(u.error());
      json::Value out = json::Value::Object();
      out.Set("id", u->id);
      out.Set("userPrincipalName", a.upn);
      out.Set("password", u->password);
      PrintJson(out);
      return 0;
    }
    auto u = users.GetByUniqueKey(tenant, a.upn);
    if (!u) return Fail(NotFound("user " + a.upn + " not found"));
    if (verb == "set-password") {
      std::string pw = a.password.empty() ? RandomToken(18) : a.password;
      if (pw.size() < 12) return Fail(InvalidArgument("the password must have at least 12 characters"));
      auto hash = identity::HashPassword(pw);
      if (!hash) return Fail(hash.error());
      u->password_hash = *hash;
      if (Status st = users.Update(*u); !st.ok()) return Fail(st);
      PrintJson(json::Value::Object().Set("password", pw)), void();
      return 0;
    }
    u->enabled = verb == "enable";
    Status st = users.Update(*u);
    return st.ok() ? 0 : Fail(st);
  }
  if (what == "user-groups") {
    state::Repo<state::UserGroup> groups(store);
    if (verb == "create") {
      state::UserGroup g;
      g.tenant_id = tenant;
      g.id = NewGuid();
      g.name = a.name;
      if (g.name.empty()) return Fail(InvalidArgument("--name is required"));
      if (Status st = groups.Insert(g); !st.ok()) return Fail(st);
      PrintJson(json::Value::Object().Set("id", g.id)), void();
      return 0;
    }
    if (verb == "add-member") {
      auto g = groups.GetByUniqueKey(tenant, a.group);
      if (!g) g = groups.Get(tenant, a.group);
      if (!g) return Fail(NotFound("user group " + a.group + " not found"));
      auto u = state::Repo<state::User>(store).GetByUniqueKey(tenant, a.user);
      if (!u) return Fail(NotFound("user " + a.user + " not found"));
      g->member_ids.push_back(u->id);
      Status st = groups.Update(*g);
      return st.ok() ? 0 : Fail(st);
    }
    auto all = groups.List(tenant);
    if (!all) return Fail(all.error());
    json::Value arr = json::Value::Array();
    for (const auto& g : *all) arr.Append(state::ToJson(g));
    PrintJson(arr);
    return 0;
  }
  if (what == "roles") {
    state::Repo<state::Role> roles(store);
    if (verb == "create") {
      state::Role r;
      r.tenant_id = tenant;
      r.id = NewGuid();
      r.name = a.name;
      if (r.name.empty()) return Fail(InvalidArgument("--name is required"));
      for (const std::string& p : SplitCsv(a.permissions)) {
        auto parsed = rbac::ParsePortalPermission(p);
        if (!parsed) return Fail(InvalidArgument("unknown permission " + p));
        r.permissions.emplace_back(rbac::PortalPermissionName(*parsed));
      }
      if (Status st = roles.Insert(r); !st.ok()) return Fail(st);
      PrintJson(json::Value::Object().Set("id", r.id)), void();
      return 0;
    }
    if (verb == "assign") {
      auto r = roles.GetByUniqueKey(tenant, a.role);
      if (!r) return Fail(NotFound("role " + a.role + " not found"));
      auto g = state::Repo<state::UserGroup>(store).GetByUniqueKey(tenant, a.user_group);
      if (!g) return Fail(NotFound("user group " + a.user_group + " not found"));
      r->user_group_ids.push_back(g->id);
      Status st = roles.Update(*r);
      return st.ok() ? 0 : Fail(st);
    }
    auto all = roles.List(tenant);
    if (!all) return Fail(all.error());
    json::Value arr = json::Value::Array();
    for (const auto& r : *all) arr.Append(state::ToJson(r));
    PrintJson(arr);
    return 0;
  }
  if (what == "device-groups") {
    state::Repo<state::DeviceGroup> dgs(store);
    if (verb == "create") {
      state::DeviceGroup g;
      g.tenant_id = tenant;
      g.name = a.name;
      g.rank = a.rank;
      g.remediation_level = a.remediation;
      g.rules.name = SplitCsv(a.names);
      g.rules.domain = SplitCsv(a.domains);
      g.rules.tag = SplitCsv(a.tags);
      g.rules.os_platform = SplitCsv(a.os);
      if (Status st = rbac::ValidateDeviceGroup(g); !st.ok()) return Fail(st);
      auto id = store.NextSequence(tenant, "device_group");
      if (!id) return Fail(id.error());
      g.id = *id;
      if (Status st = dgs.Insert(g); !st.ok()) return Fail(st);
      if (auto re = rbac::RecomputeDeviceGroups(store, tenant); !re) return Fail(re.error());
      PrintJson(json::Value::Object().Set("id", g.id)), void();
      return 0;
    }
    if (verb == "grant") {
      auto g = dgs.GetByUniqueKey(tenant, a.group);
      if (!g) return Fail(NotFound("device group " + a.group + " not found"));
      auto ug = state::Repo<state::UserGroup>(store).GetByUniqueKey(tenant, a.user_group);
      if (!ug) return Fail(NotFound("user group " + a.user_group + " not found"));
      g->user_group_ids.push_back(ug->id);
      Status st = dgs.Update(*g);
      return st.ok() ? 0 : Fail(st);
    }
    auto all = dgs.List(tenant);
    if (!all) return Fail(all.error());
    json::Value arr = json::Value::Array();
    for (const auto& g : *all) arr.Append(state::ToJson(g));
    PrintJson(arr);
    return 0;
  }
  if (what == "apps") {
    if (verb == "create") {
      auto app = server::CreateApp(store, tenant, a.name.empty() ? "Ward API client" : a.name, SplitCsv(a.permissions),
                                   SplitCsv(a.delegated), a.days);
      if (!app) return Fail(app.error());
      json::Value out = json::Value::Object();
      out.Set("clientId", app->client_id);
      out.Set("clientSecret", app->secret);
      PrintJson(out);
      return 0;
    }
    if (verb == "add-certificate" || verb == "grant") {
      state::Repo<state::App> apps(store);
      auto app_r = apps.Get(tenant, state::LowerAscii(a.app));
      if (!app_r) return Fail(NotFound("app " + a.app + " not found"));
      json::Value out = json::Value::Object();
      if (verb == "grant") {
        auto perms = server::ExpandPermissions(SplitCsv(a.permissions), false);
        auto delegated = server::ExpandPermissions(SplitCsv(a.delegated), true);
        if (!perms) return Fail(perms.error());
        if (!delegated) return Fail(delegated.error());
        if (!a.permissions.empty()) app_r->app_permissions = *perms;
        if (!a.delegated.empty()) app_r->delegated_permissions = *delegated;
        out.Set("applicationPermissions", state::StringArray(app_r->app_permissions));
        out.Set("delegatedPermissions", state::StringArray(app_r->delegated_permissions));
      } else {
        std::ifstream in(a.cert);
        if (!in) return Fail(InvalidArgument("cannot read " + a.cert));
        std::stringstream pem;
        pem << in.rdbuf();
        auto info = identity::ParseCertificatePem(pem.str());
        if (!info) return Fail(info.error());
        auto c = identity::AddCertificate(&*app_r, *info);
        if (!c) return Fail(c.error());
        out.Set("keyId", c->id);
        out.Set("thumbprint", c->thumbprint);
      }
      if (Status st = apps.Update(*app_r); !st.ok()) return Fail(st);
      PrintJson(out);
      return 0;
    }
    if (verb == "add-secret") {
      auto secret = server::AddAppSecret(store, tenant, a.app, a.days);
      if (!secret) return Fail(secret.error());
      json::Value out = json::Value::Object();
      out.Set("clientId", state::LowerAscii(a.app));
      out.Set("clientSecret", *secret);
      PrintJson(out);
      return 0;
    }
    auto all = state::Repo<state::App>(store).List(tenant);
    if (!all) return Fail(all.error());
    json::Value arr = json::Value::Array();
    for (auto a2 : *all) {
      for (auto& s : a2.secrets) s.hash = "(hidden)";
      arr.Append(state::ToJson(a2));
    }
    PrintJson(arr);
    return 0;
  }
  if (what == "onboarding-package") {
    // The server may be running on this data dir: this only reads keys and adds one if needed.
    std::string cert = a.cert.empty() ? a.data_dir + "/tls/server.crt" : a.cert;
    std::string fingerprint = a.server_url.rfind("https://", 0) == 0 ? ingest::CertificateSha256FromPemFile(cert) : "";
    if (a.server_url.empty()) return Fail(InvalidArgument("--server-url is required"));
    if (a.out.empty()) return Fail(InvalidArgument("--out is required"));
    auto info = ingest::BuildOnboardingInfo(store, tenant, a.server_url, fingerprint);
    if (!info) return Fail(info.error());
    std::ofstream out(a.out, std::ios::trunc);
    out << ingest::BuildOnboardingScript(*info);
    out.close();
    if (!out) return Fail(Internal("cannot write " + a.out));
    std::filesystem::permissions(a.out, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                            std::filesystem::perms::owner_exec);
    json::Value v = json::Value::Object();
    v.Set("out", a.out);
    v.Set("serverUrl", a.server_url);
    v.Set("serverCertSha256", fingerprint);
    PrintJson(v);
    return 0;
  }
  if (what == "events") {
    // Read-only view of the telemetry store: sealed segments plus the log tail replayed in memory
    // (nothing is sealed or written, so this is safe while a server runs on the same data dir).
    const events::SchemaRegistry& schema = events::SchemaRegistry::Hunting();
    auto cs = server::OpenEventSnapshot(a.data_dir);
    if (!cs) return Fail(cs.error());
    json::Value out = json::Value::Object();
    for (const events::TableDef& t : schema.tables()) {
      if (!a.name.empty() && t.name != a.name) continue;
      if (t.Find("DeviceId") < 0) continue;
      events::ScanRequest req;
      req.tenant_id = tenant;
      req.table = t.name;
      req.columns = {"DeviceId"};
      bool has_report = t.Find("ReportId") >= 0;
      if (has_report) req.columns.push_back("ReportId");
      int64_t rows = 0, duplicates = 0;
      std::set<std::string> devices;
      std::set<std::pair<std::string, int64_t>> reports;
      auto scanned = (*cs)->Scan(req, [&](events::ColumnBatch&& b) {
        for (size_t i = 0; i < b.rows; ++i) {
          ++rows;
          const std::string& dev = b.columns[0].strings[i];
          devices.insert(dev);
          if (has_report && !b.columns[1].nulls[i] && !reports.emplace(dev, b.columns[1].ints[i]).second) ++duplicates;
        }
        return true;
      });
      if (!scanned) return Fail(scanned.error());
      if (rows == 0 && a.name.empty()) continue;
      json::Value v = json::Value::Object();
      v.Set("rows", rows);
      v.Set("devices", static_cast<int64_t>(devices.size()));
      v.Set("duplicateReportIds", duplicates);
      out.Set(t.name, std::move(v));
    }
    PrintJson(out);
    return 0;
  }
  if (what == "enrollment-keys") {
    state::Repo<state::EnrollmentKey> keys(store);
    if (verb == "list") {
      json::Value arr = json::Value::Array();
      for (const auto& k : keys.List(tenant).value_or(std::vector<state::EnrollmentKey>{})) {
        json::Value v = json::Value::Object();
        v.Set("id", k.id);
        v.Set("expires", FormatIsoMs(k.expires_ms));
        v.Set("revoked", k.revoked);
        arr.Append(std::move(v));
      }
      PrintJson(arr);
      return 0;
    }
    auto k = keys.Get(tenant, a.kid);
    if (!k) return Fail(NotFound("enrollment key " + a.kid + " not found"));
    if (verb == "revoke") k->revoked = true;
    else k->expires_ms = std::min(k->expires_ms, NowMs());
    Status st = keys.Update(*k);
    return st.ok() ? 0 : Fail(st);
  }
  if (what == "machines" && verb == "revoke-credential") {
    Status st = ingest::RevokeCredential(store, tenant, state::LowerAscii(a.id), false);
    return st.ok() ? 0 : Fail(st);
  }
  if (what == "machines") {
    // Registers a device record by hand (recovery, demos); sensors enroll themselves.
    state::Machine m;
    m.tenant_id = tenant;
    m.id = HexEncode(Sha1(tenant + "/" + state::LowerAscii(a.name)));
    m.computer_dns_name = a.name;
    m.domain = a.domains;
    m.os_platform = a.os.empty() ? "Linux" : a.os;
    m.tags = SplitCsv(a.tags);
    m.onboarding_status = "Onboarded";
    m.health_status = "Active";
    m.first_seen_ms = m.last_seen_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto groups = state::Repo<state::DeviceGroup>(store).List(tenant);
    if (!groups) return Fail(groups.error());
    m.rbac_group_id = rbac::AssignDeviceGroup(*groups, m);
    if (a.name.empty()) return Fail(InvalidArgument("--name is required"));
    if (Status st = state::Repo<state::Machine>(store).Insert(m); !st.ok()) return Fail(st);
    json::Value out = json::Value::Object();
    out.Set("id", m.id);
    out.Set("rbacGroupId", m.rbac_group_id ? json::Value(*m.rbac_group_id) : json::Value());
    PrintJson(out);
    return 0;
  }
  return Fail(InvalidArgument("unknown admin command"));
}

// `ward admin migrate`: the data directory's embedded state and events into the backends `to_config`
// names (src/server/migrate.h). Safe to run again after an interruption.
int RunMigrate(const AdminArgs& a, const std::string& to_config) {
  auto from_cfg = server::LoadConfig(a.data_dir, a.config_path);
  if (!from_cfg) return Fail(from_cfg.error());
  if (from_cfg->distributed()) return Fail(InvalidArgument("--data-dir must hold an embedded installation to migrate from"));
  auto to_cfg = server::LoadConfig(a.data_dir, to_config);
  if (!to_cfg) return Fail(to_cfg.error());
  if (!to_cfg->distributed()) return Fail(InvalidArgument(to_config + " names no shared state store (state: postgres://...)"));
  auto source = OpenStore(a.data_dir, a.config_path);
  if (!source) return Fail(source.error());
  auto target = server::OpenStateStore(a.data_dir, *to_cfg, /*create=*/true);
  if (!target) return Fail(target.error());
  auto state_stats = server::CopyState(**source, **target);
  if (!state_stats) return Fail(state_stats.error());
  json::Value out = json::Value::Object();
  json::Value st = json::Value::Object();
  st.Set("tenants", state_stats->tenants);
  st.Set("documents", state_stats->documents);
  st.Set("sequences", state_stats->sequences);
  st.Set("signingKeys", state_stats->signing_keys);
  st.Set("auditEntries", state_stats->audit_entries);
  out.Set("state", std::move(st));
  if (!to_cfg->events_url.empty()) {
    auto snapshot = server::OpenEventSnapshot(a.data_dir);
    if (!snapshot) return Fail(snapshot.error());
    auto events_target = server::OpenEventStore(a.data_dir, *to_cfg);
    if (!events_target) return Fail(events_target.error());
    std::vector<std::string> tenants;
    for (const auto& t : (*source)->ListTenants().value_or(std::vector<state::Tenant>{})) tenants.push_back(t.id);
    auto ev = server::CopyEvents(**snapshot, **events_target, events::SchemaRegistry::Hunting(), tenants);
    if (!ev) return Fail(ev.error());
    json::Value e = json::Value::Object();
    e.Set("tablesCopied", ev->tables_copied);
    e.Set("tablesSkipped", ev->tables_skipped);
    e.Set("rows", ev->rows);
    out.Set("events", std::move(e));
  }
  PrintJson(out);
  return 0;
}

// Every change made with `ward admin` lands in the audit log like an API change, with the operating
// system user as the actor: the CLI is the recovery path, so it must not be an unaudited one.
int RunAdmin(const std::string& what, const std::string& verb, AdminArgs& a) {
  auto store_r = OpenStore(a.data_dir, a.config_path);
  if (!store_r) return Fail(store_r.error());
  state::StateStore& store = **store_r;
  int rc = RunAdminCommand(store, what, verb, a);
  if (rc != 0 || verb == "list" || verb == "stats") return rc;  // reads are not audited
  std::vector<std::string> tenants;
  if (what == "keys") {
    for (const auto& t : store.ListTenants().value_or(std::vector<state::Tenant>{})) tenants.push_back(t.id);
  } else if (auto t = server::ResolveTenant(store, a.tenant)) {
    tenants.push_back(*t);
  }
  const char* os_user = std::getenv("USER");
  std::string target = !a.upn.empty() ? a.upn : !a.app.empty() ? a.app : !a.kid.empty() ? a.kid : !a.id.empty() ? a.id : a.name;
  for (const std::string& tenant : tenants) {
    state::AuditEntry e;
    e.tenant_id = tenant;
    e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
    e.actor_type = "System";
    e.actor_id = "ward-admin";
    e.actor_name = std::string("ward admin (") + (os_user ? os_user : "unknown") + ")";
    e.action = "ward admin " + what + " " + verb;
    e.target = target;
    e.result = "Success";
    if (auto st = store.AppendAudit(e); !st) std::fprintf(stderr, "ward: audit: %s\n", st.error().message().c_str());
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ward: a self-hosted EDR server with a Microsoft Defender for Endpoint compatible API"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ward ") + ward::kVersion);

  std::string data_dir, init_config, tenant_name = "Ward demo tenant", public_url;
  bool as_json = false;
  auto* init = app.add_subcommand("init", "Create a data directory with a tenant, an administrator and an app");
  init->add_option("--data-dir", data_dir, "Data directory")->required();
  init->add_option("--config", init_config,
                   "Configuration file naming shared backends (state: postgres://...); default: a new <data-dir>/config.json");
  init->add_option("--tenant-name", tenant_name, "Tenant display name");
  init->add_option("--public-url", public_url, "URL clients use to reach the server");
  init->add_flag("--json", as_json, "Print the credentials as one JSON object");

  ward::server::ServeOptions serve;
  auto* srv = app.add_subcommand("server", "Serve the API");
  srv->add_option("--data-dir", serve.data_dir, "Data directory")->required();
  srv->add_option("--config", serve.config_path, "Configuration file (default <data-dir>/config.json)");
  srv->add_option("--listen", serve.listen, "host:port (IPv6 as [::1]:port)");
  srv->add_option("--tls-cert", serve.tls_cert, "PEM certificate chain");
  srv->add_option("--tls-key", serve.tls_key, "PEM private key");
  srv->add_flag("--tls", serve.self_signed_tls, "Serve HTTPS with a self-signed certificate kept in <data-dir>/tls");
  srv->add_flag("--insecure-http", serve.insecure_http, "Allow plain HTTP on a non-loopback address");
  srv->add_option("--public-url", serve.public_url, "URL clients use to reach the server (token issuer)");
  srv->add_option("--threads", serve.threads, "HTTP worker threads (default: four per core, at least 8)");
  srv->add_flag("--no-rate-limits", serve.disable_rate_limits, "Disable rate limits (benchmarks)");
  srv->add_option("--web-root", serve.web_root,
                  "The portal's built files (default: <exe>/../web/dist or <exe>/../share/ward/web; 'none' = no portal)");

  AdminArgs a;
  auto* admin = app.add_subcommand("admin", "Manage tenants, users, groups, roles, apps and keys in a data directory");
  admin->require_subcommand(1);
  std::string what, verb;
  auto add_common = [&](CLI::App* c) {
    c->add_option("--data-dir", a.data_dir, "Data directory")->required();
    c->add_option("--config", a.config_path, "Configuration file (default <data-dir>/config.json)");
    c->add_option("--tenant", a.tenant, "Tenant id or name (default: the only tenant)");
  };
  struct Spec {
    const char* what;
    std::vector<const char*> verbs;
  };
  std::vector<Spec> specs = {
      {"tenants", {"list", "create"}},
      {"users", {"list", "create", "set-password", "disable", "enable"}},
      {"user-groups", {"list", "create", "add-member"}},
      {"roles", {"list", "create", "assign"}},
      {"device-groups", {"list", "create", "grant"}},
      {"apps", {"list", "create", "add-secret", "add-certificate", "grant"}},
      {"keys", {"list", "rotate", "retire"}},
      {"machines", {"register", "revoke-credential"}},
      {"enrollment-keys", {"list", "expire", "revoke"}},
      {"events", {"stats"}},
  };
  for (const Spec& s : specs) {
    auto* group = admin->add_subcommand(s.what);
    group->require_subcommand(1);
    for (const char* v : s.verbs) {
      auto* cmd = group->add_subcommand(v);
      add_common(cmd);
      cmd->add_option("--name", a.name);
      cmd->add_option("--upn,--user-name", a.upn);
      cmd->add_option("--password", a.password);
      cmd->add_option("--display-name", a.display_name);
      cmd->add_option("--permissions", a.permissions, "Comma-separated; * = all");
      cmd->add_option("--delegated", a.delegated, "Comma-separated delegated permissions; * = all");
      cmd->add_option("--role", a.role);
      cmd->add_option("--user-group", a.user_group);
      cmd->add_option("--user", a.user);
      cmd->add_option("--group", a.group);
      cmd->add_option("--kid", a.kid);
      cmd->add_option("--app", a.app);
      cmd->add_option("--cert", a.cert, "PEM certificate file");
      cmd->add_option("--id", a.id, "Object id (machine id, ...)");
      cmd->add_option("--rank", a.rank);
      cmd->add_option("--days", a.days);
      cmd->add_option("--names", a.names, "Device-name patterns, comma-separated");
      cmd->add_option("--domains,--domain", a.domains);
      cmd->add_option("--tags", a.tags);
      cmd->add_option("--os", a.os);
      cmd->add_option("--remediation-level", a.remediation);
      cmd->callback([&what, &verb, s, v] {
        what = s.what;
        verb = v;
      });
    }
  }

  auto* package = admin->add_subcommand("onboarding-package", "Write a Linux onboarding package (installer script)");
  add_common(package);
  package->add_option("--server-url", a.server_url, "URL sensors use to reach the server")->required();
  package->add_option("--out", a.out, "File to write")->required();
  package->add_option("--tls-cert", a.cert, "Server certificate to pin (default <data-dir>/tls/server.crt for https)");
  package->callback([&what, &verb] {
    what = "onboarding-package";
    verb = "create";
  });

  std::string migrate_to;
  auto* migrate = admin->add_subcommand("migrate", "Copy this data directory's state and events into the backends a configuration names");
  add_common(migrate);
  migrate->add_option("--to", migrate_to, "Configuration file naming the target backends (state: postgres://..., events: clickhouse://...)")
      ->required();

  ward::server::HuntArgs hunt;
  auto* hunt_cmd = app.add_subcommand("hunt", "Run an advanced hunting (KQL) query and print the result");
  hunt_cmd->add_option("query", hunt.query, "The KQL query")->required();
  hunt_cmd->add_option("--data-dir", hunt.data_dir, "Query this data directory (read-only; works while a server runs)");
  hunt_cmd->add_option("--server", hunt.server_url, "Query a server's API instead, e.g. https://ward.example:8443");
  hunt_cmd->add_option("--tenant", hunt.tenant, "Tenant id (or name, with --data-dir)");
  hunt_cmd->add_option("--client-id", hunt.client_id, "App client id (with --server)");
  hunt_cmd->add_option("--client-secret", hunt.client_secret, "App client secret (with --server)");
  hunt_cmd->add_option("--ca", hunt.ca_file, "CA certificate to trust (with --server)");
  hunt_cmd->add_option("--format", hunt.format, "table, json or csv");

  CLI11_PARSE(app, argc, argv);
  if (hunt_cmd->parsed()) return ward::server::RunHunt(hunt);
  if (init->parsed()) return Init(data_dir, init_config, tenant_name, public_url, as_json);
  if (srv->parsed()) {
    ward::Status st = ward::server::Serve(serve);
    return st.ok() ? 0 : Fail(st);
  }
  if (migrate->parsed()) return RunMigrate(a, migrate_to);
  if (admin->parsed()) return RunAdmin(what, verb, a);
  return 2;
}
