#include "stream/blob_sink.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/markup.h"
#include "common/strings.h"
#include "stream/stream_record.h"

namespace ward::stream {

namespace {
constexpr std::string_view kApiVersion = "2021-08-06";
constexpr size_t kMaxBlockBytes = 4 * 1024 * 1024;  // Append Block's limit
// Azurite's well-known development account (UseDevelopmentStorage=true).
constexpr std::string_view kDevAccount = "devstoreaccount1";
constexpr std::string_view kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr std::string_view kDevEndpoint = "http://127.0.0.1:10000/devstoreaccount1";
// Bounds the walk over full siblings and stale-cache recoveries for one block.
constexpr int kMaxAppendAttempts = 64;
// Cached container/blob knowledge is only an optimisation; past this it is dropped.
constexpr size_t kMaxCachedBlobs = 4096;

struct BlobSettings {
  BlobAccount account;
  int64_t flush_interval_ms = 1000;
  std::string ca_file;
  int64_t timeout_ms = 30000;
};

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Validates an endpoint URL and returns it without a trailing '/' (request paths are appended).
Result<std::string> NormalizeEndpoint(std::string_view url, const std::string& what) {
  auto parsed = http::ParseUrl(url);
  if (!parsed) return Err(InvalidArgument(what + " must be an http or https URL"));
  if (parsed->target.find('?') != std::string::npos) return Err(InvalidArgument(what + " must not have a query"));
  std::string out(url);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

Result<BlobSettings> Parse(const json::Value& v) {
  SettingsReader r(v);
  BlobSettings s;
  WARD_ASSIGN_OR_RETURN(std::string connection_string, r.String("connectionString", false));
  WARD_ASSIGN_OR_RETURN(std::string sas_url, r.String("sasUrl", false));
  if (connection_string.empty() == sas_url.empty()) {
    return Err(InvalidArgument(connection_string.empty() ? "connectionString or sasUrl is required"
                                                         : "connectionString and sasUrl exclude each other: give one"));
  }
  if (!connection_string.empty()) {
    WARD_ASSIGN_OR_RETURN(s.account, ParseConnectionString(connection_string));
  } else {
    WARD_ASSIGN_OR_RETURN(s.account, ParseSasUrl(sas_url));
  }
  WARD_ASSIGN_OR_RETURN(s.flush_interval_ms, r.Int("flushIntervalMs", 1000, 0, 3'600'000));
  WARD_ASSIGN_OR_RETURN(s.ca_file, r.String("caFile", false));
  WARD_ASSIGN_OR_RETURN(s.timeout_ms, r.Int("timeoutMs", 30000, 100, 600'000));
  return s;
}

// Percent-encodes a blob path for the request line segment by segment, as the Azure SDKs do
// ("tenantId%3D<tid>/y%3D2024/..."); the service and the signature both see the encoded form.
std::string EncodePath(std::string_view path) {
  std::string out;
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    out += PercentEncode(path.substr(start, slash - start));
    if (slash == std::string_view::npos) return out;
    out += '/';
    start = slash + 1;
  }
}

// Query names and values are signed decoded; '+' stays '+', as the Azure SDKs sign it.
std::string QueryDecode(std::string_view s) { return http::PercentDecode(s, false).value_or(std::string(s)); }

// "Sun, 11 Oct 2009 21:49:13 GMT" without depending on the process locale.
std::string HttpDate(std::chrono::system_clock::time_point now) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// The value between <Tag> and </Tag> in Azure's XML error body ("" when absent).
std::string XmlElement(std::string_view body, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  size_t b = body.find(open);
  if (b == std::string_view::npos) return "";
  b += open.size();
  size_t e = body.find("</" + std::string(tag) + ">", b);
  if (e == std::string_view::npos) return "";
  return std::string(body.substr(b, e - b));
}

std::string ErrorCodeOf(const http::ClientResponse& r) {
  std::string code(r.headers.Get("x-ms-error-code"));
  return code.empty() ? XmlElement(r.body, "Code") : code;
}

// "Azure Blob 403 AuthenticationFailed: Server failed to authenticate the request. (PUT c/b)". The
// request is named by container and blob only: the URL may carry a SAS.
Status ServiceError(const http::ClientResponse& r, std::string_view what) {
  std::string message = XmlElement(r.body, "Message");
  message = Trim(message.substr(0, message.find('\n')));  // drops Azure's RequestId/Time lines
  std::string code = ErrorCodeOf(r);
  std::string text = "Azure Blob " + std::to_string(r.status) + (code.empty() ? "" : " " + code) +
                     (message.empty() ? "" : ": " + message) + " (" + std::string(what) + ")";
  if (r.status == 401) return Unauthenticated(std::move(text));
  if (r.status == 403) return PermissionDenied(std::move(text));
  return Unavailable(std::move(text));
}

// The sibling blobs of an hour: PT1H.json, PT1H-1.json, PT1H-2.json, ...
std::string SiblingPath(const std::string& hour_path, int sibling) {
  if (sibling == 0) return hour_path;
  constexpr std::string_view kExt = ".json";
  return hour_path.substr(0, hour_path.size() - kExt.size()) + "-" + std::to_string(sibling) + std::string(kExt);
}

bool ValidContainerName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || (c == '-' && name[i - 1] == '-')) return false;
  }
  return true;
}

class BlobSink final : public Sink {
 public:
  explicit BlobSink(BlobSettings settings) : settings_(std::move(settings)), client_(ClientOptionsOf(settings_)) {}

