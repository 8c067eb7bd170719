// Deterministic mutation testing of the lexer, parser and binder (stands in for a libFuzzer run,
// which needs a clang-instrumented build of ward_kql that `make test` does not have yet): every
// corpus query is mutated byte-wise (flip, delete, insert a KQL-significant byte, duplicate or cut
// a slice) with a fixed seed. Every mutant must come back as a value — a plan or an error with a
// message and a position — never a crash or hang (ASan/UBSan builds catch memory errors too).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <random>
#include <sstream>

#include "common/time.h"
#include "kql/binder.h"
#include "kql/parser.h"

namespace ward::kql {
namespace {

namespace fs = std::filesystem;

std::string Mutate(std::string s, std::mt19937_64& rng) {
  static const std::string kBytes = "|()[]{}\"'@`;,.=!~<>*/\\-+$:\n \x00\xe2\x80\x8b\xff" "abz09";
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0: if (pos < s.size()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8))); break;
      case 1: if (pos < s.size()) s.erase(pos, 1 + rng() % 8); break;
      case 2: s.insert(pos, 1, kBytes[rng() % kBytes.size()]); break;
      case 3: if (pos < s.size()) s.insert(pos, s.substr(pos, 1 + rng() % 40)); break;
      case 4: s.resize(pos); break;
    }
  }
  return s;
}

TEST(Mutation, MutatedCorpusQueriesNeverCrashTheFrontEnd) {
  const fs::path dir = fs::path(WARD_SOURCE_DIR) / ".." / "shared" / "corpus" / "hunting-queries";
  std::vector<std::string> queries;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".kql") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    queries.push_back(ss.str());
  }
  if (queries.empty()) GTEST_SKIP() << "corpus not found next to the source tree";
  const auto& reg = events::SchemaRegistry::Hunting();
  std::mt19937_64 rng(20261201);
  size_t cases = 0, rejected = 0, bound = 0;
  for (int round = 0; round < 200; ++round) {
    for (const auto& q : queries) {
      std::string m = Mutate(q, rng);
      ++cases;
      QueryError err;
      auto parsed = Parse(m, &err);
      if (!parsed) {
        ++rejected;
        ASSERT_FALSE(parsed.error().message().empty()) << m;
        ASSERT_GE(err.line, 1) << parsed.error().message() << "\n" << m;
        continue;
      }
      BindOptions bo;
      bo.now_ticks = NowTicks();
      auto b = Bind(*parsed, reg, bo, &err);
      if (b) ++bound;
      else ASSERT_FALSE(b.error().message().empty()) << m;
    }
  }
  // The mutations must actually exercise both paths, or the test proves little.
  EXPECT_GT(rejected, cases / 10);
  EXPECT_GT(bound, cases / 20);
  std::cout << "[mutation] " << cases << " mutants: " << rejected << " rejected by the parser, " << bound << " bound\n";
}

}  // namespace
}  // namespace ward::kql
