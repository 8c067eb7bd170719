// Sigma matching: every string pattern of every rule, per (table, column), in one Hyperscan database
// (RE2::Set for regexes Hyperscan rejects); one scan per cell, then condition trees on hit bits.
// Hyperscan and RE2 stay inside this file.
#include <hs/hs.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>

#include "detect/sigma_rule.h"

namespace ward::detect {
namespace sigma_internal {
namespace {

bool HyperscanUsable() {
  static const bool usable = hs_valid_platform() == HS_SUCCESS;  // needs SSSE3
  return usable;
}

// Glob → regex. Literal bytes other than [A-Za-z0-9] are \xHH-escaped, which both engines read the
// same way; a missing leading / trailing star becomes a \A / \z anchor.
std::string GlobRegex(const Glob& glob) {
  std::string re;
  if (glob.empty() || glob.front().kind != GlobPiece::kStar) re += "\\A";
  for (size_t i = 0; i < glob.size(); ++i) {
    const GlobPiece& p = glob[i];
    if (p.kind == GlobPiece::kStar) {
      if (i != 0 && i + 1 != glob.size()) re += ".*";
    } else if (p.kind == GlobPiece::kQuestion) {
      re += ".";
    } else {
      for (unsigned char c : p.text) {
        if (std::isalnum(c)) {
          re.push_back(static_cast<char>(c));
        } else {
          static constexpr char kHex[] = "0123456789abcdef";
          re += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
        }
      }
    }
  }
  if (glob.empty() || glob.back().kind != GlobPiece::kStar) re += "\\z";
  return re;
}

struct PatternSpec {
  std::string expression;
  unsigned flags = 0;  // Hyperscan flags
};

PatternSpec Spec(const Predicate& p) {
  PatternSpec s;
  s.flags = HS_FLAG_SINGLEMATCH;
  if (!p.case_sensitive) s.flags |= HS_FLAG_CASELESS;
  if (p.kind == PredicateKind::kGlob) {
    s.expression = GlobRegex(p.glob);
    s.flags |= HS_FLAG_DOTALL;  // '*' spans newlines in command lines
  } else {
    s.expression = p.regex;
    s.flags |= HS_FLAG_ALLOWEMPTY;  // a regex that matches "" matches every value, as in a search
    if (p.regex_multiline) s.flags |= HS_FLAG_MULTILINE;
    if (p.regex_dotall) s.flags |= HS_FLAG_DOTALL;
  }
  return s;
}

std::string Re2Text(const PatternSpec& s) {
  std::string flags;
  if (s.flags & HS_FLAG_CASELESS) flags += 'i';
  if (s.flags & HS_FLAG_DOTALL) flags += 's';
  if (s.flags & HS_FLAG_MULTILINE) flags += 'm';
  return flags.empty() ? s.expression : "(?" + flags + ")" + s.expression;
}

RE2::Options Re2Options() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);  // bytes, like Hyperscan without HS_FLAG_UTF8
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  return o;
}

struct HsDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
struct HsScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
using HsDatabase = std::unique_ptr<hs_database_t, HsDatabaseDeleter>;
using HsScratch = std::unique_ptr<hs_scratch_t, HsScratchDeleter>;

// Compiles `specs` into one database; on failure reports the index of the offending expression.
Result<HsDatabase> CompileHs(const std::vector<PatternSpec>& specs, const std::vector<unsigned>& ids,
                             int* bad_index) {
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  for (const PatternSpec& s : specs) {
    exprs.push_back(s.expression.c_str());
    flags.push_back(s.flags);
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  hs_error_t rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                                   HS_MODE_BLOCK, nullptr, &db, &error);
  if (rc != HS_SUCCESS) {
    std::string message = error && error->message ? error->message : "Hyperscan compile failed";
    *bad_index = error ? error->expression : -1;
    hs_free_compile_error(error);
    return Err(InvalidArgument(message));
  }
  return HsDatabase(db);
}

}  // namespace

