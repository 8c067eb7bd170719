#pragma once
// Test support for Sigma: events by column name, a naive reference evaluator (glob matching and
// std::regex, one rule at a time — deliberately unlike the Hyperscan engine it cross-checks), and a
// synthesiser that derives from a rule's own detection an event it must fire on and the same event
// with one required selection broken.
#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <bit>
#include <regex>
#include <string>
#include <vector>

#include "detect/sigma.h"
#include "detect/sigma_rule.h"
#include "events/rows.h"
#include "events/schema.h"

namespace ward::detect::testing {

using namespace sigma_internal;

// The three Linux categories, short.
constexpr SigmaCategory kProc = SigmaCategory::kProcessCreation;
constexpr SigmaCategory kFile = SigmaCategory::kFileEvent;
constexpr SigmaCategory kNet = SigmaCategory::kNetworkConnection;

inline const events::TableDef& TableOf(SigmaCategory c) {
  return *events::SchemaRegistry::Hunting().Find(SigmaTableName(c));
}

inline events::Row EmptyRow(SigmaCategory c) {
  const events::TableDef& t = TableOf(c);
  events::Row row;
  row.table = t.id;
  row.values.resize(t.columns.size());
  static constexpr std::string_view kDefaultAction[] = {"ProcessCreated", "FileCreated", "ConnectionSuccess"};
  row.values[static_cast<size_t>(t.Find("ActionType"))] = std::string(kDefaultAction[static_cast<int>(c)]);
  return row;
}

inline void Set(events::Row& row, SigmaCategory c, std::string_view column, events::CellValue v) {
  int i = TableOf(c).Find(column);
  if (i < 0) throw std::runtime_error("no column " + std::string(column));
  row.values[static_cast<size_t>(i)] = std::move(v);
}

// ---- reference evaluator ------------------------------------------------------------------------

inline bool RefPredicate(const Predicate& p, const events::Row& row) {
  const events::CellValue& cell = row.values[static_cast<size_t>(p.column)];
  std::string text;
  bool present = true;
  if (const auto* s = std::get_if<std::string>(&cell)) text = *s, present = !s->empty();
  else if (const auto* i = std::get_if<int64_t>(&cell)) text = std::to_string(*i);
  else present = false;
  switch (p.kind) {
    case PredicateKind::kGlob: return present && GlobMatches(p.glob, text, p.case_sensitive);
    case PredicateKind::kRegex: {
      auto flags = std::regex::ECMAScript;
      if (!p.case_sensitive) flags |= std::regex::icase;
      if (p.regex_multiline) flags |= std::regex::multiline;
      return std::holds_alternative<std::string>(cell) && std::regex_search(text, std::regex(p.regex, flags));
    }
    case PredicateKind::kNull: return !present;
    case PredicateKind::kExists: return present == p.exists;
    case PredicateKind::kNumber: {
      if (!present) return false;
      double v;
      try { v = std::stod(text); } catch (...) { return false; }
      return CompareNumber(p.op, v, p.number);
    }
    case PredicateKind::kCidr: return present && CidrContains(p.cidr, text);
  }
  return false;
}

inline bool RefSelection(const Selection& sel, const events::Row& row) {
  return std::any_of(sel.alternatives.begin(), sel.alternatives.end(), [&](const auto& alt) {
    return std::all_of(alt.begin(), alt.end(), [&](const FieldCondition& fc) {
      return std::all_of(fc.groups.begin(), fc.groups.end(), [&](const auto& group) {
        return std::any_of(group.begin(), group.end(), [&](const Predicate& p) { return RefPredicate(p, row); });
      });
    });
  });
}

inline bool RefAction(const CompiledRule& rule, const events::Row& row) {
  if (rule.action_types.empty()) return true;
  const auto* a = std::get_if<std::string>(&row.values[static_cast<size_t>(rule.action_type_column)]);
  return a && std::find(rule.action_types.begin(), rule.action_types.end(), *a) != rule.action_types.end();
}

inline std::vector<bool> RefSelections(const CompiledRule& rule, const events::Row& row) {
  std::vector<bool> v;
  for (const Selection& s : rule.selections) v.push_back(RefSelection(s, row));
  return v;
}

inline bool RefCondition(const CompiledRule& rule, const std::vector<bool>& sel) {
  return EvaluateCondition(rule.condition, [&](int i) { return static_cast<bool>(sel[static_cast<size_t>(i)]); });
}

inline bool RefFires(const CompiledRule& rule, const events::Row& row) {
  return RefAction(rule, row) && RefCondition(rule, RefSelections(rule, row));
}

// ---- witnesses ---------------------------------------------------------------------------------

// A string matching `re` (the subset Sigma rules use: literals, escapes, classes, groups, quantifiers).
class RegexWitness {
 public:
  explicit RegexWitness(std::string_view re) : re_(re) {}
  std::string Build() { return Alternation(); }

