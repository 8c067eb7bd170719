#include "sensor/action_channel.h"

#include <netdb.h>
#include <sys/socket.h>

#include <fstream>

#include "common/log.h"
#include "http/client.h"
#include "sensor/uploader.h"

namespace ward::sensor {

namespace {

http::Client MakeClient(const Identity& id, std::chrono::seconds timeout) {
  http::ClientOptions o = ClientOptionsFor(id.server_cert_sha256);
  o.request_timeout = timeout;
  return http::Client(o);
}

// What the executor reports back about one run, and the progress/cancel link to the server.
class ChannelContext : public ActionContext {
 public:
  ChannelContext(std::function<std::string(const json::Value&)> report, std::string work_dir,
                 std::chrono::milliseconds interval)
      : report_(std::move(report)), work_dir_(std::move(work_dir)), interval_(interval) {}
  bool cancelled() const override {
    Check(json::Value::Object());
    return cancelled_;
  }
  void Progress(const json::Value& progress) override { Check(progress); }
  std::string WorkDir() const override { return work_dir_; }

 private:
  // Reports progress at most every `interval`; the reply says whether the action was cancelled.
  void Check(const json::Value& progress) const {
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) return;
    last_ = now;
    const std::string status = report_(progress);
    if (status == "Cancelled" || status == "TimeOut") cancelled_ = true;
  }

  std::function<std::string(const json::Value&)> report_;
  std::string work_dir_;
  std::chrono::milliseconds interval_;
  mutable std::chrono::steady_clock::time_point last_{};
  mutable bool cancelled_ = false;
};

}  // namespace

std::vector<std::string> ServerAddresses(const std::string& server_url) {
  std::vector<std::string> out;
  auto url = http::ParseUrl(server_url);
  if (!url) return out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(url->host.c_str(), url->port.c_str(), &hints, &res) != 0) return out;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char text[NI_MAXHOST] = {};
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof(text), nullptr, 0, NI_NUMERICHOST) == 0) {
      if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
    }
  }
  ::freeaddrinfo(res);
  return out;
}

ActionChannel::ActionChannel(std::function<std::optional<Identity>()> identity, ActionExecutor* executor,
                             ActionChannelOptions options)
    : identity_(std::move(identity)), executor_(executor), options_(std::move(options)) {}

ActionChannel::~ActionChannel() { Stop(); }

void ActionChannel::Start() {
  stopper_.Reset();
  thread_ = std::thread([this] {
    SetThreadName("ward-actions");
    Loop();
  });
}

void ActionChannel::Stop() {
  stopper_.Stop();
  if (thread_.joinable()) thread_.join();
}

Result<std::string> ActionChannel::Report(const Identity& id, const std::string& action_id, const json::Value& body) {
  http::Client client = MakeClient(id, std::chrono::seconds(30));
  http::ClientRequest req;
  req.method = "POST";
  req.url = id.Url("/sensor/v1/actions/" + action_id + "/status");
  req.headers.Add("Authorization", id.AuthorizationHeader());
  req.headers.Add("Content-Type", "application/json");
  req.body = body.Serialize();
  auto res = client.Send(req);
  if (!res) return Err(res.error());
  if (res->status != 200) return Err(StatusFromResponse(*res, "action status"));
  auto reply = json::Value::Parse(res->body);
  if (!reply) return Err(InvalidArgument("action status: the reply is not JSON"));
  return reply->GetString("status").value_or("");
}

Result<std::string> ActionChannel::FetchLibraryFile(const std::string& file_name, const std::string& dest_dir) {
  auto id = identity_();
  if (!id) return Err(Unavailable("not enrolled"));
  http::Client client = MakeClient(*id, std::chrono::seconds(120));
  http::ClientRequest req;
  req.url = id->Url("/sensor/v1/library/" + file_name);
  req.headers.Add("Authorization", id->AuthorizationHeader());
  auto res = client.Send(req);
  if (!res) return Err(res.error());
  if (res->status != 200) return Err(StatusFromResponse(*res, "library file"));
  WARD_RETURN_IF_ERROR(MakeDirs(dest_dir, 0700));
  std::string path = JoinPath(dest_dir, BaseName(file_name));
  WARD_RETURN_IF_ERROR(WriteFileAtomic(path, res->body, 0700));
  return path;
}

