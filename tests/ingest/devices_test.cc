#include "ingest/devices.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/time.h"
#include "ingest/onboarding.h"
#include "state/temp_state_store.h"

namespace ward::ingest {
namespace {

class DevicesTest : public state::TempStateStoreTest {
 protected:
  DevicesTest() : TempStateStoreTest("ward-devices") {}

  json::Value Request(const std::string& info, const std::string& host = "host-identity-1") {
    json::Value req = json::Value::Object();
    req.Set("onboardingInfo", *json::Value::Parse(info));
    json::Value device = json::Value::Object();
    device.Set("hostId", host);
    device.Set("computerDnsName", "web-1.corp.local");
    device.Set("osPlatform", "Linux");
    device.Set("tags", json::Value::Array().Append("prod"));
    req.Set("device", std::move(device));
    return req;
  }
};

TEST_F(DevicesTest, EnrolAuthenticateRotateRevoke) {
  auto info = BuildOnboardingInfo(*store_, tenant_, "https://ward:8443", "ab");
  ASSERT_TRUE(info) << info.error().ToString();
  auto e = Enroll(*store_, Request(*info), "10.0.0.1", NowMs());
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->device_id.size(), 40u);
  std::string header = "WardDevice " + e->device_id + ":" + e->credential;
  auto m = AuthenticateDevice(*store_, header);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->computer_dns_name, "web-1.corp.local");
  EXPECT_EQ(m->tags, std::vector<std::string>{"prod"});
  EXPECT_FALSE(AuthenticateDevice(*store_, "WardDevice " + e->device_id + ":" + tenant_ + ".wrong"));
  EXPECT_FALSE(AuthenticateDevice(*store_, "Bearer x"));
  EXPECT_FALSE(AuthenticateDevice(*store_, "WardDevice " + std::string(40, 'f') + ":" + e->credential));

  auto again = Enroll(*store_, Request(*info), "10.0.0.1", NowMs());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->device_id, e->device_id);  // same host, same id
  EXPECT_FALSE(AuthenticateDevice(*store_, header));  // old credential replaced
  auto other = Enroll(*store_, Request(*info, "host-identity-2"), "10.0.0.2", NowMs());
  ASSERT_TRUE(other);
  EXPECT_NE(other->device_id, e->device_id);

  auto rotated = RotateCredential(*store_, *AuthenticateDevice(*store_, "WardDevice " + again->device_id + ":" + again->credential));
  ASSERT_TRUE(rotated);
  EXPECT_TRUE(AuthenticateDevice(*store_, "WardDevice " + again->device_id + ":" + *rotated));
  ASSERT_TRUE(RevokeCredential(*store_, tenant_, again->device_id, true).ok());
  EXPECT_FALSE(AuthenticateDevice(*store_, "WardDevice " + again->device_id + ":" + *rotated));
}

TEST_F(DevicesTest, ForgedExpiredAndRevokedPackagesAreRefused) {
  auto info = BuildOnboardingInfo(*store_, tenant_, "https://ward:8443", "");
  ASSERT_TRUE(info);
  auto parsed = *json::Value::Parse(*info);
  json::Value forged = parsed;
  forged.Set("body", parsed.GetString("body")->substr(0, 20) + "x" + parsed.GetString("body")->substr(21));
  EXPECT_EQ(VerifyOnboardingInfo(*store_, forged, NowMs()).error().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(VerifyOnboardingInfo(*store_, parsed, NowMs()));
  // Far in the future the key has expired.
  EXPECT_FALSE(VerifyOnboardingInfo(*store_, parsed, NowMs() + int64_t{400} * 86400 * 1000));
  state::Repo<state::EnrollmentKey> keys(*store_);
  auto k = keys.Get(tenant_, *parsed.GetString("kid"));
  ASSERT_TRUE(k);
  k->revoked = true;
  ASSERT_TRUE(keys.Update(*k).ok());
  EXPECT_FALSE(VerifyOnboardingInfo(*store_, parsed, NowMs()));
  EXPECT_FALSE(Enroll(*store_, Request(*info), "10.0.0.1", NowMs()));
}

TEST(HealthTest, DerivedFromSignals) {
  state::Machine m;
  int64_t now = int64_t{1'800'000'000'000};
  m.first_seen_ms = now - 1000;
  m.last_seen_ms = now - 1000;
  m.last_heartbeat_ms = now - 1000;
  m.last_event_ms = now - 1000;
  EXPECT_EQ(HealthStatus(m, now), "Active");
  m.last_heartbeat_ms = now - 10 * 60 * 1000;
  EXPECT_EQ(HealthStatus(m, now), "ImpairedCommunication");
  m.last_heartbeat_ms = now;
  m.last_event_ms = now - 2 * 86400 * 1000;
  EXPECT_EQ(HealthStatus(m, now), "NoSensorData");
  m.last_seen_ms = now - 8LL * 86400 * 1000;
  EXPECT_EQ(HealthStatus(m, now), "Inactive");
}

}  // namespace
}  // namespace ward::ingest
