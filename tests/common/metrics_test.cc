#include "common/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace ward::metrics {
namespace {

TEST(Metrics, EscapeLabel) {
  EXPECT_EQ(EscapeLabel("plain"), "plain");
  EXPECT_EQ(EscapeLabel("a\"b"), "a\\\"b");
  EXPECT_EQ(EscapeLabel("a\\b"), "a\\\\b");
  EXPECT_EQ(EscapeLabel("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeLabel(""), "");
}

TEST(Metrics, CounterRender) {
  Counter c("ward_http_requests_total", "HTTP requests.", {"method", "code"});
  c.Inc({"GET", "200"});
  c.Inc({"GET", "200"}, 4);
  c.Inc({"POST", "400"});
  c.Inc({"only-one-label"});  // wrong arity is ignored
  EXPECT_EQ(c.Value({"GET", "200"}), 5u);
  EXPECT_EQ(c.Value({"POST", "400"}), 1u);
  EXPECT_EQ(c.Value({"PUT", "200"}), 0u);
  std::string out;
  c.Render(out);
  EXPECT_EQ(out,
            "# HELP ward_http_requests_total HTTP requests.\n"
            "# TYPE ward_http_requests_total counter\n"
            "ward_http_requests_total{method=\"GET\",code=\"200\"} 5\n"
            "ward_http_requests_total{method=\"POST\",code=\"400\"} 1\n");
}

TEST(Metrics, UnlabeledCounterStartsAtZero) {
  Counter c("ward_up_total", "Help with \\ and\nnewline.", {});
  std::string out;
  c.Render(out);
  EXPECT_EQ(out,
            "# HELP ward_up_total Help with \\\\ and\\nnewline.\n"
            "# TYPE ward_up_total counter\n"
            "ward_up_total 0\n");
  c.Inc({});
  out.clear();
  c.Render(out);
  EXPECT_NE(out.find("\nward_up_total 1\n"), std::string::npos) << out;
}

TEST(Metrics, LabelValuesAreEscapedInOutput) {
  Counter c("ward_errors_total", "Errors.", {"route"});
  c.Inc({"/api/\"x\"\\y\nz"});
  std::string out;
  c.Render(out);
  EXPECT_NE(out.find("ward_errors_total{route=\"/api/\\\"x\\\"\\\\y\\nz\"} 1\n"), std::string::npos) << out;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Histogram h("ward_request_seconds", "Latency.", {"route"}, {0.005, 0.1, 1, 2.5});
  h.Observe({"/a"}, 0.001);  // <= 0.005
  h.Observe({"/a"}, 0.005);  // == bound counts in that bucket
  h.Observe({"/a"}, 0.05);   // <= 0.1
  h.Observe({"/a"}, 2.0);    // <= 2.5
  h.Observe({"/a"}, 30.0);   // +Inf only
  h.Observe({"/b"}, 0.5);
  EXPECT_EQ(h.Count({"/a"}), 5u);
  EXPECT_EQ(h.Count({"/b"}), 1u);
  EXPECT_EQ(h.Count({"/c"}), 0u);
  std::string out;
  h.Render(out);
  EXPECT_EQ(out,
            "# HELP ward_request_seconds Latency.\n"
            "# TYPE ward_request_seconds histogram\n"
            "ward_request_seconds_bucket{route=\"/a\",le=\"0.005\"} 2\n"
            "ward_request_seconds_bucket{route=\"/a\",le=\"0.1\"} 3\n"
            "ward_request_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
            "ward_request_seconds_bucket{route=\"/a\",le=\"2.5\"} 4\n"
            "ward_request_seconds_bucket{route=\"/a\",le=\"+Inf\"} 5\n"
            "ward_request_seconds_sum{route=\"/a\"} 32.056\n"
            "ward_request_seconds_count{route=\"/a\"} 5\n"
            "ward_request_seconds_bucket{route=\"/b\",le=\"0.005\"} 0\n"
            "ward_request_seconds_bucket{route=\"/b\",le=\"0.1\"} 0\n"
            "ward_request_seconds_bucket{route=\"/b\",le=\"1\"} 1\n"
            "ward_request_seconds_bucket{route=\"/b\",le=\"2.5\"} 1\n"
            "ward_request_seconds_bucket{route=\"/b\",le=\"+Inf\"} 1\n"
            "ward_request_seconds_sum{route=\"/b\"} 0.5\n"
            "ward_request_seconds_count{route=\"/b\"} 1\n");
}

TEST(Metrics, UnlabeledHistogram) {
  Histogram h("ward_db_seconds", "DB time.", {}, {1});
  h.Observe({}, 0.25);
  std::string out;
  h.Render(out);
  EXPECT_NE(out.find("ward_db_seconds_bucket{le=\"1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ward_db_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ward_db_seconds_sum 0.25\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ward_db_seconds_count 1\n"), std::string::npos) << out;
}

TEST(Metrics, RegistryRendersAll) {
  Registry r;
  auto& c = r.AddCounter("ward_a_total", "A.", {"x"});
  auto& h = r.AddHistogram("ward_b_seconds", "B.", {}, {0.1});
  c.Inc({"1"});
  h.Observe({}, 0.01);
  const std::string out = r.Render();
  EXPECT_NE(out.find("# TYPE ward_a_total counter\n"), std::string::npos);
  EXPECT_NE(out.find("ward_a_total{x=\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE ward_b_seconds histogram\n"), std::string::npos);
  EXPECT_NE(out.find("ward_b_seconds_count 1\n"), std::string::npos);
  EXPECT_EQ(out.back(), '\n');
}

TEST(Metrics, ConcurrentUpdates) {
  Counter c("ward_c_total", "C.", {"k"});
  Histogram h("ward_h_seconds", "H.", {"k"}, {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc({std::to_string(i % 3)});
        h.Observe({std::to_string(t)}, 0.25);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c.Value({"0"}) + c.Value({"1"}) + c.Value({"2"}), 40000u);
  for (int t = 0; t < 4; ++t) EXPECT_EQ(h.Count({std::to_string(t)}), 10000u);
}

}  // namespace
}  // namespace ward::metrics