 private:
  std::string Alternation() {
    std::string first = Sequence();
    while (pos_ < re_.size() && re_[pos_] == '|') {
      ++pos_;
      Sequence();  // other branches are parsed and dropped
    }
    return first;
  }
  std::string Sequence() {
    std::string out;
    while (pos_ < re_.size() && re_[pos_] != '|' && re_[pos_] != ')') {
      std::string atom = Atom();
      int reps = Quantifier();
      for (int i = 0; i < reps; ++i) out += atom;
    }
    return out;
  }
  int Quantifier() {
    if (pos_ >= re_.size()) return 1;
    int reps = 1;
    char c = re_[pos_];
    if (c == '*' || c == '?') reps = 0, ++pos_;
    else if (c == '+') ++pos_;
    else if (c == '{') {
      size_t close = re_.find('}', pos_);
      reps = std::stoi(std::string(re_.substr(pos_ + 1, close - pos_ - 1)));
      pos_ = close + 1;
    } else {
      return 1;
    }
    if (pos_ < re_.size() && re_[pos_] == '?') ++pos_;  // lazy
    return reps;
  }
  static std::string Escape(char c) {
    switch (c) {
      case 's': return " ";
      case 'd': return "0";
      case 'w': return "a";
      case 'S': case 'D': return "x";
      case 'W': return "-";
      case 'b': case 'B': return "";
      case 'n': return "\n";
      case 't': return "\t";
      default: return std::string(1, c);
    }
  }
  std::string Atom() {
    char c = re_[pos_++];
    if (c == '(') {
      if (re_.substr(pos_, 2) == "?:") pos_ += 2;
      std::string inner = Alternation();
      ++pos_;  // ')'
      return inner;
    }
    if (c == '[') return Class();
    if (c == '\\') return Escape(re_[pos_++]);
    if (c == '.') return "x";
    if (c == '^' || c == '$') return "";
    return std::string(1, c);
  }
  std::string Class() {
    bool negated = pos_ < re_.size() && re_[pos_] == '^';
    if (negated) ++pos_;
    std::string members;
    bool first = true;
    while (pos_ < re_.size() && (re_[pos_] != ']' || first)) {
      first = false;
      char c = re_[pos_++];
      if (c == '\\') {
        char e = re_[pos_++];
        members += e == 's' ? std::string(" \t\n") : Escape(e);
      } else if (pos_ + 1 < re_.size() && re_[pos_] == '-' && re_[pos_ + 1] != ']') {
        for (char x = c; x <= re_[pos_ + 1]; ++x) members.push_back(x);
        pos_ += 2;
      } else {
        members.push_back(c);
      }
    }
    ++pos_;  // ']'
    if (!negated) return std::string(1, members.empty() ? 'x' : members[0]);
    for (char candidate : std::string("aZ0x_")) {
      if (members.find(candidate) == std::string::npos) return std::string(1, candidate);
    }
    return "#";
  }
  std::string_view re_;
  size_t pos_ = 0;
};

inline std::string Instantiate(const Glob& g) {
  std::string s;
  for (const GlobPiece& p : g) s += p.kind == GlobPiece::kLiteral ? p.text : p.kind == GlobPiece::kQuestion ? "x" : "";
  return s;
}

// The value for one column satisfying `constraints` (best effort: the reference evaluator checks).
inline events::CellValue ColumnValue(const std::vector<const Predicate*>& constraints, bool numeric) {
  std::string prefix, middle, suffix;
  std::optional<std::string> exact;
  std::optional<double> number;
  bool any_text = false, want_null = false;
  for (const Predicate* p : constraints) {
    switch (p->kind) {
      case PredicateKind::kNull: want_null = true; break;
      case PredicateKind::kExists:
        if (!p->exists) want_null = true;
        else any_text = true;
        break;
      case PredicateKind::kNumber:
        number = p->op == NumberOp::kLt ? p->number - 1 : p->op == NumberOp::kGt ? p->number + 1 : p->number;
        break;
      case PredicateKind::kCidr: {
        auto addr = p->cidr.addr;
        int bits = p->cidr.v6 ? 128 : 32;
        if (p->cidr.prefix < bits) addr[static_cast<size_t>(bits / 8 - 1)] |= 1;
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(p->cidr.v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof(buf));
        exact = buf;
        break;
      }
      case PredicateKind::kRegex: middle += RegexWitness(p->regex).Build(); break;
      case PredicateKind::kGlob: {
        const Glob& g = p->glob;
        bool start = g.front().kind != GlobPiece::kStar, end = g.back().kind != GlobPiece::kStar;
        std::string text = Instantiate(g);
        if (start && end) exact = text;
        else if (start) prefix = text.size() > prefix.size() ? text : prefix;
        else if (end) suffix = text.size() > suffix.size() ? text : suffix;
        else middle += text;
        break;
      }
    }
  }
  if (want_null) return std::monostate{};
  std::string text = exact ? *exact : prefix + middle + suffix;
  if (number && text.empty()) {
    if (numeric) return static_cast<int64_t>(*number);
    return std::to_string(static_cast<int64_t>(*number));
  }
  if (text.empty() && any_text) text = "x";
  if (text.empty()) return std::monostate{};
  if (numeric) {
    try { return static_cast<int64_t>(std::stoll(text)); } catch (...) { return text; }
  }
  return text;
}

struct Synthesised {
  events::Row positive;
  events::Row broken;
  std::string broken_selection;  // what was broken, for messages
};

class EventSynth {
 public:
  explicit EventSynth(const CompiledRule& rule) : rule_(rule), table_(TableOf(rule.info.category)) {}

