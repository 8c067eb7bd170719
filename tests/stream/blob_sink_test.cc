// The AzureBlob destination: settings validation naming each bad key, Shared Key signatures equal to
// those of Microsoft's Python SDK, and real delivery to Azurite (started here on a free port): the
// MDE container/blob layout with exact content, appends, block cutting, oversize rejection, sealed
// and full blobs continuing in siblings, a wrong key, and an outage that heals.
#include "stream/blob_sink.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/crypto.h"
#include "common/temp_dir.h"
#include "common/time.h"
#include "http/server.h"
#include "stream/stream_record.h"

extern char** environ;

namespace ward::stream {
namespace {

using namespace std::chrono_literals;

constexpr char kDevKey[] = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr char kTenant[] = "7d1c9a4e-0000-4000-8000-000000000001";

json::Value Settings(const std::string& text) {
  auto v = json::Value::Parse(text);
  EXPECT_TRUE(v.has_value()) << text;
  return v ? *v : json::Value::Object();
}

std::string ValidationError(const std::string& settings) {
  Status st = BlobDestination().validate(Settings(settings));
  return st.ok() ? "ok" : st.message();
}

TEST(BlobSettingsTest, EachBadInputIsNamed) {
  struct Case {
    const char* settings;
    const char* error;
  } cases[] = {
      {R"({})", "connectionString or sasUrl is required"},
      {R"({"connectionString":"UseDevelopmentStorage=true","sasUrl":"https://a.blob.core.windows.net/?sig=x"})",
       "connectionString and sasUrl exclude each other"},
      {R"({"connectionString":7})", "connectionString must be a string"},
      {R"({"connectionString":"AccountName=a;garbage"})", "connectionString is malformed"},
      {R"({"connectionString":"AccountName=a;AccountName=b;AccountKey=a2V5"})", "connectionString has AccountName twice"},
      {R"({"connectionString":"DefaultEndpointsProtocol=https;AccountKey=a2V5;EndpointSuffix=core.windows.net"})",
       "connectionString has no AccountName"},
      {R"({"connectionString":"AccountName=acct;EndpointSuffix=core.windows.net"})",
       "connectionString has no AccountKey or SharedAccessSignature"},
      {R"({"connectionString":"AccountName=acct;AccountKey=not*base64"})", "connectionString AccountKey is not base64"},
      {R"({"connectionString":"AccountName=acct;AccountKey=a2V5;SharedAccessSignature=sv=1&sig=x"})",
       "connectionString has both AccountKey and SharedAccessSignature"},
      {R"({"connectionString":"BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=2021-08-06"})",
       "connectionString SharedAccessSignature has no sig"},
      {R"({"connectionString":"AccountName=acct;AccountKey=a2V5;BlobEndpoint=ftp://host/x"})",
       "connectionString BlobEndpoint must be an http or https URL"},
      {R"({"connectionString":"AccountName=acct;AccountKey=a2V5;DefaultEndpointsProtocol=gopher"})",
       "connectionString DefaultEndpointsProtocol must be http or https"},
      {R"({"connectionString":"UseDevelopmentStorage=yes"})", "connectionString UseDevelopmentStorage must be true"},
      {R"({"sasUrl":"not a url"})", "sasUrl must be an http or https URL"},
      {R"({"sasUrl":"https://acct.blob.core.windows.net/?sv=2021-08-06"})", "sasUrl has no sig"},
      {R"({"sasUrl":"https://acct.blob.core.windows.net/c1/c2?sv=1&sig=x"})", "sasUrl must be the account's URL"},
      {R"({"connectionString":"UseDevelopmentStorage=true","flushIntervalMs":-1})", "flushIntervalMs must be an integer"},
      {R"({"connectionString":"UseDevelopmentStorage=true","timeoutMs":"5"})", "timeoutMs must be an integer"},
      {R"({"connectionString":"UseDevelopmentStorage=true","caFile":3})", "caFile must be a string"},
  };
  for (const Case& c : cases) {
    std::string got = ValidationError(c.settings);
    EXPECT_EQ(got.rfind(c.error, 0), 0u) << c.settings << "\n  gave: " << got;
  }
}

TEST(BlobSettingsTest, SecretsNeverAppearInErrors) {
  std::string got = ValidationError(R"({"connectionString":"AccountName=acct;TopSecretNoEquals"})");
  EXPECT_EQ(got.find("TopSecret"), std::string::npos) << got;
  EXPECT_EQ(BlobDestination().secret_keys, (std::vector<std::string_view>{"connectionString", "sasUrl"}));
}

TEST(BlobSettingsTest, GoodInputsAreAccepted) {
  for (const char* s : {
           R"({"connectionString":"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"})",
           R"({"ConnectionString":"UseDevelopmentStorage=true","FLUSHINTERVALMS":250,"timeoutMs":5000,"caFile":"/etc/ca.pem"})",
           R"({"sasUrl":"https://acct.blob.core.windows.net/?sv=2021-08-06&ss=b&srt=sco&sp=rwac&sig=abc%3D"})",
           R"({"sasUrl":"http://127.0.0.1:10000/devstoreaccount1?sv=2021-08-06&sig=abc"})",
       }) {
    EXPECT_EQ(ValidationError(s), "ok") << s;
  }
}

TEST(BlobSettingsTest, ConnectionStringsAndSasUrlsGiveTheAccount) {
  auto azure = ParseConnectionString(
      "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn;");
  ASSERT_TRUE(azure.has_value()) << azure.error().message();
  EXPECT_EQ(azure->endpoint, "https://acct.blob.core.chinacloudapi.cn");
  EXPECT_EQ(azure->account_name, "acct");
  EXPECT_EQ(azure->key, "key");
  EXPECT_EQ(azure->sas, "");

  auto defaults = ParseConnectionString("accountname=acct;accountkey=a2V5");
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(defaults->endpoint, "https://acct.blob.core.windows.net");

  auto emulator = ParseConnectionString(std::string("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=") +
                                        kDevKey + ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;");
  ASSERT_TRUE(emulator.has_value());
  EXPECT_EQ(emulator->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(emulator->key.size(), 64u);

  auto dev = ParseConnectionString("UseDevelopmentStorage=true");
  ASSERT_TRUE(dev.has_value());
  EXPECT_EQ(dev->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(dev->account_name, "devstoreaccount1");
  EXPECT_EQ(dev->key, emulator->key);

  auto sas = ParseConnectionString("BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2021-08-06&sig=a%2Bb");
  ASSERT_TRUE(sas.has_value());
  EXPECT_EQ(sas->endpoint, "https://acct.blob.core.windows.net");
  EXPECT_EQ(sas->sas, "sv=2021-08-06&sig=a%2Bb");
  EXPECT_EQ(sas->key, "");
  EXPECT_EQ(BlobUrl(*sas, "c", "tenantId=t/y=2024/PT1H.json", "comp=appendblock"),
            "https://acct.blob.core.windows.net/c/tenantId%3Dt/y%3D2024/PT1H.json?comp=appendblock&sv=2021-08-06&sig=a%2Bb");

  auto url = ParseSasUrl("https://acct.blob.core.windows.net/?sv=2021-08-06&sig=x");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->endpoint, "https://acct.blob.core.windows.net");
  EXPECT_EQ(url->sas, "sv=2021-08-06&sig=x");
  EXPECT_EQ(BlobUrl(*url, "c", "", "restype=container"),
            "https://acct.blob.core.windows.net/c?restype=container&sv=2021-08-06&sig=x");
}

http::Url MustParse(const std::string& url) {
  auto u = http::ParseUrl(url);
  EXPECT_TRUE(u.has_value()) << url;
  return u ? *u : http::Url{};
}

// The expected Authorization values were computed with azure-storage-blob 12.15's
// SharedKeyCredentialPolicy (python3-azure) over the same method, URL and headers.
TEST(BlobSharedKeyTest, MatchesTheAzureSdk) {
  const std::string blob_url =
      "http://127.0.0.1:10000/devstoreaccount1/insights-logs-advancedhunting-devicefileevents/"
      "tenantId=7d1c9a4e-0000-4000-8000-000000000001/y=2024/m=05/d=17/h=13/m=00/PT1H.json";
  const std::string resource =
      "/devstoreaccount1/devstoreaccount1/insights-logs-advancedhunting-devicefileevents/"
      "tenantId=7d1c9a4e-0000-4000-8000-000000000001/y=2024/m=05/d=17/h=13/m=00/PT1H.json";
  const std::string date = "x-ms-date:Fri, 17 May 2024 13:04:05 GMT\n";
  struct Case {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string string_to_sign, authorization;
  } cases[] = {
      // Append Block, path-style: the account is in the canonicalized resource twice.
      {blob_url + "?comp=appendblock",
       {{"x-ms-date", "Fri, 17 May 2024 13:04:05 GMT"}, {"x-ms-version", "2021-08-06"}, {"Content-Length", "42"}},
       "PUT\n\n\n42\n\n\n\n\n\n\n\n\n" + date + "x-ms-version:2021-08-06\n" + resource + "\ncomp:appendblock",
       "SharedKey devstoreaccount1:I9aceq5fiHfT5llNRR4Edw8CPemGqt8A+xGZXulEgWI="},
      // Create append blob: If-None-Match is signed, a zero Content-Length is signed as empty.
      {blob_url,
       {{"x-ms-version", "2021-08-06"}, {"If-None-Match", "*"}, {"x-ms-blob-type", "AppendBlob"},
        {"Content-Length", "0"}, {"x-ms-date", "Fri, 17 May 2024 13:04:05 GMT"}},
       "PUT\n\n\n\n\n\n\n\n\n*\n\n\nx-ms-blob-type:AppendBlob\n" + date + "x-ms-version:2021-08-06\n" + resource,
       "SharedKey devstoreaccount1:7Eb4FF/XNj7R5j2RdTT9LSAJUnwEWKiScqNDHP+lqoE="},
      // Host-style: query names lower-cased and sorted, values decoded; x-ms-* headers sorted.
      {"https://devstoreaccount1.blob.core.windows.net/mycontainer?restype=container&Comp=x%2Fy",
       {{"x-ms-version", "2021-08-06"}, {"x-ms-meta-owner", "ward"}, {"x-ms-date", "Fri, 17 May 2024 13:04:05 GMT"},
        {"Content-Length", "0"}},
       "PUT\n\n\n\n\n\n\n\n\n\n\n\n" + date +
           "x-ms-meta-owner:ward\nx-ms-version:2021-08-06\n/devstoreaccount1/mycontainer\ncomp:x/y\nrestype:container",
       "SharedKey devstoreaccount1:3gwR6aujNrhIJjTyr/TRIGHDt1Hq/xaxUAlGDPeXdfU="},
  };
  std::string key = *Base64Decode(kDevKey);
  for (const Case& c : cases) {
    http::Headers h;
    for (const auto& [name, value] : c.headers) h.Add(name, value);
    std::string sts = SharedKeyStringToSign("PUT", h, "devstoreaccount1", MustParse(c.url));
    EXPECT_EQ(sts, c.string_to_sign) << c.url;
    EXPECT_EQ(SharedKeyAuthorization("devstoreaccount1", key, sts), c.authorization) << c.url;
  }
}

TEST(BlobSharedKeyTest, CanonicalizesHeaderNamesAndWhitespaceAsTheSpecSays) {
  http::Headers h;
  h.Add("X-MS-Meta-B", "  two   words\t here ");
  h.Add("x-ms-meta-a", "1");
  h.Add("x-ms-meta-a", "2");
  h.Set("Content-Type", "text/plain");
  std::string sts = SharedKeyStringToSign("GET", h, "acct", MustParse("https://acct.blob.core.windows.net/c/b"));
  EXPECT_EQ(sts, "GET\n\n\n\n\ntext/plain\n\n\n\n\n\n\nx-ms-meta-a:1,2\nx-ms-meta-b:two words here\n/acct/c/b");
}

// ---- Delivery against Azurite ----

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

// One azurite-blob process of this test's own, stopped by pid.
class Azurite {
 public:
  static std::string Binary() { return std::string(WARD_SOURCE_DIR) + "/tools/azurite/node_modules/.bin/azurite-blob"; }
  ~Azurite() { Stop(); }

  // Starts on `port` with its data under `dir`; "" when it accepts connections.
  std::string Start(uint16_t port, const std::string& dir) {
    port_ = port;
    std::string port_text = std::to_string(port), log = dir + "/azurite.log";
    std::vector<std::string> args = {Binary(), "--blobHost", "127.0.0.1", "--blobPort", port_text, "--location", dir,
                                     "--skipApiVersionCheck", "--silent"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return "posix_spawn " + args[0] + ": " + std::strerror(rc);
    // Node takes a few seconds to load Azurite on a busy machine.
    for (auto deadline = std::chrono::steady_clock::now() + 90s; std::chrono::steady_clock::now() < deadline;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "azurite exited early; see " + log;
      }
      if (Accepts(port)) return "";
      std::this_thread::sleep_for(100ms);
    }
    return "azurite did not listen on port " + port_text;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

StreamRecord Record(std::string_view table, const std::string& time, const std::string& id, size_t pad = 0) {
  StreamRecord r;
  r.table_name = table;
  r.tenant_id = kTenant;
  r.device_id = "dev-1";
  r.time_ticks = *ParseIsoTicks(time);
  r.json = R"({"time":")" + time + R"(","tenantId":")" + std::string(kTenant) + R"(","category":"AdvancedHunting-)" +
           std::string(table) + R"(","properties":{"ReportId":)" + id + R"(,"Pad":")" + std::string(pad, 'x') + "\"}}";
  return r;
}

std::string Lines(const std::vector<StreamRecord>& records) {
  std::string out;
  for (const StreamRecord& r : records) out += r.json + "\n";
  return out;
}

class BlobDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(Azurite::Binary().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "Azurite is not installed at " << Azurite::Binary() << " (run scripts/install-deps.sh)";
    }
    std::string error = azurite_.Start(FreePort(), dir_.path());
    ASSERT_EQ(error, "");
    account_ = *ParseConnectionString(ConnectionString(kDevKey));
  }

  std::string ConnectionString(const std::string& key) const {
    return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key +
           ";BlobEndpoint=http://127.0.0.1:" + std::to_string(azurite_.port()) + "/devstoreaccount1;";
  }

  std::unique_ptr<Sink> MakeSink(const std::string& key = kDevKey) {
    json::Value s = json::Value::Object();
    s.Set("connectionString", json::Value(ConnectionString(key)));
    s.Set("timeoutMs", json::Value(int64_t{5000}));
    auto sink = BlobDestination().make(s, SinkContext{});
    EXPECT_TRUE(sink.has_value());
    return sink ? std::move(*sink) : nullptr;
  }

  // A request of the test's own, signed like the sink's.
  http::ClientResponse Send(const std::string& method, const std::string& container, const std::string& blob,
                            const std::string& query) {
    http::ClientRequest req;
    req.method = method;
    req.url = BlobUrl(account_, container, blob, query);
    EXPECT_TRUE(AuthorizeRequest(account_, std::chrono::system_clock::now(), &req).ok());
    http::Client client;
    auto r = client.Send(req);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
    return r ? *r : http::ClientResponse{};
  }

  std::string Blob(const std::string& container, const std::string& blob) {
    http::ClientResponse r = Send("GET", container, blob, "");
    EXPECT_EQ(r.status, 200) << container << "/" << blob << ": " << r.body;
    EXPECT_EQ(r.headers.Get("x-ms-blob-type"), "AppendBlob");
    return r.body;
  }

  // The <Name>s of a listing, in the service's order.
  static std::vector<std::string> Names(const std::string& xml) {
    std::vector<std::string> names;
    for (size_t at = xml.find("<Name>"); at != std::string::npos; at = xml.find("<Name>", at)) {
      at += 6;
      names.push_back(xml.substr(at, xml.find("</Name>", at) - at));
    }
    return names;
  }
  std::vector<std::string> Containers() { return Names(Send("GET", "", "", "comp=list").body); }
  std::vector<std::string> BlobNames(const std::string& container) {
    return Names(Send("GET", container, "", "restype=container&comp=list").body);
  }

  test::TempDir dir_{"ward-blob-test"};
  Azurite azurite_;
  BlobAccount account_;
};

constexpr std::string_view kProcess = "DeviceProcessEvents";
constexpr std::string_view kFile = "DeviceFileEvents";
const std::string kProcessContainer = "insights-logs-advancedhunting-deviceprocessevents";
const std::string kFileContainer = "insights-logs-advancedhunting-devicefileevents";
const std::string kHour13 = std::string("tenantId=") + kTenant + "/y=2024/m=05/d=17/h=13/m=00/PT1H.json";
const std::string kHour14 = std::string("tenantId=") + kTenant + "/y=2024/m=05/d=17/h=14/m=00/PT1H.json";

TEST_F(BlobDeliveryTest, TwoTablesAndTwoHoursLandInTheirBlobsAndLaterBatchesAppend) {
  std::unique_ptr<Sink> sink = MakeSink();
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->min_interval(), 1000ms);
  std::vector<StreamRecord> batch = {
      Record(kProcess, "2024-05-17T13:00:01.0000000Z", "1"), Record(kFile, "2024-05-17T13:10:00.0000000Z", "2"),
      Record(kProcess, "2024-05-17T14:59:59.9999999Z", "3"), Record(kProcess, "2024-05-17T13:59:59.0000000Z", "4"),
  };
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(batch, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(rejected.empty());

  EXPECT_EQ(Containers(), (std::vector<std::string>{kFileContainer, kProcessContainer}));
  EXPECT_EQ(BlobNames(kProcessContainer), (std::vector<std::string>{kHour13, kHour14}));
  EXPECT_EQ(BlobNames(kFileContainer), (std::vector<std::string>{kHour13}));
  EXPECT_EQ(Blob(kProcessContainer, kHour13), Lines({batch[0], batch[3]}));
  EXPECT_EQ(Blob(kProcessContainer, kHour14), Lines({batch[2]}));
  EXPECT_EQ(Blob(kFileContainer, kHour13), Lines({batch[1]}));

  // A later batch, and a new sink (a restart: nothing cached), append to the same blob.
  std::vector<StreamRecord> more = {Record(kProcess, "2024-05-17T13:30:00.0000000Z", "5")};
  ASSERT_TRUE(sink->Deliver(more, &rejected).ok());
  std::vector<StreamRecord> after_restart = {Record(kProcess, "2024-05-17T13:31:00.0000000Z", "6")};
  ASSERT_TRUE(MakeSink()->Deliver(after_restart, &rejected).ok());
  EXPECT_EQ(Blob(kProcessContainer, kHour13), Lines({batch[0], batch[3], more[0], after_restart[0]}));
  EXPECT_EQ(Send("HEAD", kProcessContainer, kHour13, "").headers.Get("x-ms-blob-committed-block-count"), "3");
}

TEST_F(BlobDeliveryTest, BlocksAreCutOnRecordBoundariesAndAnOversizeRecordIsRejectedAlone) {
  std::unique_ptr<Sink> sink = MakeSink();
  ASSERT_NE(sink, nullptr);
  constexpr size_t kMiB = 1 << 20;
  std::vector<StreamRecord> batch = {
      Record(kProcess, "2024-05-17T13:00:00.0000000Z", "1", 3 * kMiB / 2),
      Record(kProcess, "2024-05-17T13:00:01.0000000Z", "2", 3 * kMiB / 2),
      Record(kProcess, "2024-05-17T13:00:02.0000000Z", "3", 4 * kMiB),  // over the 4 MiB block limit
      Record(kProcess, "2024-05-17T13:00:03.0000000Z", "4", 3 * kMiB / 2),
  };
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(batch, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].index, 2u);
  EXPECT_NE(rejected[0].reason.find("exceeds Azure's append block limit"), std::string::npos) << rejected[0].reason;
  EXPECT_EQ(Blob(kProcessContainer, kHour13), Lines({batch[0], batch[1], batch[3]}));
  // 1.5 + 1.5 MiB fit one block; the third record starts the next.
  EXPECT_EQ(Send("HEAD", kProcessContainer, kHour13, "").headers.Get("x-ms-blob-committed-block-count"), "2");
}

TEST_F(BlobDeliveryTest, ASealedBlobContinuesInTheNextSiblingOfTheHour) {
  std::unique_ptr<Sink> sink = MakeSink();
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> first = {Record(kFile, "2024-05-17T13:00:00.0000000Z", "1")};
  std::vector<Rejection> rejected;
  ASSERT_TRUE(sink->Deliver(first, &rejected).ok());
  ASSERT_EQ(Send("PUT", kFileContainer, kHour13, "comp=seal").status, 200);
  std::vector<StreamRecord> second = {Record(kFile, "2024-05-17T13:01:00.0000000Z", "2")};
  Status st = sink->Deliver(second, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  std::string sibling1 = kHour13.substr(0, kHour13.size() - 5) + "-1.json";
  EXPECT_EQ(BlobNames(kFileContainer), (std::vector<std::string>{sibling1, kHour13}));  // '-' sorts before '.'
  EXPECT_EQ(Blob(kFileContainer, kHour13), Lines(first));
  EXPECT_EQ(Blob(kFileContainer, sibling1), Lines(second));
  // A restarted sink walks past the sealed blob too, and never truncates an existing sibling.
  std::vector<StreamRecord> third = {Record(kFile, "2024-05-17T13:02:00.0000000Z", "3")};
  ASSERT_TRUE(MakeSink()->Deliver(third, &rejected).ok());
  EXPECT_EQ(Blob(kFileContainer, sibling1), Lines({second[0], third[0]}));
}

TEST_F(BlobDeliveryTest, AContainerDeletedBehindTheSinksBackIsCreatedAgain) {
  std::unique_ptr<Sink> sink = MakeSink();
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> first = {Record(kFile, "2024-05-17T13:00:00.0000000Z", "1")};
  std::vector<Rejection> rejected;
  ASSERT_TRUE(sink->Deliver(first, &rejected).ok());
  ASSERT_EQ(Send("DELETE", kFileContainer, "", "restype=container").status, 202);
  std::vector<StreamRecord> second = {Record(kFile, "2024-05-17T13:05:00.0000000Z", "2")};
  // Azure takes a while to delete a container (409 ContainerBeingDeleted meanwhile): an error then
  // is fine, the service retries; once it is gone the sink must create it again.
  Status st = sink->Deliver(second, &rejected);
  for (int i = 0; i < 50 && !st.ok(); ++i) {
    std::this_thread::sleep_for(100ms);
    st = sink->Deliver(second, &rejected);
  }
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Blob(kFileContainer, kHour13), Lines(second));
}

TEST_F(BlobDeliveryTest, AWrongKeyIsAnAuthenticationErrorAndDeliversNothing) {
  std::string wrong = Base64Encode(std::string(64, 'k'));
  std::unique_ptr<Sink> sink = MakeSink(wrong);
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> batch = {Record(kProcess, "2024-05-17T13:00:00.0000000Z", "1")};
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(batch, &rejected);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  // Azure says AuthenticationFailed, Azurite AuthorizationFailure; both come through with the message.
  EXPECT_EQ(st.message().rfind("Azure Blob 403 Auth", 0), 0u) << st.message();
  EXPECT_NE(st.message().find(": Server failed to authenticate the request."), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find(wrong), std::string::npos);
  EXPECT_TRUE(Containers().empty());
}

TEST_F(BlobDeliveryTest, AnOutageIsAnErrorAndTheNextDeliveryAfterItSucceeds) {
  std::unique_ptr<Sink> sink = MakeSink();
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> first = {Record(kProcess, "2024-05-17T13:00:00.0000000Z", "1")};
  std::vector<Rejection> rejected;
  ASSERT_TRUE(sink->Deliver(first, &rejected).ok());

  uint16_t port = azurite_.port();
  azurite_.Stop();
  std::vector<StreamRecord> second = {Record(kProcess, "2024-05-17T13:01:00.0000000Z", "2"),
                                      Record(kFile, "2024-05-17T13:01:00.0000000Z", "3")};
  Status st = sink->Deliver(second, &rejected);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message().rfind("Azure Blob PUT ", 0), 0u) << st.message();

  ASSERT_EQ(azurite_.Start(port, dir_.path()), "");  // same data: a restarted service
  st = sink->Deliver(second, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Blob(kProcessContainer, kHour13), Lines({first[0], second[0]}));
  EXPECT_EQ(Blob(kFileContainer, kHour13), Lines({second[1]}));
}

// Azurite's 50,000-block limit takes too many requests to reach in a test; a small server of the
// test's own answers like Azure does for a full blob.
TEST(BlobFullBlobTest, BlockCountExceedsLimitContinuesInTheNextSibling) {
  std::mutex mu;
  std::vector<std::string> appended;  // "<path> <body>"
  http::ServerOptions options;
  options.threads = 1;
  http::Server server(
      options,
      [&](http::Request& req, http::Response& res) {
        std::lock_guard lock(mu);
        bool append = req.query.find("comp=appendblock") != std::string::npos;
        if (append && req.path.ends_with("/PT1H.json")) {
          res.Set(409, "application/xml",
                  "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlockCountExceedsLimit</Code>"
                  "<Message>The committed block count cannot exceed the maximum limit of 50,000 blocks.\nRequestId:1</Message></Error>");
          res.headers.Set("x-ms-error-code", "BlockCountExceedsLimit");
          return;
        }
        if (append) appended.push_back(req.path + " " + req.body);
        res.Set(201, "text/plain", "");
      },
      [](int status, std::string_view, std::string_view message, const http::Request&, http::Response& res) {
        res.Set(status, "text/plain", std::string(message));
      });
  auto port = server.Start();
  ASSERT_TRUE(port.has_value());
  json::Value s = json::Value::Object();
  s.Set("sasUrl", json::Value("http://127.0.0.1:" + std::to_string(*port) + "/acct?sv=2021-08-06&sig=x"));
  auto sink = BlobDestination().make(s, SinkContext{});
  ASSERT_TRUE(sink.has_value());
  std::vector<StreamRecord> batch = {Record(kFile, "2024-05-17T13:00:00.0000000Z", "1")};
  std::vector<Rejection> rejected;
  Status st = (*sink)->Deliver(batch, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  std::lock_guard lock(mu);
  ASSERT_EQ(appended.size(), 1u);
  EXPECT_EQ(appended[0], "/acct/" + kFileContainer + "/" + kHour13.substr(0, kHour13.size() - 5) + "-1.json " + Lines(batch));
  server.Stop();
}

}  // namespace
}  // namespace ward::stream