  std::chrono::milliseconds min_interval() const override {
    return std::chrono::milliseconds(settings_.flush_interval_ms);
  }

  Status Deliver(std::span<const StreamRecord> records, std::vector<Rejection>* rejected) override {
    // Groups in order of first appearance, records in batch order within a group.
    std::map<std::pair<std::string, std::string>, size_t> index;
    struct Group {
      std::string container, hour_path;
      std::vector<std::string> blocks;
    };
    std::vector<Group> groups;
    for (size_t i = 0; i < records.size(); ++i) {
      const StreamRecord& r = records[i];
      size_t line_bytes = r.json.size() + 1;
      std::string container = ContainerOf(r.table_name);
      if (line_bytes > kMaxBlockBytes) {
        rejected->push_back({i, "record of " + std::to_string(line_bytes) + " bytes exceeds Azure's append block limit of " +
                                    std::to_string(kMaxBlockBytes) + " bytes"});
        continue;
      }
      if (!ValidContainerName(container)) {
        rejected->push_back({i, "'" + container + "' is not a valid blob container name"});
        continue;
      }
      auto key = std::make_pair(std::move(container), BlobPathOf(r.tenant_id, r.time_ticks));
      auto [it, fresh] = index.try_emplace(key, groups.size());
      if (fresh) groups.push_back({key.first, key.second, {}});
      std::vector<std::string>& blocks = groups[it->second].blocks;
      if (blocks.empty() || blocks.back().size() + line_bytes > kMaxBlockBytes) blocks.emplace_back();
      blocks.back() += r.json;
      blocks.back() += '\n';
    }
    for (const Group& g : groups) {
      for (const std::string& block : g.blocks) WARD_RETURN_IF_ERROR(AppendBlock(g.container, g.hour_path, block));
    }
    return Status::Ok();
  }

 private:
  static http::ClientOptions ClientOptionsOf(const BlobSettings& s) {
    http::ClientOptions o;
    o.connect_timeout = o.request_timeout = std::chrono::milliseconds(s.timeout_ms);
    o.ca_file = s.ca_file;
    o.max_response_bytes = 1 << 20;  // only error bodies and empty 201s come back
    o.user_agent = "ward-stream-blob";
    return o;
  }