  // The constraints of `selection` (choice `k` among its alternatives and values), by column.
  void Collect(size_t selection, size_t k, std::map<int, std::vector<const Predicate*>>* by_column) const {
    const Selection& sel = rule_.selections[selection];
    const auto& alt = sel.alternatives[k % sel.alternatives.size()];
    for (const FieldCondition& fc : alt)
      for (const auto& group : fc.groups) {
        const Predicate& p = group[(k / sel.alternatives.size()) % group.size()];
        (*by_column)[p.column].push_back(&p);
      }
  }

  // An event where the selections in `mask` hold (if the constraints are compatible).
  events::Row Make(uint32_t mask, size_t k) const {
    events::Row row = EmptyRow(rule_.info.category);
    if (!rule_.action_types.empty())
      row.values[static_cast<size_t>(rule_.action_type_column)] = rule_.action_types[0];
    std::map<int, std::vector<const Predicate*>> by_column;
    for (size_t i = 0; i < rule_.selections.size(); ++i)
      if ((mask >> i) & 1) Collect(i, k, &by_column);
    for (auto& [column, preds] : by_column) {
      auto type = table_.columns[static_cast<size_t>(column)].type;
      bool numeric = type == events::ColumnType::kLong || type == events::ColumnType::kInt;
      row.values[static_cast<size_t>(column)] = ColumnValue(preds, numeric);
    }
    return row;
  }

  std::optional<Synthesised> Build(std::string* why) const {
    size_t n = rule_.selections.size();
    if (n > 16) {
      *why = "too many selections to enumerate";
      return std::nullopt;
    }
    // Assignments of selection truth values that satisfy the condition, fewest true first.
    std::vector<uint32_t> masks;
    for (uint32_t m = 0; m < (1u << n); ++m) {
      std::vector<bool> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = (m >> i) & 1;
      if (RefCondition(rule_, v)) masks.push_back(m);
    }
    std::stable_sort(masks.begin(), masks.end(),
                     [](uint32_t a, uint32_t b) { return std::popcount(a) < std::popcount(b); });
    for (uint32_t mask : masks) {
      for (size_t k = 0; k < 24; ++k) {
        events::Row row = Make(mask, k);
        if (!RefFires(rule_, row)) continue;
        if (auto broken = Break(row, mask, k)) return Synthesised{row, broken->first, broken->second};
      }
    }
    *why = "no event satisfying the condition was found";
    return std::nullopt;
  }

 private:
  // The positive event with one selection flipped so that the condition no longer holds.
  std::optional<std::pair<events::Row, std::string>> Break(const events::Row& positive, uint32_t mask,
                                                           size_t k) const {
    std::vector<bool> actual = RefSelections(rule_, positive);
    for (size_t s = 0; s < actual.size(); ++s) {
      std::vector<bool> flipped = actual;
      flipped[s] = !flipped[s];
      if (RefCondition(rule_, flipped)) continue;  // not required
      events::Row row = positive;
      if (actual[s]) {
        // Break one field condition in every alternative: its columns take a value none matches.
        for (const auto& alt : rule_.selections[s].alternatives)
          for (const auto& group : alt.front().groups)
            for (const Predicate& p : group) row.values[static_cast<size_t>(p.column)] = Neutral(p, row);
      } else {
        row = Make(mask | (1u << s), k);
      }
      if (!RefFires(rule_, row)) return std::pair{row, rule_.selections[s].name + (actual[s] ? " broken" : " made true")};
    }
    return std::nullopt;
  }

  events::CellValue Neutral(const Predicate& p, const events::Row& row) const {
    auto type = table_.columns[static_cast<size_t>(p.column)].type;
    bool numeric = type == events::ColumnType::kLong || type == events::ColumnType::kInt;
    if (p.kind == PredicateKind::kNull || (p.kind == PredicateKind::kExists && !p.exists))
      return numeric ? events::CellValue(int64_t{65000}) : events::CellValue(std::string("ward-neutral"));
    return std::monostate{};
  }

  const CompiledRule& rule_;
  const events::TableDef& table_;
};

}  // namespace ward::detect::testing
