#pragma once
// Matches telemetry rows against a tenant's indicators of compromise with costs that do not grow
// with the number of indicators: hash sets for file hashes, URLs and certificate thumbprints, a
// set per prefix length for IP addresses and CIDR ranges, and a walk up the parent domains of a
// host for domain names. Immutable after Build; Match is thread-safe.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detect/evidence.h"
#include "state/records.h"

namespace ward::detect {

struct IocHit {
  size_t indicator = 0;  // index into indicators()
  std::string column;    // the row's column that matched
  std::string value;     // its value
};

class IocMatcher {
 public:
  // Leaves out indicators that expired by now_ms.
  static IocMatcher Build(std::vector<state::Indicator> indicators, int64_t now_ms);
  // Appends the indicators `row` matches (at most one hit per indicator).
  void Match(const RowView& row, std::vector<IocHit>* out) const;
  const std::vector<state::Indicator>& indicators() const { return indicators_; }
  size_t size() const { return indicators_.size(); }

 private:
  using Index = std::unordered_map<std::string, std::vector<size_t>>;
  void Lookup(const Index& index, const std::string& key, std::string_view column, std::string_view value,
              std::vector<IocHit>* out) const;
  void MatchIp(std::string_view column, std::string_view ip, std::vector<IocHit>* out) const;
  void MatchHost(std::string_view column, std::string_view url, std::vector<IocHit>* out) const;

  std::vector<state::Indicator> indicators_;
  Index sha1_, sha256_, md5_, urls_, domains_, thumbprints_;
  // Key: the address bytes masked to the prefix, by prefix length (0..32 for IPv4, 0..128 for IPv6).
  std::array<Index, 33> v4_;
  std::array<Index, 129> v6_;
  std::vector<int> v4_lengths_, v6_lengths_;  // prefix lengths in use, longest first
};

}  // namespace ward::detect