  // Sends one authorized PUT for <container>[/<blob>]?<query>.
  Result<http::ClientResponse> Call(const std::string& container, const std::string& blob, std::string_view query,
                                    http::Headers headers, std::string body) {
    http::ClientRequest req;
    req.method = "PUT";
    req.url = BlobUrl(settings_.account, container, blob, query);
    req.headers = std::move(headers);
    req.body = std::move(body);
    WARD_RETURN_IF_ERROR(AuthorizeRequest(settings_.account, std::chrono::system_clock::now(), &req));
    auto resp = client_.Send(req);
    if (!resp) {
      // Named by container and blob only: the URL may carry a SAS.
      std::string what = container + (blob.empty() ? "" : "/" + blob);
      return Err(Status(resp.error().code(), "Azure Blob PUT " + what + ": " + resp.error().message()));
    }
    return resp;
  }

  Status EnsureContainer(const std::string& container) {
    if (containers_.count(container)) return Status::Ok();
    WARD_ASSIGN_OR_RETURN(http::ClientResponse r, Call(container, "", "restype=container", {}, ""));
    if (r.status != 201 && !(r.status == 409 && ErrorCodeOf(r) == "ContainerAlreadyExists")) {
      return ServiceError(r, "creating container " + container);
    }
    containers_.insert(container);
    return Status::Ok();
  }

  Status EnsureBlob(const std::string& container, const std::string& blob) {
    std::string key = container + "/" + blob;
    if (blobs_.count(key)) return Status::Ok();
    http::Headers h;
    h.Set("x-ms-blob-type", "AppendBlob");
    h.Set("If-None-Match", "*");  // never truncate a blob that exists
    WARD_ASSIGN_OR_RETURN(http::ClientResponse r, Call(container, blob, "", std::move(h), ""));
    bool exists = (r.status == 409 && ErrorCodeOf(r) == "BlobAlreadyExists") || r.status == 412;
    if (r.status != 201 && !exists) return ServiceError(r, "creating append blob " + key);
    if (blobs_.size() >= kMaxCachedBlobs) blobs_.clear();
    blobs_.insert(std::move(key));
    return Status::Ok();
  }

  // Appends one block to the hour's current sibling, moving on to the next sibling when it is full.
  Status AppendBlock(const std::string& container, const std::string& hour_path, const std::string& block) {
    std::string hour_key = container + "/" + hour_path;
    for (int attempt = 0; attempt < kMaxAppendAttempts; ++attempt) {
      int& sibling = siblings_[hour_key];
      std::string blob = SiblingPath(hour_path, sibling);
      WARD_RETURN_IF_ERROR(EnsureContainer(container));
      WARD_RETURN_IF_ERROR(EnsureBlob(container, blob));
      WARD_ASSIGN_OR_RETURN(http::ClientResponse r, Call(container, blob, "comp=appendblock", {}, block));
      if (r.status == 201) return Status::Ok();
      std::string code = ErrorCodeOf(r);
      if (r.status == 409 && (code == "BlockCountExceedsLimit" || code == "BlobIsSealed")) {
        ++sibling;
      } else if (r.status == 404 && code == "ContainerNotFound") {  // deleted behind our back: recreate
        containers_.erase(container);
        blobs_.clear();
      } else if (r.status == 404 && code == "BlobNotFound") {
        blobs_.erase(container + "/" + blob);
      } else {
        return ServiceError(r, "appending to " + container + "/" + blob);
      }
    }
    return Unavailable("Azure Blob: gave up appending to " + hour_key + " after " + std::to_string(kMaxAppendAttempts) +
                       " attempts (full or vanishing blobs)");
  }

  BlobSettings settings_;
  http::Client client_;
  std::set<std::string> containers_;   // known to exist
  std::set<std::string> blobs_;        // "<container>/<blob>" known to exist
  std::map<std::string, int> siblings_;  // "<container>/<hour path>" -> current sibling
};

Status Validate(const json::Value& v) {
  auto parsed = Parse(v);
  return parsed ? Status::Ok() : parsed.error();
}

Result<std::unique_ptr<Sink>> Make(const json::Value& v, const SinkContext&) {
  WARD_ASSIGN_OR_RETURN(BlobSettings s, Parse(v));
  return std::unique_ptr<Sink>(std::make_unique<BlobSink>(std::move(s)));
}
}  // namespace

