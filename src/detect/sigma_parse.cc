// Sigma YAML → CompiledRule. yaml-cpp stays inside this file; its exceptions stop here.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "detect/sigma_fields.h"
#include "detect/sigma_rule.h"

namespace ward::detect {
namespace sigma_internal {
namespace {

constexpr size_t kMaxRuleBytes = 1 << 20;
constexpr size_t kMaxVariants = 1024;  // windash/base64offset expansion per value

// Why a rule did not load: a failure, or a rule that is valid but outside what Ward evaluates.
struct Problem {
  SigmaLoadState state;
  std::string reason;
};
template <typename T>
using Parsed = std::expected<T, Problem>;

std::unexpected<Problem> Fail(const YAML::Node& at, std::string why) {
  if (at && at.Mark().line >= 0) why = "line " + std::to_string(at.Mark().line + 1) + ": " + why;
  return std::unexpected(Problem{SigmaLoadState::kFailed, std::move(why)});
}
std::unexpected<Problem> NotApplicable(std::string why) {
  return std::unexpected(Problem{SigmaLoadState::kNotApplicable, std::move(why)});
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ScalarOr(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  return n && n.IsScalar() ? n.Scalar() : std::string();
}

enum class Modifier {
  kContains, kStartsWith, kEndsWith, kAll, kRe, kReI, kReM, kReS, kCidr, kBase64, kBase64Offset, kWindash,
  kExists, kLt, kLte, kGt, kGte, kCased, kUtf16Le, kUtf16Be, kUtf16,
};

const std::vector<std::pair<std::string_view, Modifier>>& ModifierNames() {
  static const std::vector<std::pair<std::string_view, Modifier>> kNames = {
      {"contains", Modifier::kContains}, {"startswith", Modifier::kStartsWith}, {"endswith", Modifier::kEndsWith},
      {"all", Modifier::kAll},           {"re", Modifier::kRe},                 {"i", Modifier::kReI},
      {"m", Modifier::kReM},             {"s", Modifier::kReS},                 {"cidr", Modifier::kCidr},
      {"base64", Modifier::kBase64},     {"base64offset", Modifier::kBase64Offset},
      {"windash", Modifier::kWindash},   {"exists", Modifier::kExists},         {"lt", Modifier::kLt},
      {"lte", Modifier::kLte},           {"gt", Modifier::kGt},                 {"gte", Modifier::kGte},
      {"cased", Modifier::kCased},       {"wide", Modifier::kUtf16Le},          {"utf16le", Modifier::kUtf16Le},
      {"utf16be", Modifier::kUtf16Be},   {"utf16", Modifier::kUtf16},
  };
  return kNames;
}

// UTF-8 → UTF-16 (little- or big-endian) bytes; invalid sequences pass through as Latin-1.
std::string Utf16(std::string_view s, bool big_endian) {
  std::string out;
  auto unit = [&](uint16_t u) {
    char lo = static_cast<char>(u & 0xff), hi = static_cast<char>(u >> 8);
    if (big_endian) out += {hi, lo};
    else out += {lo, hi};
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    uint32_t cp = c;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (len > 1 && i + len <= s.size()) {
      cp = c & (0xff >> (len + 1));
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    } else {
      len = 1;
    }
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(static_cast<uint16_t>(0xD800 + (cp >> 10)));
      unit(static_cast<uint16_t>(0xDC00 + (cp & 0x3ff)));
    } else {
      unit(static_cast<uint16_t>(cp));
    }
  }
  return out;
}

bool HasWildcard(const Glob& g) {
  return std::any_of(g.begin(), g.end(), [](const GlobPiece& p) { return p.kind != GlobPiece::kLiteral; });
}
std::string LiteralText(const Glob& g) {
  std::string s;
  for (const GlobPiece& p : g) s += p.text;
  return s;
}
bool AllStars(const Glob& g) {
  return std::all_of(g.begin(), g.end(), [](const GlobPiece& p) { return p.kind == GlobPiece::kStar; });
}
void AddStar(Glob& g, bool front) {
  GlobPiece star{GlobPiece::kStar, ""};
  if (front) {
    if (g.empty() || g.front().kind != GlobPiece::kStar) g.insert(g.begin(), star);
  } else if (g.empty() || g.back().kind != GlobPiece::kStar) {
    g.push_back(star);
  }
}

std::optional<double> ParseNumber(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}
bool IsInteger(std::string_view s) {
  size_t i = s.starts_with('-') ? 1 : 0;
  return s.size() > i && s.size() < 19 &&
         std::all_of(s.begin() + i, s.end(), [](unsigned char c) { return std::isdigit(c); });
}

struct RawValue {
  bool is_null = false;
  std::string text;
  YAML::Node node;
};

class RuleBuilder {
 public:
  RuleBuilder(const events::SchemaRegistry& registry) : registry_(registry) {}

