#pragma once
// Validation and normalisation of the entity keys in investigation URLs (/api/files/{hash},
// /api/ips/{ip}, /api/domains/{domain}) and the host matching the domain routes use.
//
// Parsers return the canonical form (lower-case hex, inet_ntop text, lower-case host without a
// trailing dot) or InvalidArgument("<value> is invalid"), which routes answer with MDE's
// InvalidHashValue / InvalidIpAddress / InvalidDomainName. Pure functions, thread-safe.
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ward::json {
class Value;
}

namespace ward::api {

// A required string member of a request body: "Parameter <name> is missing" (MissingRequiredParameter)
// when absent or null, InvalidRequestBody when not a string.
Result<std::string> RequiredString(const json::Value& body, const char* name);

struct FileHash {
  enum class Kind { kSha1, kSha256 };
  Kind kind = Kind::kSha1;
  std::string hex;  // lower-case
  // The column of the hunting tables that holds this kind of hash.
  const char* Column() const { return kind == Kind::kSha1 ? "SHA1" : "SHA256"; }
};

// 40 (SHA-1) or 64 (SHA-256) hex digits, any case.
Result<FileHash> ParseFileHash(std::string_view text);

// A literal IPv4 (dotted quad, no leading zeros) or IPv6 address, without zone or brackets.
Result<std::string> CanonicalIpAddress(std::string_view text);

// A DNS host name (RFC 1123 labels of letters, digits and inner hyphens, at most 253 characters,
// one trailing dot allowed). A last label made only of digits is refused, so that an IPv4 address
// is not taken for a domain.
Result<std::string> CanonicalDomainName(std::string_view text);

// The host of a RemoteUrl / evidence url as telemetry writes them: a bare host ("example.com"),
// host:port, or a URL with scheme, user info, port, path, query and fragment. Lower-case, without
// a trailing dot or IPv6 brackets; "" when there is none.
std::string UrlHost(std::string_view url);

// host is domain itself or one of its subdomains ("a.example.com" is in "example.com";
// "badexample.com" is not). Both in canonical form.
bool HostInDomain(std::string_view host, std::string_view domain);

// MDE's alert categories (CreateAlertByReference's list, mde-api.md §4), exact spelling.
bool IsAlertCategory(std::string_view category);
// MDE's spelling of an alert severity given in any case ("medium" as Graph writes it → "Medium"):
// Informational, Low, Medium or High; nullopt for anything else.
std::optional<std::string> CanonicalAlertSeverity(std::string_view severity);

}  // namespace ward::api
