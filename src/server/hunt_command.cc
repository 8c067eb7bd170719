#include "server/hunt_command.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "api/hunting.h"
#include "common/markup.h"
#include "common/time.h"
#include "http/client.h"
#include "json/json.h"
#include "kql/engine.h"
#include "server/event_snapshot.h"
#include "state/sqlite_state_store.h"

namespace ward::server {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "ward hunt: %s\n", message.c_str());
  return 1;
}

std::string CellText(const json::Value& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.as_string();
  return v.Serialize();
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Prints {"Schema","Results"} as the chosen format.
int Print(const std::string& body, const std::string& format) {
  if (format == "json") {
    std::printf("%s\n", body.c_str());
    return 0;
  }
  auto doc = json::Value::Parse(body);
  if (!doc || !doc->Find("Schema") || !doc->Find("Results")) return Fail("unexpected response: " + body.substr(0, 200));
  std::vector<std::string> names;
  for (const json::Value& c : doc->Find("Schema")->items()) names.push_back(c.GetString("Name").value_or(""));
  std::vector<std::vector<std::string>> rows;
  for (const json::Value& r : doc->Find("Results")->items()) {
    std::vector<std::string> cells;
    for (const std::string& n : names) cells.push_back(r.Find(n) ? CellText(*r.Find(n)) : "");
    rows.push_back(std::move(cells));
  }
  if (format == "csv") {
    for (size_t i = 0; i < names.size(); ++i) std::printf("%s%s", i ? "," : "", CsvField(names[i]).c_str());
    std::printf("\n");
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size(); ++i) std::printf("%s%s", i ? "," : "", CsvField(r[i]).c_str());
      std::printf("\n");
    }
    return 0;
  }
  // Table: columns as wide as their widest cell, capped so one long command line stays readable.
  constexpr size_t kMaxWidth = 60;
  std::vector<size_t> width(names.size());
  for (size_t i = 0; i < names.size(); ++i) width[i] = std::min(kMaxWidth, names[i].size());
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::min(kMaxWidth, std::max(width[i], r[i].size()));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string c = cells[i];
      for (char& ch : c) if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
      if (c.size() > width[i]) c = c.substr(0, width[i] - 1) + "~";
      out += (i ? " | " : "") + c + std::string(width[i] - c.size(), ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  line(names);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& r : rows) line(r);
  std::printf("(%zu rows)\n", rows.size());
  return 0;
}

int RunLocal(const HuntArgs& a) {
  auto store = state::SqliteStateStore::Open(a.data_dir + "/state.db");
  if (!store) return Fail(store.error().message());
  auto tenants = (*store)->ListTenants();
  if (!tenants) return Fail(tenants.error().message());
  std::string tenant;
  for (const state::Tenant& t : *tenants) {
    if (a.tenant.empty() ? tenants->size() == 1 : (t.id == a.tenant || t.name == a.tenant)) tenant = t.id;
  }
  if (tenant.empty()) return Fail(a.tenant.empty() ? "several tenants: name one with --tenant" : "no tenant " + a.tenant);
  auto events = OpenEventSnapshot(a.data_dir);
  if (!events) return Fail(events.error().message());
  kql::QueryOptions options;
  options.tenant_id = tenant;
  kql::QueryError where;
  auto result = kql::RunQuery(a.query, options, **events, events::SchemaRegistry::Hunting(), &where);
  if (!result) return Fail(result.error().message());
  return Print(api::HuntingResultJson(*result, false), a.format);
}

int RunRemote(const HuntArgs& a) {
  if (a.tenant.empty() || a.client_id.empty() || a.client_secret.empty()) {
    std::fprintf(stderr, "ward hunt: --server needs --tenant, --client-id and --client-secret\n");
    return 2;
  }
  http::ClientOptions co;
  co.ca_file = a.ca_file;
  co.request_timeout = std::chrono::seconds(210);  // a query may run for 200 s
  http::Client client(co);
  std::string base = a.server_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  http::ClientRequest token;
  token.method = "POST";
  token.url = base + "/" + a.tenant + "/oauth2/token";
  token.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  token.body = "grant_type=client_credentials&resource=" + PercentEncode("https://api.securitycenter.microsoft.com") +
               "&client_id=" + PercentEncode(a.client_id) + "&client_secret=" + PercentEncode(a.client_secret);
  auto tr = client.Send(token);
  if (!tr) return Fail(tr.error().message());
  auto tj = json::Value::Parse(tr->body);
  auto access = tj ? tj->GetString("access_token") : std::nullopt;
  if (tr->status != 200 || !access) return Fail("token request failed: HTTP " + std::to_string(tr->status) + " " + tr->body);
  http::ClientRequest run;
  run.method = "POST";
  run.url = base + "/api/advancedqueries/run";
  run.headers.Set("Authorization", "Bearer " + *access);
  run.headers.Set("Content-Type", "application/json");
  json::Writer w;
  w.StartObject().KV("Query", a.query).EndObject();
  run.body = w.Take();
  auto rr = client.Send(run);
  if (!rr) return Fail(rr.error().message());
  if (rr->status != 200) return Fail("HTTP " + std::to_string(rr->status) + ": " + rr->body);
  return Print(rr->body, a.format);
}

}  // namespace

int RunHunt(const HuntArgs& a) {
  if (a.format != "table" && a.format != "json" && a.format != "csv") {
    std::fprintf(stderr, "ward hunt: --format must be table, json or csv\n");
    return 2;
  }
  if (a.data_dir.empty() == a.server_url.empty()) {
    std::fprintf(stderr, "ward hunt: give either --data-dir or --server\n");
    return 2;
  }
  return a.server_url.empty() ? RunLocal(a) : RunRemote(a);
}

}  // namespace ward::server
