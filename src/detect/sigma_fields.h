#pragma once
// The translation tables behind SigmaFieldColumns(): logsource categories and value translations.
// Internal to the detect module.
#include <string_view>
#include <vector>

#include "detect/sigma.h"

namespace ward::detect::sigma_internal {

struct CategorySpec {
  std::string_view name;  // Sigma logsource category
  SigmaCategory category;
  std::vector<std::string_view> action_types;  // ActionType values it covers; empty = all
};
const std::vector<CategorySpec>& SigmaCategories();

// Sigma `Initiated` values → network ActionType values.
struct InitiatedValue {
  std::string_view value;
  std::vector<std::string_view> action_types;
};
const std::vector<InitiatedValue>& InitiatedValues();

// `Hashes` value prefixes (ALGO=hex) → column and hex length.
struct HashColumn {
  std::string_view algorithm;
  std::string_view column;
  size_t hex_length;
};
const std::vector<HashColumn>& HashColumns();

const SigmaFieldMapping* FindFieldMapping(SigmaCategory category, std::string_view field);

}  // namespace ward::detect::sigma_internal
