// Every public MDE hunting query of the corpus goes through the front end without crashing; the
// tally (parsed / bound / unsupported feature) is printed. The corpus does not have to pass yet.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <stdlib.h>

#include "common/time.h"
#include "events/event_store.h"
#include "kql/binder.h"
#include "kql/engine.h"
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

// The feature an "is not supported" message names: the text between the first quotes.
std::string Feature(const std::string& msg) {
  size_t a = msg.find('\'');
  size_t b = a == std::string::npos ? a : msg.find('\'', a + 1);
  return b == std::string::npos ? msg : msg.substr(a + 1, b - a - 1);
}

TEST(Corpus, EveryQueryGoesThroughTheFrontEndWithoutCrashing) {
  auto files = CorpusFiles();
  if (files.empty()) GTEST_SKIP() << "corpus not found next to the source tree";
  const auto& reg = events::SchemaRegistry::Hunting();
  char tmpl[] = "/tmp/ward_kql_corpus_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  events::ColumnarStoreOptions so;
  so.dir = dir;
  auto store = events::ColumnarStore::Open(so, reg);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  QueryOptions opts;
  opts.tenant_id = "tenant-a";
  size_t parsed = 0, bound = 0, ran = 0;
  std::map<std::string, int> unsupported;
  std::vector<std::string> other;
  for (const auto& f : files) {
    const std::string text = ReadFile(f);
    QueryError err;
    auto q = Parse(text, &err);
    if (!q) {
      other.push_back(f.filename().string() + ": " + q.error().message());
      continue;
    }
    ++parsed;
    BindOptions bo;
    bo.now_ticks = NowTicks();
    auto b = Bind(*q, reg, bo, &err);
    if (!b) {
      const std::string& m = b.error().message();
      if (m.find("is not supported") != std::string::npos) unsupported[Feature(m)]++;
      else other.push_back(f.filename().string() + ": " + m);
      continue;
    }
    ++bound;
    auto r = RunQuery(text, opts, **store, reg, &err);
    if (r) ++ran;
    else other.push_back(f.filename().string() + ": run: " + r.error().message());
  }
  std::filesystem::remove_all(dir);
  std::cout << "[corpus] " << files.size() << " queries: parsed " << parsed << ", bound " << bound << ", ran (empty store) " << ran << "\n";
  for (const auto& [feature, n] : unsupported) std::cout << "[corpus]   unsupported " << feature << ": " << n << "\n";
  for (const auto& e : other) std::cout << "[corpus]   error " << e << "\n";
  EXPECT_EQ(parsed, files.size());
}

}  // namespace
}  // namespace ward::kql
