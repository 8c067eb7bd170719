#pragma once
// Device identity: enrolment (onboarding package + device facts → device id and credential),
// device authentication, credential rotation and revocation, and sensor health.
//
// A device id is the hex SHA-1 of (tenant, host identity): the same host re-enrolling in the same
// tenant keeps its id. Credentials are "<tenant id>.<256-bit random>" (the tenant rides along so a
// request can be routed without a directory lookup); only their SHA-256 is stored.
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "json/json.h"
#include "state/state_store.h"

namespace ward::ingest {

struct Enrolled {
  std::string tenant_id;
  std::string device_id;
  std::string credential;
  int64_t heartbeat_seconds = 60;
};

// Verifies the package and creates or updates the machine. InvalidArgument for a malformed body,
// Unauthenticated for a bad, expired or revoked package, FailedPrecondition for an offboarded host.
Result<Enrolled> Enroll(state::StateStore& store, const json::Value& request, std::string_view remote_ip, int64_t now_ms);

// Parses "WardDevice <deviceId>:<credential>" and returns the machine. Unauthenticated otherwise.
Result<state::Machine> AuthenticateDevice(state::StateStore& store, std::string_view authorization_header);

// Issues a new credential; the old one stops working.
Result<std::string> RotateCredential(state::StateStore& store, state::Machine machine);
// Revokes the credential (the device must enrol again) — `offboard` also marks it offboarded.
Status RevokeCredential(state::StateStore& store, std::string_view tenant, std::string_view device_id, bool offboard);

// MDE healthStatus from the machine's signals: Active, Inactive (silent 7 days), ImpairedCommunication
// (heartbeats missing for more than three intervals), NoSensorData (heartbeats but no telemetry for a day).
std::string HealthStatus(const state::Machine& m, int64_t now_ms);

// Applies device facts from an enrolment or a DeviceInfo report; returns whether a fact used by
// device-group rules changed (name, domain, OS, tags).
bool ApplyDeviceFacts(state::Machine& m, const json::Value& facts);

}  // namespace ward::ingest
