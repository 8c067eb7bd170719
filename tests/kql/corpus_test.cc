// Every public MDE hunting query of the corpus goes through the front end without crashing; the
// tally (parsed / bound / unsupported feature) is printed. The corpus does not have to pass yet.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "kql/parser.h"

namespace ward::kql {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> CorpusFiles() {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(WARD_SOURCE_DIR) / ".." / "shared" / "corpus" / "hunting-queries";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".kql") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Corpus, EveryQueryParsesWithoutCrashing) {
  auto files = CorpusFiles();
  if (files.empty()) GTEST_SKIP() << "corpus not found next to the source tree";
  size_t parsed = 0;
  std::map<std::string, int> errors;
  for (const auto& f : files) {
    QueryError err;
    auto q = Parse(ReadFile(f), &err);
    if (q) {
      ++parsed;
    } else {
      errors[f.filename().string() + ": " + q.error().message()]++;
    }
  }
  std::cout << "[corpus] " << files.size() << " queries: parsed " << parsed << "\n";
  for (const auto& [e, n] : errors) std::cout << "[corpus]   parse error " << e << "\n";
  EXPECT_GT(parsed, files.size() * 9 / 10);
}

}  // namespace
}  // namespace ward::kql
