#include "detect/ioc_matcher.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace ward::detect {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The address bytes of `text`, masked to `bits`; empty when it is not an address.
std::string Masked(std::string_view text, int bits, bool* v6) {
  unsigned char addr[16];
  std::string s(text);
  *v6 = s.find(':') != std::string::npos;
  if (inet_pton(*v6 ? AF_INET6 : AF_INET, s.c_str(), addr) != 1) return "";
  int bytes = *v6 ? 16 : 4;
  for (int b = bits; b < bytes * 8; ++b) addr[b / 8] &= static_cast<unsigned char>(~(0x80 >> (b % 8)));
  return std::string(reinterpret_cast<char*>(addr), static_cast<size_t>(bytes));
}

// The host of a URL or host[:port] (lower-case, no trailing dot).
std::string HostOf(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  size_t at = url.find('@');
  size_t end = url.find_first_of("/?#");
  if (at != std::string_view::npos && (end == std::string_view::npos || at < end)) url.remove_prefix(at + 1);
  end = url.find_first_of("/?#");
  if (end != std::string_view::npos) url = url.substr(0, end);
  if (!url.empty() && url.front() == '[') return Lower(url.substr(1, url.find(']') - 1));
  size_t colon = url.rfind(':');
  if (colon != std::string_view::npos && url.find(':') == colon) url = url.substr(0, colon);
  while (!url.empty() && url.back() == '.') url.remove_suffix(1);
  return Lower(url);
}

// What the file-hash indicator types are compared with, per table.
constexpr std::array<const char*, 2> kSha1Columns{"SHA1", "InitiatingProcessSHA1"};
constexpr std::array<const char*, 2> kSha256Columns{"SHA256", "InitiatingProcessSHA256"};
constexpr std::array<const char*, 2> kMd5Columns{"MD5", "InitiatingProcessMD5"};
constexpr std::array<const char*, 3> kIpColumns{"RemoteIP", "FileOriginIP", "RequestSourceIP"};
constexpr std::array<const char*, 3> kUrlColumns{"RemoteUrl", "FileOriginUrl", "FileOriginReferrerUrl"};

}  // namespace

IocMatcher IocMatcher::Build(std::vector<state::Indicator> indicators, int64_t now_ms) {
  IocMatcher m;
  for (state::Indicator& i : indicators) {
    if (i.expiration_ms && i.expiration_ms <= now_ms) continue;
    const size_t idx = m.indicators_.size();
    const std::string value = Lower(i.indicator_value);
    const std::string& type = i.indicator_type;
    if (type == "FileSha1") m.sha1_[value].push_back(idx);
    else if (type == "FileSha256") m.sha256_[value].push_back(idx);
    else if (type == "FileMd5") m.md5_[value].push_back(idx);
    else if (type == "CertificateThumbprint") m.thumbprints_[value].push_back(idx);
    else if (type == "DomainName") m.domains_[HostOf(value)].push_back(idx);
    else if (type == "Url") m.urls_[value].push_back(idx);
    else if (type == "IpAddress") {
      size_t slash = value.find('/');
      bool v6 = false;
      std::string ip = value.substr(0, slash);
      int bits = slash == std::string::npos ? (ip.find(':') != std::string::npos ? 128 : 32) : std::stoi(value.substr(slash + 1));
      std::string key = Masked(ip, bits, &v6);
      if (key.empty() || bits < 0 || bits > (v6 ? 128 : 32)) continue;
      (v6 ? m.v6_[static_cast<size_t>(bits)] : m.v4_[static_cast<size_t>(bits)])[key].push_back(idx);
      auto& lengths = v6 ? m.v6_lengths_ : m.v4_lengths_;
      if (std::find(lengths.begin(), lengths.end(), bits) == lengths.end()) lengths.push_back(bits);
    } else {
      continue;
    }
    m.indicators_.push_back(std::move(i));
  }
  std::sort(m.v4_lengths_.rbegin(), m.v4_lengths_.rend());
  std::sort(m.v6_lengths_.rbegin(), m.v6_lengths_.rend());
  return m;
}

void IocMatcher::Lookup(const Index& index, const std::string& key, std::string_view column, std::string_view value,
                        std::vector<IocHit>* out) const {
  auto it = index.find(key);
  if (it == index.end()) return;
  for (size_t idx : it->second) {
    bool seen = std::any_of(out->begin(), out->end(), [&](const IocHit& h) { return h.indicator == idx; });
    if (!seen) out->push_back({idx, std::string(column), std::string(value)});
  }
}

void IocMatcher::MatchIp(std::string_view column, std::string_view ip, std::vector<IocHit>* out) const {
  bool v6 = ip.find(':') != std::string_view::npos;
  for (int bits : v6 ? v6_lengths_ : v4_lengths_) {
    bool is_v6 = false;
    std::string key = Masked(ip, bits, &is_v6);
    if (key.empty()) return;
    Lookup(v6 ? v6_[static_cast<size_t>(bits)] : v4_[static_cast<size_t>(bits)], key, column, ip, out);
  }
}

void IocMatcher::MatchHost(std::string_view column, std::string_view url, std::vector<IocHit>* out) const {
  if (!urls_.empty()) Lookup(urls_, Lower(url), column, url, out);
  if (domains_.empty()) return;
  // The host and each parent domain: "a.b.example.com" is in "example.com".
  std::string host = HostOf(url);
  for (size_t pos = 0; !host.empty();) {
    Lookup(domains_, host.substr(pos), column, url, out);
    size_t dot = host.find('.', pos);
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
}

void IocMatcher::Match(const RowView& row, std::vector<IocHit>* out) const {
  if (indicators_.empty()) return;
  auto each = [&](const auto& columns, auto&& fn) {
    for (const char* name : columns) {
      std::string_view v = row.Str(name);
      if (!v.empty()) fn(name, v);
    }
  };
  if (!sha1_.empty()) each(kSha1Columns, [&](const char* c, std::string_view v) { Lookup(sha1_, Lower(v), c, v, out); });
  if (!sha256_.empty()) each(kSha256Columns, [&](const char* c, std::string_view v) { Lookup(sha256_, Lower(v), c, v, out); });
  if (!md5_.empty()) each(kMd5Columns, [&](const char* c, std::string_view v) { Lookup(md5_, Lower(v), c, v, out); });
  if (!v4_lengths_.empty() || !v6_lengths_.empty()) each(kIpColumns, [&](const char* c, std::string_view v) { MatchIp(c, v, out); });
  if (!urls_.empty() || !domains_.empty()) each(kUrlColumns, [&](const char* c, std::string_view v) { MatchHost(c, v, out); });
  if (!thumbprints_.empty() && row.table().name == "DeviceFileCertificateInfo") {
    for (const char* c : {"SignerHash", "IssuerHash"}) {
      std::string_view v = row.Str(c);
      if (!v.empty()) Lookup(thumbprints_, Lower(v), c, v, out);
    }
  }
}

}  // namespace ward::detect
