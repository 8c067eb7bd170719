#include "api/validators.h"

#include "json/json.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace ward::api {
namespace {

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z'); }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), Lower);
  return out;
}

Status Invalid(std::string_view text) {
  // Echo at most a bounded prefix: the value is untrusted and goes into the response and the log.
  constexpr size_t kMaxEcho = 300;
  std::string shown(text.substr(0, kMaxEcho));
  if (text.size() > kMaxEcho) shown += "...";
  return InvalidArgument(shown + " is invalid");
}

}  // namespace

Result<FileHash> ParseFileHash(std::string_view text) {
  if ((text.size() != 40 && text.size() != 64) || !std::all_of(text.begin(), text.end(), IsHex)) {
    return Err(Invalid(text));
  }
  FileHash h;
  h.kind = text.size() == 40 ? FileHash::Kind::kSha1 : FileHash::Kind::kSha256;
  h.hex = LowerCopy(text);
  return h;
}

Result<std::string> CanonicalIpAddress(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return Err(Invalid(text));
  std::string s(text);
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  // glibc's inet_pton takes exactly four decimal parts without leading zeros for IPv4, and plain
  // RFC 4291 text (no zone id, no brackets) for IPv6: the literal forms MDE documents.
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) {
    if (!inet_ntop(AF_INET, bytes, out, sizeof out)) return Err(Invalid(text));
    return std::string(out);
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) {
    if (!inet_ntop(AF_INET6, bytes, out, sizeof out)) return Err(Invalid(text));
    return std::string(out);
  }
  return Err(Invalid(text));
}

Result<std::string> CanonicalDomainName(std::string_view text) {
  std::string_view name = text;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return Err(Invalid(text));
  std::string host = LowerCopy(name);
  size_t start = 0;
  std::string_view last_label;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string::npos) dot = host.size();
    std::string_view label = std::string_view(host).substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return Err(Invalid(text));
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return Err(Invalid(text));
    }
    last_label = label;
    start = dot + 1;
  }
  if (std::all_of(last_label.begin(), last_label.end(), IsDigit)) return Err(Invalid(text));
  return host;
}

std::string UrlHost(std::string_view url) {
  while (!url.empty() && (url.front() == ' ' || url.front() == '\t')) url.remove_prefix(1);
  while (!url.empty() && (url.back() == ' ' || url.back() == '\t')) url.remove_suffix(1);
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  } else if (url.starts_with("//")) {
    url.remove_prefix(2);
  }
  url = url.substr(0, url.find_first_of("/?#"));
  if (size_t at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (url.starts_with('[')) {
    size_t close = url.find(']');
    url = close == std::string_view::npos ? std::string_view() : url.substr(1, close - 1);
  } else if (std::count(url.begin(), url.end(), ':') == 1) {
    url = url.substr(0, url.find(':'));  // host:port; several colons = a bare IPv6 address
  }
  if (!url.empty() && url.back() == '.') url.remove_suffix(1);
  return LowerCopy(url);
}

bool HostInDomain(std::string_view host, std::string_view domain) {
  if (domain.empty() || host.size() < domain.size() || !host.ends_with(domain)) return false;
  return host.size() == domain.size() || host[host.size() - domain.size() - 1] == '.';
}

bool IsAlertCategory(std::string_view category) {
  static const std::set<std::string, std::less<>> kCategories = {
      "General", "CommandAndControl", "Collection", "CredentialAccess", "DefenseEvasion", "Discovery",
      "Exfiltration", "Exploit", "Execution", "InitialAccess", "LateralMovement", "Malware", "Persistence",
      "PrivilegeEscalation", "Ransomware", "SuspiciousActivity"};
  return kCategories.count(category) > 0;
}

std::optional<std::string> CanonicalAlertSeverity(std::string_view severity) {
  for (const char* s : {"Informational", "Low", "Medium", "High"}) {
    std::string_view name(s);
    if (name.size() == severity.size() &&
        std::equal(name.begin(), name.end(), severity.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return std::string(name);
    }
  }
  return std::nullopt;
}

Result<std::string> RequiredString(const json::Value& body, const char* name) {
  const json::Value* v = body.Find(name);
  if (!v || v->is_null()) return Err(InvalidArgument(std::string("Parameter ") + name + " is missing"));
  if (!v->is_string()) return Err(InvalidArgument(std::string("Request body is incorrect: ") + name + " must be a string"));
  return v->as_string();
}

}  // namespace ward::api
