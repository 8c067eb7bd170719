#pragma once
// Sigma rules as a detector of the detection engine: Ward's built-in pack plus every rule under an
// optional folder (`<data-dir>/rules/sigma`). Rules that do not load are reported once at start and
// left out; the others work.
#include <filesystem>
#include <string>
#include <vector>

#include "detect/detection_engine.h"
#include "detect/sigma.h"

namespace ward::detect {

class SigmaDetector final : public Detector {
 public:
  // Loads and compiles; `outcomes` (when given) receives one entry per rule file.
  static Result<std::unique_ptr<SigmaDetector>> Create(const events::SchemaRegistry& registry,
                                                       const std::filesystem::path& folder,
                                                       std::vector<SigmaLoadOutcome>* outcomes = nullptr);
  Status Detect(const events::RowBatch& batch, const state::Machine& machine, std::vector<AlertSpec>* out) override;
  size_t rules() const { return set_.size(); }

 private:
  SigmaDetector(const events::SchemaRegistry& registry) : registry_(registry), set_(registry) {}
  const events::SchemaRegistry& registry_;
  SigmaRuleSet set_;
  std::vector<SigmaHit> hits_;  // reused per batch
};

}  // namespace ward::detect
