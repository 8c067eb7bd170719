#pragma once
// Sigma rules as a detector of the detection engine: Ward's built-in pack, every rule under an
// optional folder (`<data-dir>/rules/sigma`) and the rules added through the API (per tenant, kept in
// the state store by the API layer). Rules that do not load are reported with their reason and left
// out; the others work.
//
// Thread-safety: Detect runs on the detection thread; Rules, CheckRule, PutApiRule and RemoveApiRule
// may be called from any thread. A change rebuilds and compiles a whole new rule set on the calling
// thread and then swaps it in (a shared_ptr under a mutex), so detection never waits for a compile
// and a batch is always matched against one consistent set.
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "detect/detection_engine.h"
#include "detect/sigma.h"

namespace ward::detect {

// A rule added through the API; it only matches its tenant's events.
struct ApiSigmaRule {
  std::string tenant_id;
  std::string id;
  std::string yaml;
};

// One rule file or text as GET /api/detectionrules shows it.
struct SigmaRuleStatus {
  std::string id;         // the rule's id (its title's digest when it has none); the origin when it did not load
  std::string title;
  std::string level;
  std::string source;     // builtin | folder | api
  std::string origin;     // file name or path, or "api:<id>"
  std::string state;      // loaded | notApplicable | failed
  std::string reason;     // why not loaded; empty when loaded
  std::string tenant_id;  // API rules only
};

class SigmaDetector final : public Detector {
 public:
  // Loads and compiles; `outcomes` (when given) receives one entry per rule file or API rule.
  static Result<std::unique_ptr<SigmaDetector>> Create(const events::SchemaRegistry& registry,
                                                       const std::filesystem::path& folder,
                                                       std::vector<ApiSigmaRule> api_rules = {},
                                                       std::vector<SigmaLoadOutcome>* outcomes = nullptr);
  Status Detect(const events::RowBatch& batch, const state::Machine& machine, std::vector<AlertSpec>* out) override;
  size_t rules() const;
  // Every rule (loaded or not) visible to `tenant_id`: built-in, folder and that tenant's API rules.
  std::vector<SigmaRuleStatus> Rules(std::string_view tenant_id) const;

  // Loads one rule on its own, without changing the active set: its info when it loads and applies
  // to Ward's tables, else InvalidArgument with the reason ("line N: ..." where the line is known).
  Result<SigmaRuleInfo> CheckRule(std::string_view yaml) const;
  // Adds (or replaces, same tenant and id) an API rule and swaps in the recompiled set. On error the
  // active set is unchanged.
  Status PutApiRule(ApiSigmaRule rule);
  // NotFound when the tenant has no API rule with that id.
  Status RemoveApiRule(std::string_view tenant_id, std::string_view id);
  // Makes the API rules exactly `rules` (every tenant's), recompiling only when they differ from the
  // active ones: how a node picks up rules another node added to the shared state store.
  Status ReplaceApiRules(std::vector<ApiSigmaRule> rules);

  // The id Ward gives a rule: its Sigma id, or the SHA-1 of its title when it has none.
  static std::string RuleId(const SigmaRuleInfo& rule);

 private:
  struct Snapshot;
  explicit SigmaDetector(const events::SchemaRegistry& registry, std::filesystem::path folder)
      : registry_(registry), folder_(std::move(folder)) {}
  Result<std::shared_ptr<const Snapshot>> Build(const std::vector<ApiSigmaRule>& api_rules,
                                                std::vector<SigmaLoadOutcome>* outcomes) const;
  std::shared_ptr<const Snapshot> Current() const;

  const events::SchemaRegistry& registry_;
  const std::filesystem::path folder_;
  mutable std::mutex mu_;  // guards current_ only; held for a pointer copy
  std::shared_ptr<const Snapshot> current_;
  std::mutex change_mu_;   // serialises rebuilds, so two changes cannot lose each other
  std::vector<ApiSigmaRule> api_rules_;  // guarded by change_mu_
  std::vector<SigmaHit> hits_;  // reused per batch (detection thread only)
};

}  // namespace ward::detect