Result<BlobAccount> ParseConnectionString(std::string_view text) {
  std::map<std::string, std::string> kv;  // lower-cased key -> value
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    start = end + 1;
    if (Trim(part).empty()) continue;  // "a=b;" and stray ';' are fine
    size_t eq = part.find('=');
    // Never echo the part itself: it may be the key.
    if (eq == std::string_view::npos || Trim(part.substr(0, eq)).empty()) {
      return Err(InvalidArgument("connectionString is malformed: expected Key=Value pairs separated by ';'"));
    }
    std::string key = AsciiLower(Trim(part.substr(0, eq)));
    if (!kv.emplace(key, Trim(part.substr(eq + 1))).second) {
      return Err(InvalidArgument("connectionString has " + Trim(part.substr(0, eq)) + " twice"));
    }
  }
  auto get = [&](const char* key) -> std::string {
    auto it = kv.find(key);
    return it == kv.end() ? "" : it->second;
  };
  BlobAccount a;
  if (!get("usedevelopmentstorage").empty()) {
    if (!EqualsIgnoreCase(get("usedevelopmentstorage"), "true")) {
      return Err(InvalidArgument("connectionString UseDevelopmentStorage must be true"));
    }
    a.account_name = kDevAccount;
    a.key = *Base64Decode(kDevKey);
    a.endpoint = kDevEndpoint;
    return a;
  }
  a.account_name = get("accountname");
  std::string key = get("accountkey");
  std::string sas = get("sharedaccesssignature");
  if (key.empty() && sas.empty()) return Err(InvalidArgument("connectionString has no AccountKey or SharedAccessSignature"));
  if (!key.empty() && !sas.empty()) {
    return Err(InvalidArgument("connectionString has both AccountKey and SharedAccessSignature: give one"));
  }
  if (!key.empty()) {
    if (a.account_name.empty()) return Err(InvalidArgument("connectionString has no AccountName"));
    auto decoded = Base64Decode(key);
    if (!decoded || decoded->empty()) return Err(InvalidArgument("connectionString AccountKey is not base64"));
    a.key = std::move(*decoded);
  } else {
    if (!sas.empty() && sas.front() == '?') sas.erase(0, 1);
    if (sas.find("sig=") == std::string::npos) {
      return Err(InvalidArgument("connectionString SharedAccessSignature has no sig (not a SAS token)"));
    }
    a.sas = std::move(sas);
  }
  if (std::string endpoint = get("blobendpoint"); !endpoint.empty()) {
    WARD_ASSIGN_OR_RETURN(a.endpoint, NormalizeEndpoint(endpoint, "connectionString BlobEndpoint"));
    return a;
  }
  if (a.account_name.empty()) return Err(InvalidArgument("connectionString has no AccountName (or BlobEndpoint)"));
  std::string protocol = get("defaultendpointsprotocol");
  if (protocol.empty()) protocol = "https";
  if (!EqualsIgnoreCase(protocol, "https") && !EqualsIgnoreCase(protocol, "http")) {
    return Err(InvalidArgument("connectionString DefaultEndpointsProtocol must be http or https"));
  }
  std::string suffix = get("endpointsuffix");
  if (suffix.empty()) suffix = "core.windows.net";
  WARD_ASSIGN_OR_RETURN(a.endpoint, NormalizeEndpoint(AsciiLower(protocol) + "://" + a.account_name + ".blob." + suffix,
                                                      "connectionString AccountName/EndpointSuffix"));
  return a;
}

