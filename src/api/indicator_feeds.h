#pragma once
// Threat-intel feed formats for POST /api/indicators/import: the MDE portal's CSV template and
// STIX 2.1 bundles. Both are translated into the MDE JSON indicator bodies that POST /api/indicators
// takes, so one validator (FromBody/CanonicalValue in indicator_routes.cc) judges every source.
//
// Pure functions, thread-safe. Whole-document problems (no header, unterminated quote, too many rows,
// not a bundle) are InvalidArgument; a problem with one row or STIX object becomes that item's
// `failure`, so the rest of the feed still imports.
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "json/json.h"

namespace ward::api {

inline constexpr size_t kMaxImportItems = 500;

struct FeedItem {
  json::Value body;      // an MDE indicator body (object); null when `failure` is set
  std::string shown;     // what the import result calls "indicator" (the value, or the STIX object id)
  std::string failure;   // non-empty: this item could not be translated
};

// RFC 4180 records: fields separated by commas, optionally double-quoted ("" inside quotes is a quote;
// quoted fields may span lines); CRLF or LF line ends. InvalidArgument on an unterminated quote or
// text after a closing quote.
Result<std::vector<std::vector<std::string>>> ParseCsvRecords(std::string_view text);

// The MDE portal CSV: a header row naming the columns (IndicatorType, IndicatorValue, ExpirationTime,
// Action, Severity, Title, Description, RecommendedActions, RbacGroups, Category, MitreTechniques,
// GenerateAlert; any order, case-insensitive, IndicatorType and IndicatorValue required), then at most
// kMaxImportItems rows. Empty cells are left out of the body so the API's defaults apply.
// MaximumBatchSizeExceeded is reported through `too_many` (the row count) so callers can use MDE's code.
Result<std::vector<FeedItem>> IndicatorsFromCsv(std::string_view text, size_t* too_many);

// A STIX 2.1 bundle ({"type":"bundle","objects":[...]}): each `indicator` object with pattern_type
// "stix" and a pattern of equality comparisons on file hashes, ipv4/ipv6 addresses (CIDR allowed),
// domain names or URLs, joined by OR, yields one item per compared value. Other objects are skipped;
// other indicator patterns become failed items. At most kMaxImportItems items (`too_many` as above).
Result<std::vector<FeedItem>> IndicatorsFromStix(const json::Value& bundle, size_t* too_many);

// One parsed STIX comparison: an MDE indicatorType and the literal.
struct StixTerm {
  std::string indicator_type;
  std::string value;
};
// Parses a STIX pattern of the supported simple forms; InvalidArgument naming what is not supported.
Result<std::vector<StixTerm>> ParseStixPattern(std::string_view pattern);

}  // namespace ward::api
