#pragma once
// The parsed, field-mapped form of a Sigma rule: what sigma_parse.cc produces and sigma_match.cc
// compiles. Internal to the detect module and its tests (which walk it to build matching events).
// Plain data: copyable, no library types.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detect/sigma.h"

namespace ward::detect::sigma_internal {

// Sigma wildcard text: literal pieces and * / ? wildcards (escapes already resolved).
struct GlobPiece {
  enum Kind : uint8_t { kLiteral, kStar, kQuestion } kind = kLiteral;
  std::string text;  // kLiteral only
  bool operator==(const GlobPiece&) const = default;
};
using Glob = std::vector<GlobPiece>;

enum class PredicateKind : uint8_t {
  kGlob,    // string cell matches `glob` (whole value; contains etc. are leading/trailing stars)
  kRegex,   // string cell contains a match of `regex` (Sigma `re`: unanchored search)
  kNull,    // cell is null or empty (Sigma null value, '' exact)
  kExists,  // cell is (exists=true) / is not (false) present
  kNumber,  // numeric comparison with `number`
  kCidr,    // cell is an IP address inside `cidr`
};
enum class NumberOp : uint8_t { kEq, kLt, kLe, kGt, kGe };

struct CidrRange {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};
  int prefix = 0;
  std::string text;
};

struct Predicate {
  PredicateKind kind = PredicateKind::kGlob;
  int column = -1;  // column index in the category's table
  Glob glob;
  std::string regex;
  bool case_sensitive = false;               // `cased`, `re` (unless re|i)
  bool regex_multiline = false, regex_dotall = false;
  bool exists = true;
  NumberOp op = NumberOp::kEq;
  double number = 0;
  CidrRange cidr;
  uint32_t pattern_id = 0;  // assigned by Compile() for kGlob / kRegex
};

// One `Field|modifiers: values` entry: AND over groups, each an OR of predicates. Without `all` there
// is one group holding every value; with `all` one group per value (its encoded variants OR-ed).
struct FieldCondition {
  std::string field;  // the Sigma field as written, with modifiers
  std::vector<std::vector<Predicate>> groups;
};

// A named detection item: OR over alternatives (a list of maps), each an AND of field conditions.
struct Selection {
  std::string name;
  std::vector<std::vector<FieldCondition>> alternatives;
};

struct CondNode {
  enum Op : uint8_t { kSelection, kAnd, kOr, kNot } op = kSelection;
  int selection = -1;
  std::vector<CondNode> children;
};

struct CompiledRule {
  SigmaRuleInfo info;
  std::vector<Selection> selections;
  CondNode condition;
  // ActionType values the logsource category implies (empty: any), e.g. file_delete → FileDeleted.
  std::vector<std::string> action_types;
  int action_type_column = -1;
};

inline bool CompareNumber(NumberOp op, double value, double operand) {
  switch (op) {
    case NumberOp::kEq: return value == operand;
    case NumberOp::kLt: return value < operand;
    case NumberOp::kLe: return value <= operand;
    case NumberOp::kGt: return value > operand;
    case NumberOp::kGe: return value >= operand;
  }
  return false;
}

// Evaluates `node` given each selection's truth value.
template <typename SelectionValue>
bool EvaluateCondition(const CondNode& node, const SelectionValue& value) {
  switch (node.op) {
    case CondNode::kSelection:
      return value(node.selection);
    case CondNode::kAnd:
      for (const CondNode& c : node.children)
        if (!EvaluateCondition(c, value)) return false;
      return true;
    case CondNode::kOr:
      for (const CondNode& c : node.children)
        if (EvaluateCondition(c, value)) return true;
      return false;
    case CondNode::kNot:
      return !EvaluateCondition(node.children[0], value);
  }
  return false;
}

// Parses a Sigma condition over `selection_names`; errors name the offending token.
Result<CondNode> ParseCondition(std::string_view text, const std::vector<std::string>& selection_names);
// Sigma value text → glob: `*` and `?` are wildcards, `\*` `\?` `\\` literal, other `\` literal.
Glob ParseGlob(std::string_view value);
// Whole-value glob match (ASCII case-insensitive unless `case_sensitive`); for tests and tools.
bool GlobMatches(const Glob& glob, std::string_view text, bool case_sensitive);
// Parses "10.0.0.0/8", "fe80::/10", or a bare address (full-length prefix).
Result<CidrRange> ParseCidr(std::string_view text);
bool CidrContains(const CidrRange& range, std::string_view ip);
// Sigma encodings (pySigma's algorithms).
std::string Base64Encode(std::string_view bytes);
std::vector<std::string> Base64OffsetVariants(std::string_view bytes);
std::vector<Glob> WindashVariants(const Glob& glob);
// Whether a kRegex predicate compiles (Hyperscan, else RE2); the error says why not.
Status CheckRegex(const Predicate& predicate);

}  // namespace ward::detect::sigma_internal