Status CheckRegex(const Predicate& predicate) {
  PatternSpec spec = Spec(predicate);
  std::string hs_message = "Hyperscan unavailable";
  if (HyperscanUsable()) {
    int bad = -1;
    auto db = CompileHs({spec}, {0}, &bad);
    if (db) return Status::Ok();
    hs_message = db.error().message();
  }
  RE2 re(Re2Text(spec), Re2Options());
  if (re.ok()) return Status::Ok();
  return InvalidArgument("regex '" + predicate.regex + "' compiles neither in Hyperscan (" + hs_message +
                         ") nor in RE2 (" + re.error() + ")");
}

// One column's matchers for one table.
struct ColumnScanner {
  int column = -1;
  HsDatabase hs;
  std::unique_ptr<RE2::Set> re2;
  std::vector<uint32_t> re2_ids;  // RE2::Set index → pattern id
};

struct TableMatcher {
  uint16_t table_id = 0;
  std::string table_name;
  std::vector<std::string> column_names;  // layout the rules were compiled against
  std::vector<ColumnScanner> scanners;
  std::vector<uint32_t> always;  // rules whose condition can hold without any pattern hit
};

struct Scratch {
  HsScratch hs;
  std::vector<uint8_t> hit;     // per pattern id
  std::vector<uint32_t> set;    // pattern ids set in `hit` for this event
  std::vector<uint32_t> stamp;  // per rule: epoch it was queued in
  uint32_t epoch = 0;
  std::vector<uint32_t> candidates;
  std::vector<int> re2_matches;
};

struct Matcher {
  std::vector<TableMatcher> tables;
  std::vector<int> table_slot;                     // table id → index in `tables`, or -1
  std::vector<std::vector<uint32_t>> pattern_rules;  // pattern id → rules using it
  HsScratch prototype;
  std::mutex mu;
  std::vector<std::unique_ptr<Scratch>> pool;