void ActionChannel::Loop() {
  int failures = 0;
  std::mt19937_64 rng(std::random_device{}());
  while (!stopper_.stopped()) {
    auto id = identity_();
    if (!id) {
      if (!stopper_.SleepFor(std::chrono::seconds(1))) return;
      continue;
    }
    http::Client client = MakeClient(*id, options_.long_poll + std::chrono::seconds(15));
    http::ClientRequest req;
    req.url = id->Url("/sensor/v1/actions?wait=" + std::to_string(options_.long_poll.count()));
    req.headers.Add("Authorization", id->AuthorizationHeader());
    auto res = client.Send(req);
    std::optional<json::Value> body;
    if (res && res->status == 200) {
      if (auto parsed = json::Value::Parse(res->body); parsed && parsed->is_object()) body = std::move(*parsed);
    }
    if (!body) {
      // Old servers have no actions route (404): poll rarely; otherwise back off as the uploader does.
      auto wait = res && res->status == 404 ? std::chrono::milliseconds(60'000)
                                            : RetryBackoff(failures++, options_.retry, std::chrono::milliseconds(60'000), rng);
      if (!stopper_.SleepFor(wait)) return;
      continue;
    }
    failures = 0;
    if (auto v = body->GetString("policyVersion"); v && options_.on_policy_version) options_.on_policy_version(*v);
    const json::Value* list = body->Find("actions");
    bool ran = false;
    for (const json::Value& a : list && list->is_array() ? list->items() : std::vector<json::Value>{}) {
      if (stopper_.stopped()) return;
      ActionRequest r;
      r.id = a.GetString("id").value_or("");
      r.type = a.GetString("type").value_or("");
      r.scope = a.GetString("scope").value_or("");
      if (r.id.empty() || finished_.count(r.id)) continue;
      if (const json::Value* p = a.Find("params"); p && p->is_object()) r.params = *p;
      if (const json::Value* c = a.Find("commands"); c && c->is_array()) r.params.Set("Commands", *c);
      if (r.type == "Isolate") {  // the one action that needs them; resolved when it runs
        json::Value servers = json::Value::Array();
        for (const auto& ip : ServerAddresses(id->server_url)) servers.Append(json::Value(ip));
        r.params.Set("ServerAddresses", std::move(servers));
      }
      Run(*id, r);
      ran = true;
    }
    // A poll that answered at once with nothing (the server's long polls were all taken) waits a little.
    if (!ran && (!list || list->items().empty()) && !stopper_.SleepFor(std::chrono::milliseconds(200))) return;
  }
}

void ActionChannel::Run(const Identity& id, const ActionRequest& request) {
  log::Info("machine action received", {{"id", request.id}, {"type", request.type}, {"scope", request.scope}});
  json::Value progress = json::Value::Object();
  progress.Set("status", "InProgress");
  auto first = Report(id, request.id, progress);
  if (!first) {
    log::Warn("cannot acknowledge machine action", {{"id", request.id}, {"error", first.error().message()}});
    return;  // the next poll lists it again
  }
  if (*first != "InProgress") {
    finished_.insert(request.id);  // cancelled before it started
    return;
  }
  const std::string work_dir = JoinPath(options_.work_dir, request.id);
  (void)MakeDirs(work_dir, 0700);
  ChannelContext context(
      [&](const json::Value& p) {
        json::Value body = json::Value::Object();
        body.Set("status", "InProgress");
        if (p.is_object() && !p.members().empty()) body.Set("details", p);
        auto status = Report(id, request.id, body);
        return status ? *status : std::string("InProgress");
      },
      work_dir, options_.progress_interval);
  ActionOutcome outcome = executor_->Execute(request, context);

  // Files first, so that a Succeeded action's package or outputs are there when it is seen.
  for (const ActionFile& f : outcome.files) {
    auto bytes = ReadFile(f.path, 1ull << 31);
    if (!bytes) {
      outcome.status = Internal("cannot read " + f.path);
      continue;
    }
    http::Client client = MakeClient(id, std::chrono::seconds(300));
    http::ClientRequest put;
    put.method = "PUT";
    put.url = id.Url("/sensor/v1/actions/" + request.id + "/files/" + std::to_string(f.index));
    put.headers.Add("Authorization", id.AuthorizationHeader());
    put.headers.Add("Content-Type", f.content_type.empty() ? "application/octet-stream" : f.content_type);
    put.body = std::move(*bytes);
    Status sent = Status::Ok();
    for (int attempt = 0; attempt < 5 && !stopper_.stopped(); ++attempt) {
      auto res = client.Send(put);
      if (res && res->status == 204) {
        sent = Status::Ok();
        break;
      }
      sent = res ? StatusFromResponse(*res, "action file") : res.error();
      if (res && res->status >= 400 && res->status < 500 && res->status != 408 && res->status != 429) break;
      stopper_.SleepFor(options_.retry * (attempt + 1));
    }
    if (!sent.ok()) outcome.status = Unavailable("upload of " + BaseName(f.path) + " failed: " + sent.message());
    if (f.temporary) ::unlink(f.path.c_str());
  }

  json::Value final_report = json::Value::Object();
  final_report.Set("status", outcome.status.ok() ? "Succeeded" : "Failed");
  if (!outcome.status.ok()) final_report.Set("failureReason", outcome.status.message());
  if (const json::Value* commands = outcome.details.Find("commands"); commands && commands->is_array()) {
    final_report.Set("commands", *commands);
  }
  final_report.Set("details", outcome.details);
  for (int attempt = 0; !stopper_.stopped() || attempt == 0; ++attempt) {
    auto status = Report(id, request.id, final_report);
    if (status) break;
    log::Warn("cannot report machine action", {{"id", request.id}, {"error", status.error().message()}});
    if (!stopper_.SleepFor(std::min(options_.retry * (attempt + 1), std::chrono::milliseconds(30'000)))) break;
  }
  finished_.insert(request.id);
  ++completed_;
  if (request.type == "Offboard" && outcome.status.ok() && options_.on_offboarded) options_.on_offboarded();
  log::Info("machine action done", {{"id", request.id}, {"type", request.type},
                                    {"status", outcome.status.ok() ? "Succeeded" : "Failed"},
                                    {"error", outcome.status.message()}});
}

}  // namespace ward::sensor
