#include "sensor/onboarding.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "sensor/fake_server.h"
#include "sensor/host.h"

namespace ward::sensor {
namespace {

using testing::FakeServer;
using testing::TempDir;

std::string InfoLine(const std::string& body_json) {
  json::Writer w;
  w.StartObject().KV("body", body_json).KV("sig", "c2ln").KV("kid", "k1").EndObject();
  return w.Take();
}

constexpr const char* kBody =
    R"({"version":1,"orgId":"org-1","serverUrl":"https://ward.example:8443/","serverCertSha256":"5f2b7c36c0b8b3ad1d8b0c1e7f6a9e3c1a3f0f6b2b4a6e1d9c8b7a6f5e4d3c2b","enrollmentKeyId":"ek","expiresAt":"2027-01-01T00:00:00Z","packageGuid":"g-1"})";

TEST(OnboardingTest, ParsesInstallerScript) {
  std::string script = "#!/bin/sh\nset -e\n# some comment\n# WARD-ONBOARDING-INFO: " + InfoLine(kBody) +
                       "\ncat > /etc/ward/onboarding.json <<'EOF'\n{}\nEOF\n";
  auto info = ParseOnboarding(script);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->version, 1);
  EXPECT_EQ(info->org_id, "org-1");
  EXPECT_EQ(info->server_url, "https://ward.example:8443");  // trailing slash dropped
  EXPECT_EQ(info->server_cert_sha256.size(), 64u);
  EXPECT_EQ(info->enrollment_key_id, "ek");
  EXPECT_EQ(info->package_guid, "g-1");
  // The signed blob is kept verbatim for the enrollment request.
  EXPECT_EQ(info->info.GetString("sig").value_or(""), "c2ln");
  EXPECT_EQ(info->info.GetString("body").value_or(""), kBody);
}

TEST(OnboardingTest, ParsesBareJsonFile) {
  auto info = ParseOnboarding("\n  " + InfoLine(kBody) + "\n");
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->org_id, "org-1");
}

TEST(OnboardingTest, AcceptsIndentedMarkerAndCrLf) {
  auto info = ParseOnboarding("#!/bin/sh\r\n   # WARD-ONBOARDING-INFO: " + InfoLine(kBody) + "\r\n");
  ASSERT_TRUE(info.has_value()) << info.error().message();
}

TEST(OnboardingTest, PlainHttpPackageHasNoPin) {
  auto info = ParseOnboarding(InfoLine(R"({"version":1,"orgId":"o","serverUrl":"http://127.0.0.1:8080","serverCertSha256":""})"));
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_TRUE(info->server_cert_sha256.empty());
}

TEST(OnboardingTest, RejectsBrokenFiles) {
  EXPECT_FALSE(ParseOnboarding("#!/bin/sh\necho hello\n").has_value());
  EXPECT_FALSE(ParseOnboarding("# WARD-ONBOARDING-INFO: {not json").has_value());
  EXPECT_FALSE(ParseOnboarding(InfoLine("{\"version\":2,\"orgId\":\"o\",\"serverUrl\":\"http://x\"}")).has_value());
  EXPECT_FALSE(ParseOnboarding(InfoLine("{\"version\":1,\"serverUrl\":\"http://x\"}")).has_value());
  EXPECT_FALSE(ParseOnboarding(InfoLine("{\"version\":1,\"orgId\":\"o\",\"serverUrl\":\"ftp://x\"}")).has_value());
  EXPECT_FALSE(ParseOnboarding(InfoLine(R"({"version":1,"orgId":"o","serverUrl":"https://x","serverCertSha256":"abc"})")).has_value());
  EXPECT_FALSE(ParseOnboarding(R"({"sig":"x"})").has_value());
}

TEST(OnboardingTest, IdentityPersistsWithOwnerOnlyPermissions) {
  TempDir dir;
  Identity id;
  id.device_id = "0123456789abcdef0123456789abcdef01234567";
  id.tenant_id = "org-1";
  id.credential = "secret";
  id.server_url = "https://ward.example:8443";
  id.server_cert_sha256 = std::string(64, 'a');
  id.host_id = "host";
  id.heartbeat_seconds = 30;
  id.credential_issued_ms = 1234;
  ASSERT_TRUE(SaveIdentity(dir.path(), id).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("identity.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = LoadIdentity(dir.path());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(loaded->device_id, id.device_id);
  EXPECT_EQ(loaded->credential, "secret");
  EXPECT_EQ(loaded->heartbeat_seconds, 30);
  EXPECT_EQ(loaded->credential_issued_ms, 1234);
  EXPECT_EQ(loaded->AuthorizationHeader(), "WardDevice " + id.device_id + ":secret");
  EXPECT_EQ(loaded->Url("/sensor/v1/events"), "https://ward.example:8443/sensor/v1/events");

  TempDir empty;
  EXPECT_EQ(LoadIdentity(empty.path()).error().code(), StatusCode::kNotFound);
}

TEST(OnboardingTest, EnrollsAgainstServerAndRotates) {
  FakeServer server;
  server.Start();
  auto info = ParseOnboarding(server.OnboardingScript());
  ASSERT_TRUE(info.has_value());
  http::Client client(ClientOptionsFor(""));
  DeviceFacts facts;
  facts.host_id = "abcdef0123456789";
  facts.computer_dns_name = "web-01.corp.local";
  auto id = Enroll(client, *info, facts);
  ASSERT_TRUE(id.has_value()) << id.error().message();
  EXPECT_EQ(id->device_id.size(), 40u);
  EXPECT_EQ(id->tenant_id, "org-test");
  EXPECT_EQ(id->server_url, server.Url());
  EXPECT_EQ(server.Credential(id->device_id), id->credential);
  // Same host, same device id.
  auto again = Enroll(client, *info, facts);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->device_id, id->device_id);
  EXPECT_NE(again->credential, id->credential);

  auto rotated = RotateCredential(client, *again);
  ASSERT_TRUE(rotated.has_value()) << rotated.error().message();
  EXPECT_NE(rotated->credential, again->credential);
  EXPECT_EQ(server.Credential(id->device_id), rotated->credential);
  // The old credential no longer works.
  EXPECT_EQ(RotateCredential(client, *again).error().code(), StatusCode::kUnauthenticated);

  server.reject_enroll = 1;
  auto refused = Enroll(client, *info, facts);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.error().message().find("onboarding package rejected"), std::string::npos);
}

TEST(OnboardingTest, LocalDeviceFactsAreComplete) {
  TempDir dir;
  DeviceFacts f = LocalDeviceFacts(dir.path());
  EXPECT_GE(f.host_id.size(), 8u);
  EXPECT_FALSE(f.computer_dns_name.empty());
  EXPECT_EQ(f.os_platform, "Linux");
  EXPECT_FALSE(f.os_architecture.empty());
  // Stable across calls.
  EXPECT_EQ(LocalDeviceFacts(dir.path()).host_id, f.host_id);
  json::Value v = f.ToJson();
  EXPECT_TRUE(v.Find("ipAddresses")->is_array());
  EXPECT_EQ(v.GetInt("osBuild").value_or(-1), 0);
}

}  // namespace
}  // namespace ward::sensor