  std::unique_ptr<Scratch> Acquire(size_t rules) {
    {
      std::lock_guard lock(mu);
      if (!pool.empty()) {
        auto s = std::move(pool.back());
        pool.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<Scratch>();
    if (prototype) {
      hs_scratch_t* clone = nullptr;
      if (hs_clone_scratch(prototype.get(), &clone) != HS_SUCCESS) return nullptr;
      s->hs.reset(clone);
    }
    s->hit.assign(pattern_rules.size(), 0);
    s->set.reserve(pattern_rules.size());
    s->stamp.assign(rules, 0);
    s->candidates.reserve(rules);
    return s;
  }
  void Release(std::unique_ptr<Scratch> s) {
    std::lock_guard lock(mu);
    pool.push_back(std::move(s));
  }
};

namespace {

enum class Tri : uint8_t { kFalse, kUnknown, kTrue };

Tri TriAnd(Tri a, Tri b) { return a == Tri::kFalse || b == Tri::kFalse ? Tri::kFalse : a == Tri::kTrue && b == Tri::kTrue ? Tri::kTrue : Tri::kUnknown; }
Tri TriOr(Tri a, Tri b) { return a == Tri::kTrue || b == Tri::kTrue ? Tri::kTrue : a == Tri::kFalse && b == Tri::kFalse ? Tri::kFalse : Tri::kUnknown; }

// A selection's value when no pattern hit (other predicates unknown).
Tri SelectionWithoutHits(const Selection& sel) {
  Tri any = Tri::kFalse;
  for (const auto& alt : sel.alternatives) {
    Tri all = Tri::kTrue;
    for (const FieldCondition& fc : alt) {
      for (const auto& group : fc.groups) {
        Tri g = Tri::kFalse;
        for (const Predicate& p : group) {
          bool pattern = p.kind == PredicateKind::kGlob || p.kind == PredicateKind::kRegex;
          g = TriOr(g, pattern ? Tri::kFalse : Tri::kUnknown);
        }
        all = TriAnd(all, g);
      }
    }
    any = TriOr(any, all);
  }
  return any;
}

Tri ConditionWithoutHits(const CondNode& n, const std::vector<Tri>& sel) {
  switch (n.op) {
    case CondNode::kSelection: return sel[static_cast<size_t>(n.selection)];
    case CondNode::kNot: {
      Tri t = ConditionWithoutHits(n.children[0], sel);
      return t == Tri::kTrue ? Tri::kFalse : t == Tri::kFalse ? Tri::kTrue : Tri::kUnknown;
    }
    case CondNode::kAnd: {
      Tri t = Tri::kTrue;
      for (const CondNode& c : n.children) t = TriAnd(t, ConditionWithoutHits(c, sel));
      return t;
    }
    case CondNode::kOr: {
      Tri t = Tri::kFalse;
      for (const CondNode& c : n.children) t = TriOr(t, ConditionWithoutHits(c, sel));
      return t;
    }
  }
  return Tri::kUnknown;
}

bool Present(const events::CellValue* cell) {
  if (!cell || std::holds_alternative<std::monostate>(*cell)) return false;
  if (const auto* s = std::get_if<std::string>(cell)) return !s->empty();
  return true;
}

bool EvalPredicate(const Predicate& p, const events::Row& row, const Scratch& s) {
  const events::CellValue* cell =
      p.column >= 0 && static_cast<size_t>(p.column) < row.values.size() ? &row.values[static_cast<size_t>(p.column)]
                                                                          : nullptr;
  switch (p.kind) {
    case PredicateKind::kGlob:
    case PredicateKind::kRegex:
      return s.hit[p.pattern_id] != 0;
    case PredicateKind::kNull:
      return !Present(cell);
    case PredicateKind::kExists:
      return Present(cell) == p.exists;
    case PredicateKind::kNumber: {
      if (!cell) return false;
      double v;
      if (const auto* i = std::get_if<int64_t>(cell)) v = static_cast<double>(*i);
      else if (const auto* d = std::get_if<double>(cell)) v = *d;
      else if (const auto* str = std::get_if<std::string>(cell)) {
        auto [ptr, ec] = std::from_chars(str->data(), str->data() + str->size(), v);
        if (ec != std::errc() || ptr != str->data() + str->size()) return false;
      } else {
        return false;
      }
      return CompareNumber(p.op, v, p.number);
    }
    case PredicateKind::kCidr: {
      const auto* str = cell ? std::get_if<std::string>(cell) : nullptr;
      return str && CidrContains(p.cidr, *str);
    }
  }
  return false;
}

bool EvalSelection(const Selection& sel, const events::Row& row, const Scratch& s) {
  for (const auto& alt : sel.alternatives) {
    bool all = true;
    for (const FieldCondition& fc : alt) {
      for (const auto& group : fc.groups) {
        bool any = false;
        for (const Predicate& p : group)
          if ((any = EvalPredicate(p, row, s))) break;
        if (!(all = any)) break;
      }
      if (!all) break;
    }
    if (all) return true;
  }
  return false;
}

bool ActionTypeAllowed(const CompiledRule& rule, const events::Row& row) {
  if (rule.action_types.empty()) return true;
  size_t col = static_cast<size_t>(rule.action_type_column);
  const auto* action = col < row.values.size() ? std::get_if<std::string>(&row.values[col]) : nullptr;
  return action && std::find(rule.action_types.begin(), rule.action_types.end(), *action) != rule.action_types.end();
}

int OnHsMatch(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  auto* s = static_cast<Scratch*>(ctx);
  if (!s->hit[id]) {
    s->hit[id] = 1;
    s->set.push_back(id);
  }
  return 0;
}

}  // namespace
}  // namespace sigma_internal

using namespace sigma_internal;

SigmaRuleSet::SigmaRuleSet(const events::SchemaRegistry& registry) : registry_(&registry) {}
SigmaRuleSet::~SigmaRuleSet() = default;
SigmaRuleSet::SigmaRuleSet(SigmaRuleSet&&) noexcept = default;
SigmaRuleSet& SigmaRuleSet::operator=(SigmaRuleSet&&) noexcept = default;

size_t SigmaRuleSet::size() const { return rules_.size(); }
const SigmaRuleInfo& SigmaRuleSet::rule(size_t index) const { return rules_.at(index)->info; }
const CompiledRule& SigmaRuleSet::compiled_rule(size_t index) const { return *rules_.at(index); }
bool SigmaRuleSet::compiled() const { return matcher_ != nullptr; }
void SigmaRuleSet::Invalidate() { matcher_.reset(); }

Status SigmaRuleSet::Compile() {
  auto m = std::make_unique<Matcher>();
  m->table_slot.assign(registry_->tables().size(), -1);
  // (table slot, column) → patterns; identical patterns of different rules share one id.
  std::map<std::pair<int, int>, std::vector<std::pair<PatternSpec, uint32_t>>> by_column;
  std::map<std::tuple<int, int, std::string, unsigned>, uint32_t> dedupe;
  for (uint32_t r = 0; r < rules_.size(); ++r) {
    CompiledRule& rule = *rules_[r];
    const events::TableDef* table = registry_->Find(SigmaTableName(rule.info.category));
    if (!table) return Internal("no table for Sigma category");
    int& slot = m->table_slot[table->id];
    if (slot < 0) {
      slot = static_cast<int>(m->tables.size());
      TableMatcher tm;
      tm.table_id = table->id;
      tm.table_name = table->name;
      for (const events::ColumnDef& c : table->columns) tm.column_names.push_back(c.name);
      m->tables.push_back(std::move(tm));
    }
    std::vector<Tri> without_hits;
    for (Selection& sel : rule.selections) {
      for (auto& alt : sel.alternatives)
        for (FieldCondition& fc : alt)
          for (auto& group : fc.groups)
            for (Predicate& p : group) {
              if (p.kind != PredicateKind::kGlob && p.kind != PredicateKind::kRegex) continue;
              PatternSpec spec = Spec(p);
              auto [it, fresh] = dedupe.try_emplace({slot, p.column, spec.expression, spec.flags},
                                                    static_cast<uint32_t>(m->pattern_rules.size()));
              if (fresh) {
                m->pattern_rules.emplace_back();
                by_column[{slot, p.column}].push_back({spec, it->second});
              }
              p.pattern_id = it->second;
              auto& users = m->pattern_rules[p.pattern_id];
              if (users.empty() || users.back() != r) users.push_back(r);
            }
      without_hits.push_back(SelectionWithoutHits(sel));
    }
    if (ConditionWithoutHits(rule.condition, without_hits) != Tri::kFalse)
      m->tables[static_cast<size_t>(slot)].always.push_back(r);
  }

  for (auto& [key, patterns] : by_column) {
    ColumnScanner scanner;
    scanner.column = key.second;
    std::vector<PatternSpec> hs_specs, re2_specs;
    std::vector<unsigned> hs_ids;
    for (auto& [spec, id] : patterns) {
      (HyperscanUsable() ? hs_specs : re2_specs).push_back(spec);
      if (HyperscanUsable()) hs_ids.push_back(id);
      else scanner.re2_ids.push_back(id);
    }
    // A regex Hyperscan rejects (CheckRegex let it through for RE2) moves to the RE2 set.
    while (!hs_specs.empty()) {
      int bad = -1;
      auto db = CompileHs(hs_specs, hs_ids, &bad);
      if (db) {
        scanner.hs = std::move(*db);
        break;
      }
      if (bad < 0 || static_cast<size_t>(bad) >= hs_specs.size()) return Internal("Hyperscan: " + db.error().message());
      re2_specs.push_back(hs_specs[static_cast<size_t>(bad)]);
      scanner.re2_ids.push_back(hs_ids[static_cast<size_t>(bad)]);
      hs_specs.erase(hs_specs.begin() + bad);
      hs_ids.erase(hs_ids.begin() + bad);
    }
    if (!re2_specs.empty()) {
      scanner.re2 = std::make_unique<RE2::Set>(Re2Options(), RE2::UNANCHORED);
      for (const PatternSpec& s : re2_specs) {
        std::string error;
        if (scanner.re2->Add(Re2Text(s), &error) < 0) return Internal("RE2: " + error);
      }
      if (!scanner.re2->Compile()) return Internal("RE2 set compile failed (out of memory?)");
    }
    if (scanner.hs) {
      hs_scratch_t* raw = m->prototype.release();
      if (hs_alloc_scratch(scanner.hs.get(), &raw) != HS_SUCCESS) return Internal("Hyperscan scratch allocation");
      m->prototype.reset(raw);
    }
    m->tables[static_cast<size_t>(key.first)].scanners.push_back(std::move(scanner));
  }
  matcher_ = std::move(m);
  return Status::Ok();
}

Status SigmaRuleSet::Match(const events::RowBatch& batch, const events::SchemaRegistry& registry,
                           std::vector<SigmaHit>* hits) const {
  if (!matcher_) return FailedPrecondition("Sigma rules are not compiled");
  Matcher& m = *matcher_;
  if (&registry != registry_) {
    for (const TableMatcher& tm : m.tables) {
      const events::TableDef* t = registry.Find(tm.table_name);
      bool same = t && t->id == tm.table_id && t->columns.size() == tm.column_names.size();
      for (size_t c = 0; same && c < tm.column_names.size(); ++c) same = t->columns[c].name == tm.column_names[c];
      if (!same) return FailedPrecondition(tm.table_name + " differs from the schema the Sigma rules compiled against");
    }
  }
  std::unique_ptr<Scratch> s = m.Acquire(rules_.size());
  if (!s) return ResourceExhausted("Hyperscan scratch allocation failed");
  Status status;
  for (uint32_t ri = 0; ri < batch.rows.size(); ++ri) {
    const events::Row& row = batch.rows[ri];
    if (row.table >= m.table_slot.size() || m.table_slot[row.table] < 0) continue;
    const TableMatcher& tm = m.tables[static_cast<size_t>(m.table_slot[row.table])];
    for (const ColumnScanner& sc : tm.scanners) {
      if (static_cast<size_t>(sc.column) >= row.values.size()) continue;
      const events::CellValue& cell = row.values[static_cast<size_t>(sc.column)];
      std::string_view text;
      char number[24];
      if (const auto* str = std::get_if<std::string>(&cell)) {
        text = *str;
      } else if (const auto* i = std::get_if<int64_t>(&cell)) {
        // Numeric columns with text patterns (e.g. RemotePort|startswith) match the decimal form.
        auto [end, ec] = std::to_chars(number, number + sizeof(number), *i);
        text = std::string_view(number, static_cast<size_t>(end - number));
      } else {
        continue;
      }
      if (sc.hs) {
        // hs_scan takes a non-null pointer even for an empty value.
        hs_error_t rc = hs_scan(sc.hs.get(), text.empty() ? "" : text.data(), static_cast<unsigned>(text.size()), 0,
                                s->hs.get(), OnHsMatch, s.get());
        if (rc != HS_SUCCESS && status.ok()) status = Internal("hs_scan failed: " + std::to_string(rc));
      }
      if (sc.re2) {
        s->re2_matches.clear();
        if (sc.re2->Match(text, &s->re2_matches))
          for (int idx : s->re2_matches) OnHsMatch(sc.re2_ids[static_cast<size_t>(idx)], 0, 0, 0, s.get());
      }
    }
    if (++s->epoch == 0) {
      std::fill(s->stamp.begin(), s->stamp.end(), 0);
      s->epoch = 1;
    }
    auto queue = [&](uint32_t rule) {
      if (s->stamp[rule] != s->epoch) {
        s->stamp[rule] = s->epoch;
        s->candidates.push_back(rule);
      }
    };
    for (uint32_t id : s->set)
      for (uint32_t rule : m.pattern_rules[id]) queue(rule);
    for (uint32_t rule : tm.always) queue(rule);
    std::sort(s->candidates.begin(), s->candidates.end());
    for (uint32_t r : s->candidates) {
      const CompiledRule& rule = *rules_[r];
      if (!ActionTypeAllowed(rule, row)) continue;
      bool fires = EvaluateCondition(rule.condition, [&](int sel) {
        return EvalSelection(rule.selections[static_cast<size_t>(sel)], row, *s);
      });
      if (fires) hits->push_back({ri, r});
    }
    for (uint32_t id : s->set) s->hit[id] = 0;
    s->set.clear();
    s->candidates.clear();
  }
  m.Release(std::move(s));
  return status;
}

}  // namespace ward::detect
