#pragma once
// Prometheus metrics: counters and histograms with label values, rendered in text exposition format.
// Thread-safe. Registering is done once at start-up (from main); updates are lock-free on the hot
// path after the first use of a label combination (a shared-mutex lookup, then atomics).
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace ward::metrics {

class Counter {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names);
  void Inc(const std::vector<std::string>& label_values, uint64_t by = 1);
  uint64_t Value(const std::vector<std::string>& label_values) const;
  void Render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<std::atomic<uint64_t>>> values_;
};

class Histogram {
 public:
  // `bounds` are the upper bounds of the buckets in seconds, ascending; +Inf is implicit.
  Histogram(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds);
  void Observe(const std::vector<std::string>& label_values, double seconds);
  uint64_t Count(const std::vector<std::string>& label_values) const;
  void Render(std::string& out) const;

 private:
  struct Series {
    explicit Series(size_t n) : buckets(n + 1) {}
    std::vector<std::atomic<uint64_t>> buckets;  // non-cumulative, last is +Inf
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_ns{0};
  };
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

// Owns the metrics of one process and renders them all.
class Registry {
 public:
  Counter& AddCounter(std::string name, std::string help, std::vector<std::string> label_names);
  Histogram& AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                          std::vector<double> bounds);
  std::string Render() const;  // text/plain; version=0.0.4

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Counter>> counters_;
  std::vector<std::unique_ptr<Histogram>> histograms_;
};

// Escapes a label value for the exposition format (backslash, quote, newline).
std::string EscapeLabel(const std::string& v);

}  // namespace ward::metrics
