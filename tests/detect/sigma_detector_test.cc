#include "detect/sigma_detector.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/temp_dir.h"

namespace ward::detect {
namespace {

constexpr const char* kRule = R"(title: Netcat Reverse Shell
id: 9d2b4a0e-2a55-4c5d-9d1e-111111111111
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        CommandLine|contains: ' -e /bin/sh'
    condition: selection
level: high
)";

size_t ApiRules(const SigmaDetector& d, const std::string& tenant) {
  auto all = d.Rules(tenant);
  return static_cast<size_t>(std::count_if(all.begin(), all.end(), [](const SigmaRuleStatus& s) { return s.source == "api"; }));
}

// Another node added or deleted a rule in the shared state store: this node's detector takes the
// whole set as it is there.
TEST(SigmaDetectorTest, ReplaceApiRulesTakesTheSharedSet) {
  test::TempDir folder("ward-sigma");
  auto d = SigmaDetector::Create(events::SchemaRegistry::Hunting(), folder.path());
  ASSERT_TRUE(d) << d.error().message();
  const size_t builtin = (*d)->rules();
  ASSERT_TRUE((*d)->ReplaceApiRules({{"tenant-a", "rule-1", kRule}}).ok());
  EXPECT_EQ(ApiRules(**d, "tenant-a"), 1u);
  EXPECT_EQ(ApiRules(**d, "tenant-b"), 0u);
  EXPECT_EQ((*d)->rules(), builtin + 1);
  ASSERT_TRUE((*d)->ReplaceApiRules({{"tenant-a", "rule-1", kRule}}).ok());  // unchanged: nothing to do
  EXPECT_EQ((*d)->rules(), builtin + 1);
  ASSERT_TRUE((*d)->ReplaceApiRules({{"tenant-b", "rule-2", kRule}}).ok());
  EXPECT_EQ(ApiRules(**d, "tenant-a"), 0u);
  EXPECT_EQ(ApiRules(**d, "tenant-b"), 1u);
  // A rule that does not load is listed as failed (GET /api/detectionrules shows why) and matches nothing.
  ASSERT_TRUE((*d)->ReplaceApiRules({{"tenant-b", "rule-2", kRule}, {"tenant-b", "rule-3", "title: [broken"}}).ok());
  EXPECT_EQ(ApiRules(**d, "tenant-b"), 2u);
  EXPECT_EQ((*d)->rules(), builtin + 1);
  ASSERT_TRUE((*d)->ReplaceApiRules({}).ok());
  EXPECT_EQ((*d)->rules(), builtin);
}

}  // namespace
}  // namespace ward::detect
