#pragma once
// Onboarding packages: a shell script that installs the sensor configuration, carrying a signed
// blob (docs/sensor-protocol.md). The blob is signed RS256 by the tenant's current enrollment key;
// keys can be listed, expired and revoked, and a package stops enrolling devices when its key does.
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "state/state_store.h"

namespace ward::ingest {

struct OnboardingBody {
  int version = 1;
  std::string org_id;
  std::string server_url;
  std::string server_cert_sha256;  // hex, empty for plain HTTP
  std::string enrollment_key_id;
  std::string package_guid;
  int64_t expires_ms = 0;
};

// The tenant's newest usable enrollment key, creating one (valid `validity_days`) when none is.
Result<state::EnrollmentKey> CurrentEnrollmentKey(state::StateStore& store, const std::string& tenant,
                                                  int validity_days = 365);
// The onboardingInfo JSON (one line) for a new package.
Result<std::string> BuildOnboardingInfo(state::StateStore& store, const std::string& tenant,
                                        const std::string& server_url, const std::string& server_cert_sha256);
// The installer script around it (what `--out` writes and the API returns).
std::string BuildOnboardingScript(const std::string& onboarding_info_json);
// Checks signature, key (exists, not revoked, not expired) and expiry. Unauthenticated otherwise.
Result<OnboardingBody> VerifyOnboardingInfo(state::StateStore& store, const json::Value& info, int64_t now_ms);

// Hex SHA-256 of the DER form of the first certificate in a PEM file ("" when unreadable).
std::string CertificateSha256FromPemFile(const std::string& path);

}  // namespace ward::ingest
