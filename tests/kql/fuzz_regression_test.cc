// Inputs the libFuzzer target (tests/kql/fuzz) once found a crash, leak, hang or sanitizer report
// with: each file in tests/kql/fuzz/regressions/ must come back from the front end as a value. The
// fuzz run (`make fuzz`) replays them under ASan/UBSan too; this keeps them in the g++ build.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kql/binder.h"
#include "kql/parser.h"

namespace ward::kql {
namespace {

namespace fs = std::filesystem;

TEST(FuzzRegressions, EveryFoundInputComesBackAsAValue) {
  const fs::path dir = fs::path(WARD_SOURCE_DIR) / "tests" / "kql" / "fuzz" / "regressions";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    QueryError err;
    auto parsed = Parse(text, &err);
    if (!parsed) {
      EXPECT_FALSE(parsed.error().message().empty()) << f;
      EXPECT_GE(err.line, 1) << f;
      continue;
    }
    BindOptions bo;
    bo.now_ticks = 638'000'000'000'000'000;
    auto bound = Bind(*parsed, events::SchemaRegistry::Hunting(), bo, &err);
    if (!bound) {
      EXPECT_FALSE(bound.error().message().empty()) << f;
    }
  }
}

}  // namespace
}  // namespace ward::kql