  Parsed<CompiledRule> Build(const YAML::Node& doc) {
    if (!doc.IsMap()) return Fail(doc, "a rule is a YAML mapping");
    CompiledRule rule;
    SigmaRuleInfo& info = rule.info;
    info.title = ScalarOr(doc, "title");
    if (info.title.empty()) return Fail(doc, "missing 'title'");
    info.id = ScalarOr(doc, "id");
    info.status = ScalarOr(doc, "status");
    info.description = ScalarOr(doc, "description");
    info.level = Lower(ScalarOr(doc, "level"));
    if (info.level.empty()) info.level = "medium";
    static constexpr std::string_view kLevels[] = {"informational", "low", "medium", "high", "critical"};
    if (std::find(std::begin(kLevels), std::end(kLevels), info.level) == std::end(kLevels))
      return Fail(doc["level"], "unknown level '" + info.level + "'");
    if (YAML::Node tags = doc["tags"]; tags) {
      if (!tags.IsSequence()) return Fail(tags, "'tags' must be a list");
      for (const YAML::Node& t : tags) {
        if (!t.IsScalar()) return Fail(t, "a tag must be a string");
        info.tags.push_back(t.Scalar());
        std::string lower = Lower(t.Scalar());
        // attack.t1059 / attack.t1059.004 → T1059 / T1059.004
        if (lower.size() > 8 && lower.starts_with("attack.t") && std::isdigit(static_cast<unsigned char>(lower[8]))) {
          std::string technique = "T" + lower.substr(8);
          for (char& c : technique) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          info.mitre_techniques.push_back(technique);
        }
      }
    }
    YAML::Node logsource = doc["logsource"];
    if (!logsource || !logsource.IsMap()) return Fail(doc, "missing 'logsource' mapping");
    YAML::Node detection = doc["detection"];
    if (!detection || !detection.IsMap()) return Fail(doc, "missing 'detection' mapping");

    // Syntax first (a broken rule is a failure whatever its logsource), then applicability.
    std::vector<std::string> names;
    std::vector<YAML::Node> bodies;
    YAML::Node condition_node;
    bool has_condition = false;  // a default YAML::Node is a defined null, so track presence apart
    for (auto it = detection.begin(); it != detection.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (key == "condition") {
        condition_node = it->second;
        has_condition = true;
      } else if (key == "timeframe") {
        return Fail(it->first, "'timeframe' (correlation over time) is not supported");
      } else {
        names.push_back(key);
        bodies.push_back(it->second);
      }
    }
    if (!has_condition) return Fail(detection, "detection has no 'condition'");
    std::vector<std::string> conditions;
    if (condition_node.IsScalar()) {
      conditions.push_back(condition_node.Scalar());
    } else if (condition_node.IsSequence()) {
      for (const YAML::Node& c : condition_node) {
        if (!c.IsScalar()) return Fail(c, "a condition must be a string");
        conditions.push_back(c.Scalar());
      }
    } else {
      return Fail(condition_node, "'condition' must be a string or a list of strings");
    }
    CondNode root{CondNode::kOr, -1, {}};
    for (const std::string& text : conditions) {
      auto parsed = ParseCondition(text, names);
      if (!parsed) return Fail(condition_node, "condition '" + text + "': " + parsed.error().message());
      root.children.push_back(std::move(*parsed));
    }
    // A list of conditions means any of them (Sigma specification).
    rule.condition = root.children.size() == 1 ? std::move(root.children[0]) : std::move(root);

    std::string product = Lower(ScalarOr(logsource, "product"));
    std::string service = ScalarOr(logsource, "service");
    info.logsource_category = ScalarOr(logsource, "category");
    if (product != "linux")
      return NotApplicable(product.empty() ? "logsource has no product (Ward evaluates product: linux)"
                                           : "product '" + product + "' (Ward evaluates product: linux)");
    if (!service.empty()) return NotApplicable("logsource service '" + service + "' is not collected by Ward");
    const CategorySpec* spec = nullptr;
    for (const CategorySpec& c : SigmaCategories())
      if (c.name == Lower(info.logsource_category)) spec = &c;
    if (!spec)
      return NotApplicable(info.logsource_category.empty()
                               ? std::string("logsource has no category")
                               : "category '" + info.logsource_category + "' is not evaluated by Ward");
    info.category = spec->category;
    table_ = registry_.Find(SigmaTableName(spec->category));
    if (!table_) return Fail(doc, "the schema registry has no table " + std::string(SigmaTableName(spec->category)));
    for (std::string_view a : spec->action_types) rule.action_types.emplace_back(a);
    rule.action_type_column = table_->Find("ActionType");

    for (size_t i = 0; i < names.size(); ++i) {
      Selection sel;
      sel.name = names[i];
      const YAML::Node& body = bodies[i];
      if (body.IsMap()) {
        auto alt = Alternative(body);
        if (!alt) return std::unexpected(alt.error());
        sel.alternatives.push_back(std::move(*alt));
      } else if (body.IsSequence() && body.size() > 0 &&
                 std::all_of(body.begin(), body.end(), [](const YAML::Node& n) { return n.IsMap(); })) {
        for (const YAML::Node& m : body) {
          auto alt = Alternative(m);
          if (!alt) return std::unexpected(alt.error());
          sel.alternatives.push_back(std::move(*alt));
        }
      } else if (body.IsSequence() || body.IsScalar()) {
        return Fail(body, "selection '" + names[i] + "': keyword (field-less) search is not supported");
      } else {
        return Fail(body, "selection '" + names[i] + "' must be a mapping or a list of mappings");
      }
      rule.selections.push_back(std::move(sel));
    }
    return rule;
  }

