#pragma once
// Sigma rules (SigmaHQ YAML format) for Linux process, file and network events, matched against the
// event log's row batches.
//
// Contract:
// - Loading (LoadRule, LoadDirectory) parses, validates and maps a rule's Sigma fields to Ward's
//   hunting columns (SigmaFieldColumns). A rule that cannot load is reported with a reason naming the
//   file and line where known; it never affects the other rules. Rules for other products or
//   categories, or that use a field Ward does not record, load as "not applicable" (reported, kept out
//   of matching) — counted apart from failures.
// - Compile() builds the matchers: one Hyperscan database per (table, column) holding every string
//   pattern of every rule (RE2 for regexes Hyperscan cannot take). Loading after Compile() requires
//   another Compile() before Match(). Both are single-threaded with respect to the set.
// - Match() is const and safe to call concurrently from many threads on a compiled set: each call
//   borrows a per-thread scratch (Hyperscan scratch + hit bits) from a pool and returns it. Each string
//   cell is scanned once per event whatever the number of rules; rules are then evaluated only if one of
//   their patterns hit (or their condition can be true without any hit, e.g. `not filter`). It
//   allocates nothing per event once the pool is warm (hits are appended to the caller's vector).
// - Errors are values: no exception leaves this module.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "events/rows.h"
#include "events/schema.h"

namespace ward::detect {

// The Sigma logsource categories Ward evaluates, and the hunting table each reads.
enum class SigmaCategory : uint8_t { kProcessCreation, kFileEvent, kNetworkConnection };

struct SigmaRuleInfo {
  std::string title;
  std::string id;           // the rule's own id (a GUID in SigmaHQ), "" when absent
  std::string status;       // stable | test | experimental | deprecated | unsupported | ""
  std::string level;        // informational | low | medium | high | critical
  std::string description;
  std::string logsource_category;             // as written (file_create, process_creation, ...)
  SigmaCategory category = SigmaCategory::kProcessCreation;
  std::vector<std::string> mitre_techniques;  // "T1059", "T1059.004" from attack.tXXXX tags
  std::vector<std::string> tags;              // all tags, as written
  std::string source;                         // file path or the origin given to LoadRule
  // MDE alert severity: Informational | Low | Medium | High (critical maps to High).
  std::string_view Severity() const;
  // MDE alert category from the first ATT&CK tactic tag (e.g. attack.persistence → "Persistence");
  // "SuspiciousActivity" when the rule names none.
  std::string_view AlertCategory() const;
};

enum class SigmaLoadState : uint8_t { kLoaded, kNotApplicable, kFailed };

struct SigmaLoadOutcome {
  std::string source;  // file path or origin
  SigmaLoadState state = SigmaLoadState::kFailed;
  std::string reason;  // empty when loaded; "file:line: why" for failures where the line is known
  int rule_index = -1; // index into SigmaRuleSet::rules() when loaded
};

struct SigmaHit {
  uint32_t row = 0;   // index into RowBatch::rows
  uint32_t rule = 0;  // index into SigmaRuleSet::rules()
};

// One Sigma field's Ward column for a category (the mapping table, exposed for documentation and tests).
struct SigmaFieldMapping {
  SigmaCategory category;
  std::string_view sigma_field;
  std::string_view ward_column;   // empty when unsupported
  std::string_view note;          // why unsupported, or how values translate
};
const std::vector<SigmaFieldMapping>& SigmaFieldColumns();
std::string_view SigmaTableName(SigmaCategory category);

namespace sigma_internal {
struct CompiledRule;
struct Matcher;
}  // namespace sigma_internal

class SigmaRuleSet {
 public:
  // Columns are resolved against `registry`, which must outlive the set.
  explicit SigmaRuleSet(const events::SchemaRegistry& registry = events::SchemaRegistry::Hunting());
  ~SigmaRuleSet();
  SigmaRuleSet(SigmaRuleSet&&) noexcept;
  SigmaRuleSet& operator=(SigmaRuleSet&&) noexcept;

  // Parses one rule (one YAML document). `origin` names it in reasons.
  SigmaLoadOutcome LoadRule(std::string_view yaml_text, std::string_view origin = "<text>");
  // Loads every *.yml / *.yaml under `dir`, recursively, in path order. Fails only when `dir` cannot be
  // listed; per-file problems are in the outcomes.
  Result<std::vector<SigmaLoadOutcome>> LoadDirectory(const std::filesystem::path& dir);

  Status Compile();
  bool compiled() const;

  // Appends one hit per (row, rule) that matches. FailedPrecondition when not compiled or when
  // `registry` lays out the three tables differently from the one the set was built with.
  Status Match(const events::RowBatch& batch, const events::SchemaRegistry& registry,
               std::vector<SigmaHit>* hits) const;

  size_t size() const;
  const SigmaRuleInfo& rule(size_t index) const;
  // The parsed rule, for tests and tools (sigma_rule.h).
  const sigma_internal::CompiledRule& compiled_rule(size_t index) const;

 private:
  void Invalidate();  // drops the matchers after the rules changed
  const events::SchemaRegistry* registry_;
  std::vector<std::unique_ptr<sigma_internal::CompiledRule>> rules_;
  std::unique_ptr<sigma_internal::Matcher> matcher_;
};

}  // namespace ward::detect
