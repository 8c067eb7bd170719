#include "ingest/onboarding.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

#include "common/crypto.h"
#include "common/time.h"
#include "identity/jwt.h"

namespace ward::ingest {

Result<state::EnrollmentKey> CurrentEnrollmentKey(state::StateStore& store, const std::string& tenant,
                                                  int validity_days) {
  state::Repo<state::EnrollmentKey> repo(store);
  WARD_ASSIGN_OR_RETURN(std::vector<state::EnrollmentKey> keys, repo.List(tenant));
  int64_t now = NowMs();
  const state::EnrollmentKey* best = nullptr;
  for (const auto& k : keys) {
    // Prefer keys with at least a month left so new packages do not expire soon after download.
    if (k.revoked || k.expires_ms < now + int64_t{30} * 86400 * 1000) continue;
    if (!best || k.created_ms > best->created_ms) best = &k;
  }
  if (best) return *best;
  state::EnrollmentKey key;
  key.tenant_id = tenant;
  key.id = NewGuid();
  WARD_ASSIGN_OR_RETURN(identity::RsaKey rsa, identity::RsaKey::Generate(key.id));
  WARD_ASSIGN_OR_RETURN(key.private_pem, rsa.PrivatePem());
  key.created_ms = now;
  key.expires_ms = now + int64_t{validity_days} * 86400 * 1000;
  WARD_RETURN_IF_ERROR(repo.Insert(key));
  return key;
}

Result<std::string> BuildOnboardingInfo(state::StateStore& store, const std::string& tenant,
                                        const std::string& server_url, const std::string& server_cert_sha256) {
  WARD_ASSIGN_OR_RETURN(state::EnrollmentKey key, CurrentEnrollmentKey(store, tenant));
  json::Writer body;
  body.StartObject();
  body.KV("version", 1);
  body.KV("orgId", tenant);
  body.KV("serverUrl", server_url);
  body.KV("serverCertSha256", server_cert_sha256);
  body.KV("enrollmentKeyId", key.id);
  body.KV("expiresAt", FormatIsoMs(key.expires_ms));
  body.KV("packageGuid", NewGuid());
  body.EndObject();
  std::string body_text = body.Take();
  WARD_ASSIGN_OR_RETURN(identity::RsaKey rsa, identity::RsaKey::FromPrivatePem(key.id, key.private_pem));
  WARD_ASSIGN_OR_RETURN(std::string sig, rsa.SignRs256(body_text));
  json::Writer info;
  info.StartObject().KV("body", body_text).KV("sig", Base64UrlEncode(sig)).KV("kid", key.id).EndObject();
  return info.Take();
}

std::string BuildOnboardingScript(const std::string& onboarding_info_json) {
  // The blob rides on one comment line so the sensor can read this very file with --onboarding.
  return "#!/bin/sh\n"
         "# Ward onboarding package for Linux. Run as root: sh " "WardOnboarding.sh\n"
         "# WARD-ONBOARDING-INFO: " + onboarding_info_json + "\n"
         "set -eu\n"
         "CONF_DIR=/etc/ward\n"
         "STATE_DIR=/var/lib/ward-sensor\n"
         "mkdir -p \"$CONF_DIR\" \"$STATE_DIR\"\n"
         // /etc/ward also holds the server's configuration when both packages share a host, so only
         // the sensor's own files are closed to others.
         "chmod 700 \"$STATE_DIR\"\n"
         "cp \"$0\" \"$CONF_DIR/onboarding.sh\"\n"
         "chmod 600 \"$CONF_DIR/onboarding.sh\"\n"
         "SENSOR=$(command -v ward-sensor || echo /usr/local/bin/ward-sensor)\n"
         "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then\n"
         // The ward-sensor package ships this unit (reading the same two paths); only a sensor
         // installed by hand needs one written.
         "  [ -f /lib/systemd/system/ward-sensor.service ] || cat > /etc/systemd/system/ward-sensor.service <<UNIT\n"
         "[Unit]\nDescription=Ward EDR sensor\nAfter=network-online.target\n\n"
         "[Service]\nExecStart=$SENSOR --onboarding $CONF_DIR/onboarding.sh --state-dir $STATE_DIR\n"
         "Restart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\nUNIT\n"
         "  systemctl daemon-reload\n"
         "  systemctl enable --now ward-sensor.service\n"
         "else\n"
         "  nohup \"$SENSOR\" --onboarding \"$CONF_DIR/onboarding.sh\" --state-dir \"$STATE_DIR\" "
         ">/var/log/ward-sensor.log 2>&1 &\n"
         "fi\n"
         "echo \"Ward sensor onboarded; state in $STATE_DIR\"\n";
}

namespace {
// Parsing a private PEM costs about a millisecond of RSA key setup; every enrolment verifies with one
// of a handful of keys, so their public halves are kept, by key id and PEM.
Result<std::shared_ptr<const identity::RsaKey>> VerificationKey(const state::EnrollmentKey& key) {
  static std::mutex mu;
  static std::map<std::string, std::pair<std::string, std::shared_ptr<const identity::RsaKey>>> cache;
  std::string fingerprint = Sha256(key.private_pem);
  {
    std::lock_guard lock(mu);
    auto it = cache.find(key.tenant_id + "/" + key.id);
    if (it != cache.end() && it->second.first == fingerprint) return it->second.second;
  }
  WARD_ASSIGN_OR_RETURN(identity::RsaKey priv, identity::RsaKey::FromPrivatePem(key.id, key.private_pem));
  WARD_ASSIGN_OR_RETURN(identity::RsaKey pub, identity::RsaKey::FromPublicPem(key.id, priv.PublicPem()));
  auto shared = std::make_shared<const identity::RsaKey>(std::move(pub));
  std::lock_guard lock(mu);
  if (cache.size() > 1024) cache.clear();
  cache[key.tenant_id + "/" + key.id] = {fingerprint, shared};
  return shared;
}
}  // namespace

Result<OnboardingBody> VerifyOnboardingInfo(state::StateStore& store, const json::Value& info, int64_t now_ms) {
  auto fail = [](std::string why) { return Err(Unauthenticated("onboarding package rejected: " + std::move(why))); };
  if (!info.is_object()) return fail("onboardingInfo must be an object");
  auto body_text = info.GetString("body");
  auto sig = info.GetString("sig");
  auto kid = info.GetString("kid");
  if (!body_text || !sig || !kid) return fail("body, sig and kid are required");
  if (body_text->size() > 8192) return fail("body too large");
  auto body = json::Value::Parse(*body_text);
  if (!body || !body->is_object()) return fail("body is not a JSON object");
  OnboardingBody out;
  out.org_id = body->GetString("orgId").value_or("");
  out.server_url = body->GetString("serverUrl").value_or("");
  out.server_cert_sha256 = body->GetString("serverCertSha256").value_or("");
  out.enrollment_key_id = body->GetString("enrollmentKeyId").value_or("");
  out.package_guid = body->GetString("packageGuid").value_or("");
  auto expires = ParseIsoMs(body->GetString("expiresAt").value_or(""));
  if (!IsGuid(out.org_id) || out.enrollment_key_id != *kid || !expires) return fail("body fields are missing or malformed");
  out.expires_ms = *expires;
  auto key = state::Repo<state::EnrollmentKey>(store).Get(out.org_id, *kid);
  if (!key) return fail("unknown enrollment key");
  auto raw_sig = Base64UrlDecode(*sig);
  auto rsa = VerificationKey(*key);
  if (!raw_sig || !rsa || !(*rsa)->VerifyRs256(*body_text, *raw_sig)) return fail("bad signature");
  if (key->revoked) return fail("the enrollment key was revoked");
  if (key->expires_ms < now_ms || out.expires_ms < now_ms) return fail("the package has expired");
  return out;
}

std::string CertificateSha256FromPemFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return "";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!cert) return "";
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  X509_free(cert);
  if (len <= 0) return "";
  std::string out = HexEncode(Sha256(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len))));
  OPENSSL_free(der);
  return out;
}

}  // namespace ward::ingest
