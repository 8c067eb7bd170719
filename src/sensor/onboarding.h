#pragma once
// Onboarding file parsing, enrollment, the persisted device identity and credential rotation
// (docs/sensor-protocol.md).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/client.h"
#include "json/json.h"

namespace ward::sensor {

inline constexpr std::string_view kOnboardingMarker = "# WARD-ONBOARDING-INFO:";

struct OnboardingInfo {
  json::Value info;  // the onboardingInfo object, sent back verbatim when enrolling
  int version = 0;
  std::string org_id;
  std::string server_url;
  std::string server_cert_sha256;  // "" for plain HTTP
  std::string enrollment_key_id;
  std::string expires_at;
  std::string package_guid;
};

// Accepts the installer script (the "# WARD-ONBOARDING-INFO: <json>" line) or a file that is only the
// onboardingInfo JSON. InvalidArgument with a reason otherwise. The signature is the server's to check.
Result<OnboardingInfo> ParseOnboarding(std::string_view file_text);
Result<OnboardingInfo> LoadOnboardingFile(const std::string& path);

struct DeviceFacts {
  std::string host_id;
  std::string computer_dns_name;
  std::string domain;
  std::string os_platform = "Linux";
  std::string os_version;
  std::string os_distribution;
  int64_t os_build = 0;
  std::string os_architecture;
  std::string sensor_version;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> tags;
  json::Value ToJson() const;
};
// Facts of this machine. The host id comes from /etc/machine-id, or a random id kept in state_dir.
DeviceFacts LocalDeviceFacts(const std::string& state_dir);

struct Identity {
  std::string device_id;
  std::string tenant_id;
  std::string credential;
  std::string server_url;
  std::string server_cert_sha256;
  std::string host_id;
  std::string package_guid;
  int heartbeat_seconds = 60;
  int64_t credential_issued_ms = 0;

  std::string AuthorizationHeader() const { return "WardDevice " + device_id + ":" + credential; }
  std::string Url(std::string_view path) const;  // server_url + path without a doubled '/'
};

inline constexpr std::string_view kIdentityFile = "identity.json";
// NotFound when the state dir holds no identity; InvalidArgument when it is unreadable.
Result<Identity> LoadIdentity(const std::string& state_dir);
// Writes identity.json with mode 0600 (atomically).
Status SaveIdentity(const std::string& state_dir, const Identity& id);

// Client options for talking to the server of an identity or onboarding package (pinning).
http::ClientOptions ClientOptionsFor(const std::string& pin_sha256);

// POST /sensor/v1/enroll. Errors: Unauthenticated (401: bad/expired package), InvalidArgument (400),
// Unavailable (network or 5xx).
Result<Identity> Enroll(http::Client& client, const OnboardingInfo& onboarding, const DeviceFacts& facts);
// POST /sensor/v1/credential/rotate; returns the identity with the new credential (not yet saved).
Result<Identity> RotateCredential(http::Client& client, const Identity& id);

// Maps a non-2xx response to a Status carrying the server's error message.
Status StatusFromResponse(const http::ClientResponse& res, std::string_view what);

}  // namespace ward::sensor