 private:
  Parsed<std::vector<FieldCondition>> Alternative(const YAML::Node& map) {
    std::vector<FieldCondition> out;
    if (map.size() == 0) return Fail(map, "empty selection");
    for (auto it = map.begin(); it != map.end(); ++it) {
      auto fc = Field(it->first, it->second);
      if (!fc) return std::unexpected(fc.error());
      out.push_back(std::move(*fc));
    }
    return out;
  }

  Parsed<FieldCondition> Field(const YAML::Node& key_node, const YAML::Node& value_node) {
    FieldCondition fc;
    fc.field = key_node.as<std::string>();
    std::vector<std::string> parts;
    std::stringstream ss(fc.field);
    for (std::string part; std::getline(ss, part, '|');) parts.push_back(part);
    if (parts.empty() || parts[0].empty())
      return Fail(key_node, "'" + fc.field + "': keyword (field-less) search is not supported");
    std::vector<Modifier> mods;
    for (size_t i = 1; i < parts.size(); ++i) {
      auto m = std::find_if(ModifierNames().begin(), ModifierNames().end(),
                            [&](const auto& p) { return p.first == parts[i]; });
      if (m == ModifierNames().end()) return Fail(key_node, "unsupported modifier '" + parts[i] + "'");
      mods.push_back(m->second);
    }
    std::vector<RawValue> values;
    auto add_value = [&](const YAML::Node& n) -> bool {
      if (n.IsNull()) values.push_back({true, "", n});
      else if (n.IsScalar()) values.push_back({false, n.Scalar(), n});
      else return false;
      return true;
    };
    if (value_node.IsSequence()) {
      for (const YAML::Node& n : value_node)
        if (!add_value(n)) return Fail(n, "'" + fc.field + "': values must be strings, numbers or null");
      if (values.empty()) return Fail(value_node, "'" + fc.field + "': empty value list");
    } else if (!add_value(value_node)) {
      return Fail(value_node, "'" + fc.field + "': values must be strings, numbers or null");
    }

    const std::string& field = parts[0];
    const SigmaFieldMapping* mapping = FindFieldMapping(table_category(), field);
    if (!mapping)
      return NotApplicable("field '" + field + "' has no Ward column for " + std::string(category_name()));
    bool all = std::find(mods.begin(), mods.end(), Modifier::kAll) != mods.end();
    if (!all) fc.groups.emplace_back();
    for (const RawValue& v : values) {
      std::vector<Predicate> preds;
      if (mapping->ward_column.empty() && field == "Hashes") {
        auto p = HashPredicates(v);
        if (!p) return std::unexpected(p.error());
        preds = std::move(*p);
      } else if (mapping->ward_column.empty()) {
        return NotApplicable("field '" + field + "': " + std::string(mapping->note));
      } else if (field == "Initiated") {
        auto p = InitiatedPredicates(v, mapping->ward_column);
        if (!p) return std::unexpected(p.error());
        preds = std::move(*p);
      } else {
        int column = table_->Find(mapping->ward_column);
        if (column < 0) return Fail(key_node, "column " + std::string(mapping->ward_column) + " missing from schema");
        auto p = ValuePredicates(v, mods, column, fc.field);
        if (!p) return std::unexpected(p.error());
        preds = std::move(*p);
      }
      if (all) fc.groups.push_back(std::move(preds));
      else fc.groups[0].insert(fc.groups[0].end(), preds.begin(), preds.end());
    }
    return fc;
  }

