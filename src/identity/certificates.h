#pragma once
// X.509 certificates registered on applications as client credentials (Azure AD's "certificates &
// secrets"). A client proves possession with a client assertion: a JWT signed by the certificate's
// private key and naming it by its SHA-1 thumbprint (`x5t`).
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "state/records.h"

namespace ward::identity {

struct CertificateInfo {
  std::string thumbprint;  // SHA-1 of the DER encoding, upper-case hex (as Azure shows it)
  std::string public_key_pem;
  std::string subject;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
};

// Parses one PEM certificate with an RSA key of at least 2048 bits. InvalidArgument otherwise.
Result<CertificateInfo> ParseCertificatePem(std::string_view pem);

// Registers a parsed certificate on an app (not saved). AlreadyExists for a duplicate thumbprint,
// InvalidArgument for an expired certificate or more than 10 certificates.
Result<state::AppCertificate> AddCertificate(state::App* app, const CertificateInfo& info);

}  // namespace ward::identity
