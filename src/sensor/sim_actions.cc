#include "sensor/sim_actions.h"

#include <zlib.h>

#include <cstring>
#include <set>
#include <random>

#include "common/log.h"
#include "common/time.h"
#include "http/client.h"
#include "json/json.h"

namespace ward::sensor {

namespace {

std::string Gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: gzip header
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// One scheduled completion of an action already reported InProgress.
struct Due {
  std::chrono::steady_clock::time_point at;
  size_t device;
  json::Value action;
};

}  // namespace

std::string TarGzOneFile(const std::string& name, const std::string& content) {
  char header[512] = {};
  std::snprintf(header, 100, "%s", name.c_str());
  std::snprintf(header + 100, 8, "%07o", 0644);
  std::snprintf(header + 108, 8, "%07o", 0);
  std::snprintf(header + 116, 8, "%07o", 0);
  std::snprintf(header + 124, 12, "%011llo", static_cast<unsigned long long>(content.size()));
  std::snprintf(header + 136, 12, "%011llo", static_cast<unsigned long long>(NowMs() / 1000));
  std::memset(header + 148, ' ', 8);
  header[156] = '0';
  std::memcpy(header + 257, "ustar", 6);
  std::memcpy(header + 263, "00", 2);
  unsigned sum = 0;
  for (char c : header) sum += static_cast<unsigned char>(c);
  std::snprintf(header + 148, 8, "%06o", sum);
  std::string tar(header, sizeof(header));
  tar += content;
  tar.append((512 - content.size() % 512) % 512, '\0');
  tar.append(1024, '\0');
  return Gzip(tar);
}

SimActionResponder::SimActionResponder(const std::vector<std::optional<Identity>>* ids, SimActionOptions options,
                                       uint64_t seed)
    : ids_(ids), options_(options), seed_(seed) {
  std::mt19937_64 rng(seed ^ 0x5eed);
  std::bernoulli_distribution offline(options_.offline_fraction);
  for (size_t i = 0; i < ids_->size(); ++i) offline_.push_back(offline(rng));
}

SimActionResponder::~SimActionResponder() { Stop(); }

void SimActionResponder::Start() {
  stopper_.Reset();
  const int n = std::max(1, std::min<int>(options_.threads, static_cast<int>(ids_->size())));
  stride_ = static_cast<size_t>(n);
  for (int t = 0; t < n; ++t) threads_.emplace_back([this, t] { Worker(t); });
}

void SimActionResponder::Stop() {
  stopper_.Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

SimActionStats SimActionResponder::stats() const { return {received_.load(), succeeded_.load(), failed_.load()}; }

void SimActionResponder::Worker(int index) {
  std::vector<size_t> mine;
  for (size_t i = static_cast<size_t>(index); i < ids_->size(); i += stride_) {
    if ((*ids_)[i] && !offline_[i]) mine.push_back(i);
  }
  if (mine.empty()) return;
  std::mt19937_64 rng(seed_ + static_cast<uint64_t>(index) * 7919);
  std::uniform_int_distribution<int64_t> delay(options_.min_delay.count(), std::max(options_.min_delay.count(), options_.max_delay.count()));
  std::bernoulli_distribution fails(options_.failure_fraction);
  http::Client client(ClientOptionsFor((*ids_)[mine[0]]->server_cert_sha256));
  std::vector<Due> due;
  std::set<std::string> seen;  // action ids already taken

  auto send = [&](const Identity& id, std::string method, const std::string& path, std::string body, const char* type) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = id.Url(path);
    req.headers.Add("Authorization", id.AuthorizationHeader());
    req.headers.Add("Content-Type", type);
    req.body = std::move(body);
    return client.Send(req);
  };
  auto report = [&](const Identity& id, const std::string& action, const json::Value& body) {
    auto res = send(id, "POST", "/sensor/v1/actions/" + action + "/status", body.Serialize(), "application/json");
    return res && res->status == 200;
  };
  auto complete = [&](const Due& d) {
    const Identity& id = *(*ids_)[d.device];
    const std::string action = d.action.GetString("id").value_or("");
    const std::string type = d.action.GetString("type").value_or("");
    const bool failed = fails(rng);
    json::Value body = json::Value::Object();
    json::Value details = json::Value::Object();
    details.Set("simulated", true);
    if (!failed && type == "CollectInvestigationPackage") {
      std::string manifest = R"({"parts":["Processes","Network connections","Users","Autoruns","Installed programs","Logs","Sensor"],"simulated":true})";
      send(id, "PUT", "/sensor/v1/actions/" + action + "/files/0", TarGzOneFile("manifest.json", manifest), "application/gzip");
    }
    if (type == "LiveResponse") {
      json::Value commands = json::Value::Array();
      if (const json::Value* c = d.action.Find("commands"); c && c->is_array()) {
        bool abort = false;
        for (json::Value cmd : c->items()) {
          const int64_t i = cmd.GetInt("index").value_or(0);
          const json::Value* inner = cmd.Find("command");
          const std::string t = inner ? inner->GetString("type").value_or("") : "";
          cmd.Set("startTime", json::Value(FormatIsoMs(NowMs())));
          if (abort || failed) {
            cmd.Set("commandStatus", "Failed");
            cmd.Set("errors", json::Value::Array().Append(json::Value(abort ? "not run: an earlier command failed" : "simulated failure")));
            abort = true;
          } else {
            cmd.Set("commandStatus", "Completed");
            std::string out = t == "RunScript"
                                  ? R"({"script_name":"simulated.sh","exit_code":0,"script_output":"ok\n","script_errors":""})"
                                  : std::string("simulated file content\n");
            send(id, "PUT", "/sensor/v1/actions/" + action + "/files/" + std::to_string(i), out, "application/octet-stream");
          }
          cmd.Set("endTime", json::Value(FormatIsoMs(NowMs())));
          commands.Append(std::move(cmd));
        }
      }
      body.Set("commands", std::move(commands));
    }
    body.Set("status", failed ? "Failed" : "Succeeded");
    if (failed) body.Set("failureReason", "simulated failure");
    body.Set("details", std::move(details));
    if (report(id, action, body)) ++(failed ? failed_ : succeeded_);
  };

  while (!stopper_.stopped()) {
    for (size_t device : mine) {
      if (stopper_.stopped()) return;
      const Identity& id = *(*ids_)[device];
      auto res = send(id, "GET", "/sensor/v1/actions?wait=0", "", "application/json");
      if (res && res->status == 200) {
        if (auto body = json::Value::Parse(res->body); body && body->is_object()) {
          if (const json::Value* list = body->Find("actions"); list && list->is_array()) {
            for (const json::Value& a : list->items()) {
              std::string aid = a.GetString("id").value_or("");
              if (aid.empty() || seen.count(aid)) continue;
              seen.insert(aid);
              ++received_;
              json::Value progress = json::Value::Object();
              progress.Set("status", "InProgress");
              report(id, aid, progress);
              due.push_back({std::chrono::steady_clock::now() + std::chrono::milliseconds(delay(rng)), device, a});
            }
          }
        }
      }
      // Complete what is due between polls, so long sweeps do not delay outcomes.
      auto now = std::chrono::steady_clock::now();
      for (size_t i = 0; i < due.size();) {
        if (due[i].at <= now) {
          complete(due[i]);
          due[i] = std::move(due.back());
          due.pop_back();
        } else {
          ++i;
        }
      }
    }
    if (!stopper_.SleepFor(std::chrono::milliseconds(mine.size() > 100 ? 10 : 250))) return;
  }
}

}  // namespace ward::sensor