Result<BlobAccount> ParseSasUrl(std::string_view sas_url) {
  auto url = http::ParseUrl(sas_url);
  if (!url) return Err(InvalidArgument("sasUrl must be an http or https URL"));
  size_t q = url->target.find('?');
  std::string path = url->target.substr(0, q);
  std::string query = q == std::string::npos ? "" : url->target.substr(q + 1);
  if (query.find("sig=") == std::string::npos) return Err(InvalidArgument("sasUrl has no sig (not a SAS URL)"));
  // The account's root: "/" for Azure's host-style endpoints, "/<account>" for path-style emulators.
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (std::count(path.begin(), path.end(), '/') > 1) {
    return Err(InvalidArgument("sasUrl must be the account's URL with an account SAS, without a container"));
  }
  BlobAccount a;
  a.endpoint = std::string(sas_url.substr(0, sas_url.find('?')));
  while (!a.endpoint.empty() && a.endpoint.back() == '/') a.endpoint.pop_back();
  a.sas = std::move(query);
  return a;
}

std::string BlobUrl(const BlobAccount& account, std::string_view container, std::string_view blob,
                    std::string_view query) {
  std::string url = account.endpoint + "/" + std::string(container) + (blob.empty() ? "" : "/" + EncodePath(blob));
  std::string q(query);
  if (!account.sas.empty()) q += (q.empty() ? "" : "&") + account.sas;
  if (!q.empty()) url += "?" + q;
  return url;
}

Status AuthorizeRequest(const BlobAccount& account, std::chrono::system_clock::time_point now,
                        http::ClientRequest* request) {
  http::Headers& h = request->headers;
  h.Set("x-ms-date", HttpDate(now));
  h.Set("x-ms-version", std::string(kApiVersion));
  h.Set("Content-Length", std::to_string(request->body.size()));  // signed, so not left to the client
  if (account.key.empty()) return Status::Ok();                      // the SAS is in the URL
  WARD_ASSIGN_OR_RETURN(http::Url url, http::ParseUrl(request->url));
  h.Set("Authorization", SharedKeyAuthorization(account.account_name, account.key,
                                                SharedKeyStringToSign(request->method, h, account.account_name, url)));
  return Status::Ok();
}

std::string SharedKeyStringToSign(std::string_view method, const http::Headers& headers, std::string_view account,
                                  const http::Url& url) {
  std::string s(method);
  s += '\n';
  for (const char* name : {"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
                           "Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"}) {
    std::string_view value = headers.Get(name);
    // Since version 2015-02-21 a zero Content-Length is signed as empty.
    if (std::string_view(name) == "Content-Length" && value == "0") value = {};
    s += value;
    s += '\n';
  }
  // x-ms-* headers: lower-case names, sorted, whitespace runs folded, repeats joined by ','.
  std::map<std::string, std::string> ms;
  for (const auto& [name, value] : headers.entries()) {
    std::string lower = AsciiLower(name);
    if (!lower.starts_with("x-ms-")) continue;
    std::string folded;
    for (char c : Trim(value)) {
      if ((c == ' ' || c == '\t') && !folded.empty() && folded.back() == ' ') continue;
      folded += (c == '\t') ? ' ' : c;
    }
    auto [it, fresh] = ms.try_emplace(lower, folded);
    if (!fresh) it->second += "," + folded;
  }
  for (const auto& [name, value] : ms) s += name + ":" + value + "\n";
  // Canonicalized resource: /<account><encoded path>, then each query parameter on its own line,
  // names lower-cased and sorted, values decoded, sorted and joined by ','.
  size_t q = url.target.find('?');
  s += "/" + std::string(account) + url.target.substr(0, q);
  std::map<std::string, std::vector<std::string>> params;
  if (q != std::string::npos) {
    std::string_view query = std::string_view(url.target).substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      std::string name = AsciiLower(QueryDecode(pair.substr(0, eq)));
      params[name].push_back(eq == std::string_view::npos ? "" : QueryDecode(pair.substr(eq + 1)));
    }
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    s += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + values[i];
  }
  return s;
}

std::string SharedKeyAuthorization(std::string_view account, std::string_view key, std::string_view string_to_sign) {
  return "SharedKey " + std::string(account) + ":" + Base64Encode(HmacSha256(key, string_to_sign));
}

const DestinationType& BlobDestination() {
  static const DestinationType type{"AzureBlob", {"connectionString", "sasUrl"}, &Validate, &Make};
  return type;
}

}  // namespace ward::stream