  Parsed<std::vector<Predicate>> ValuePredicates(const RawValue& v, const std::vector<Modifier>& mods, int column,
                                                 const std::string& key) {
    auto has = [&](Modifier m) { return std::find(mods.begin(), mods.end(), m) != mods.end(); };
    Predicate base;
    base.column = column;
    base.case_sensitive = has(Modifier::kCased);
    if (v.is_null) {
      base.kind = PredicateKind::kNull;
      return std::vector<Predicate>{base};
    }
    if (has(Modifier::kExists)) {
      std::string t = Lower(v.text);
      if (t != "true" && t != "false") return Fail(v.node, "'" + key + "': exists takes true or false");
      base.kind = PredicateKind::kExists;
      base.exists = t == "true";
      return std::vector<Predicate>{base};
    }
    for (auto [m, op] : {std::pair{Modifier::kLt, NumberOp::kLt}, std::pair{Modifier::kLte, NumberOp::kLe},
                         std::pair{Modifier::kGt, NumberOp::kGt}, std::pair{Modifier::kGte, NumberOp::kGe}}) {
      if (!has(m)) continue;
      std::optional<double> n = ParseNumber(v.text);
      if (!n) return Fail(v.node, "'" + key + "': '" + v.text + "' is not a number");
      base.kind = PredicateKind::kNumber;
      base.op = op;
      base.number = *n;
      return std::vector<Predicate>{base};
    }
    if (has(Modifier::kCidr)) {
      auto r = ParseCidr(v.text);
      if (!r) return Fail(v.node, "'" + key + "': " + r.error().message());
      base.kind = PredicateKind::kCidr;
      base.cidr = std::move(*r);
      return std::vector<Predicate>{base};
    }
    if (has(Modifier::kRe)) {
      base.kind = PredicateKind::kRegex;
      base.regex = v.text;
      // Sigma regexes are case-sensitive unless re|i.
      base.case_sensitive = !has(Modifier::kReI);
      base.regex_multiline = has(Modifier::kReM);
      base.regex_dotall = has(Modifier::kReS);
      if (Status st = CheckRegex(base); !st.ok()) return Fail(v.node, "'" + key + "': " + st.message());
      return std::vector<Predicate>{base};
    }

    // Plain or encoded string: transforms in the order written, then the match position.
    std::vector<Glob> globs = {ParseGlob(v.text)};
    for (Modifier m : mods) {
      std::vector<Glob> next;
      for (const Glob& g : globs) {
        switch (m) {
          case Modifier::kWindash:
            for (Glob& w : WindashVariants(g)) next.push_back(std::move(w));
            break;
          case Modifier::kBase64:
          case Modifier::kBase64Offset:
            if (HasWildcard(g)) return Fail(v.node, "'" + key + "': wildcards cannot be base64-encoded");
            if (m == Modifier::kBase64) {
              next.push_back({{GlobPiece::kLiteral, Base64Encode(LiteralText(g))}});
            } else {
              for (std::string& s : Base64OffsetVariants(LiteralText(g))) next.push_back({{GlobPiece::kLiteral, s}});
            }
            break;
          case Modifier::kUtf16Le:
          case Modifier::kUtf16Be:
          case Modifier::kUtf16: {
            Glob e = g;
            for (GlobPiece& p : e)
              if (p.kind == GlobPiece::kLiteral) p.text = Utf16(p.text, m == Modifier::kUtf16Be);
            if (m == Modifier::kUtf16 && !e.empty() && e.front().kind == GlobPiece::kLiteral)
              e.front().text.insert(0, "\xFF\xFE");  // pySigma's utf16 adds the little-endian BOM
            next.push_back(std::move(e));
            break;
          }
          default:
            next.push_back(g);
        }
      }
      if (next.size() > kMaxVariants) return Fail(v.node, "'" + key + "': too many encoded variants");
      globs = std::move(next);
    }
    const events::ColumnDef& col = table_->columns[static_cast<size_t>(column)];
    bool numeric = col.type == events::ColumnType::kLong || col.type == events::ColumnType::kInt;
    bool positional = has(Modifier::kContains) || has(Modifier::kStartsWith) || has(Modifier::kEndsWith);
    std::vector<Predicate> out;
    for (Glob& g : globs) {
      Predicate p = base;
      if (has(Modifier::kContains) || has(Modifier::kEndsWith)) AddStar(g, true);
      if (has(Modifier::kContains) || has(Modifier::kStartsWith)) AddStar(g, false);
      if (g.empty()) {
        p.kind = PredicateKind::kNull;  // '' matches an absent or empty value
      } else if (AllStars(g)) {
        p.kind = PredicateKind::kExists;  // '*' matches any present value
      } else if (numeric && !positional && !HasWildcard(g) && IsInteger(LiteralText(g))) {
        p.kind = PredicateKind::kNumber;  // DestinationPort: 4444 compares numbers, not text
        p.number = static_cast<double>(std::stoll(LiteralText(g)));
      } else {
        p.kind = PredicateKind::kGlob;
        p.glob = std::move(g);
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  Parsed<std::vector<Predicate>> InitiatedPredicates(const RawValue& v, std::string_view column_name) {
    std::string t = Lower(v.text);
    for (const InitiatedValue& iv : InitiatedValues()) {
      if (iv.value != t) continue;
      std::vector<Predicate> out;
      for (std::string_view action : iv.action_types) {
        Predicate p;
        p.kind = PredicateKind::kGlob;
        p.column = table_->Find(column_name);
        p.case_sensitive = true;  // ActionType values are identifiers
        p.glob = {{GlobPiece::kLiteral, std::string(action)}};
        out.push_back(std::move(p));
      }
      return out;
    }
    return Fail(v.node, "'Initiated' takes true or false");
  }

  Parsed<std::vector<Predicate>> HashPredicates(const RawValue& v) {
    // Sysmon's Hashes field is "MD5=...,SHA256=..."; each pair selects a Ward hash column.
    std::vector<Predicate> out;
    std::string text = v.text;
    std::erase(text, '*');
    std::stringstream ss(text);
    for (std::string pair; std::getline(ss, pair, ',');) {
      size_t eq = pair.find('=');
      std::string algo = eq == std::string::npos ? "" : pair.substr(0, eq);
      for (char& c : algo) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto h = std::find_if(HashColumns().begin(), HashColumns().end(),
                            [&](const HashColumn& hc) { return hc.algorithm == algo; });
      if (h == HashColumns().end())
        return NotApplicable("Hashes value '" + v.text + "': only MD5=, SHA1= and SHA256= hashes are recorded");
      Predicate p;
      p.kind = PredicateKind::kGlob;
      p.column = table_->Find(h->column);
      p.glob = {{GlobPiece::kLiteral, pair.substr(eq + 1)}};
      out.push_back(std::move(p));
    }
    if (out.empty()) return Fail(v.node, "empty Hashes value");
    return out;
  }

  SigmaCategory table_category() const {
    for (SigmaCategory c : {SigmaCategory::kProcessCreation, SigmaCategory::kFileEvent,
                            SigmaCategory::kNetworkConnection})
      if (SigmaTableName(c) == table_->name) return c;
    return SigmaCategory::kProcessCreation;
  }
  std::string_view category_name() const {
    switch (table_category()) {
      case SigmaCategory::kProcessCreation: return "process_creation";
      case SigmaCategory::kFileEvent: return "file events";
      case SigmaCategory::kNetworkConnection: return "network_connection";
    }
    return "";
  }

  const events::SchemaRegistry& registry_;
  const events::TableDef* table_ = nullptr;
};

}  // namespace

Parsed<CompiledRule> ParseRuleText(std::string_view text, const events::SchemaRegistry& registry) {
  if (text.size() > kMaxRuleBytes) return std::unexpected(Problem{SigmaLoadState::kFailed, "rule larger than 1 MiB"});
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.empty() || (docs.size() == 1 && docs[0].IsNull()))
      return std::unexpected(Problem{SigmaLoadState::kFailed, "empty document"});
    if (docs.size() > 1)
      return std::unexpected(
          Problem{SigmaLoadState::kFailed, "rule collections (several YAML documents) are not supported"});
    return RuleBuilder(registry).Build(docs[0]);
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? "" : "line " + std::to_string(e.mark.line + 1) + ": ";
    return std::unexpected(Problem{SigmaLoadState::kFailed, where + "YAML: " + e.msg});
  } catch (const std::exception& e) {
    return std::unexpected(Problem{SigmaLoadState::kFailed, std::string("YAML: ") + e.what()});
  }
}

}  // namespace sigma_internal

SigmaLoadOutcome SigmaRuleSet::LoadRule(std::string_view yaml_text, std::string_view origin) {
  SigmaLoadOutcome out;
  out.source = std::string(origin);
  auto parsed = sigma_internal::ParseRuleText(yaml_text, *registry_);
  if (!parsed) {
    out.state = parsed.error().state;
    out.reason = out.source + ": " + parsed.error().reason;
    return out;
  }
  parsed->info.source = out.source;
  out.state = SigmaLoadState::kLoaded;
  out.rule_index = static_cast<int>(rules_.size());
  rules_.push_back(std::make_unique<sigma_internal::CompiledRule>(std::move(*parsed)));
  Invalidate();  // stale until the next Compile()
  return out;
}

Result<std::vector<SigmaLoadOutcome>> SigmaRuleSet::LoadDirectory(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return Err(NotFound("cannot list Sigma rule folder " + dir.string() + ": " + ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return Err(Unavailable("listing " + dir.string() + ": " + ec.message()));
    std::string ext = it->path().extension().string();
    if (it->is_regular_file(ec) && (ext == ".yml" || ext == ".yaml")) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::vector<SigmaLoadOutcome> outcomes;
  for (const fs::path& f : files) {
    uintmax_t size = fs::file_size(f, ec);
    std::ifstream in(f, std::ios::binary);
    if (ec || !in || size > sigma_internal::kMaxRuleBytes) {
      outcomes.push_back({f.string(), SigmaLoadState::kFailed,
                          f.string() + (ec || !in ? ": cannot read the file" : ": rule larger than 1 MiB"), -1});
      continue;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    outcomes.push_back(LoadRule(text, f.string()));
  }
  return outcomes;
}

}  // namespace ward::detect
