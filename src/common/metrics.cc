// Prometheus text exposition format 0.0.4.
#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ward::metrics {
namespace {

// HELP text escapes only backslash and newline (quotes are literal there).
std::string EscapeHelp(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

// Shortest round-trip form, as Prometheus clients print floats: 0.005, 1, 2.5, 1e+21.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, p);
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += EscapeHelp(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// Appends `{a="x",b="y"[,le="..."]}`, or nothing when there are no labels at all.
void AppendLabels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                  const std::string* le = nullptr) {
  if (names.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabel(values[i]);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

}  // namespace

std::string EscapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Counter

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void Counter::Inc(const std::vector<std::string>& label_values, uint64_t by) {
  // A wrong label arity is a programming error; dropping the sample keeps the output well-formed.
  if (label_values.size() != label_names_.size()) return;
  {
    std::shared_lock lock(mu_);
    auto it = values_.find(label_values);
    if (it != values_.end()) {
      it->second->fetch_add(by, std::memory_order_relaxed);
      return;
    }
  }
  std::unique_lock lock(mu_);
  auto& slot = values_[label_values];
  if (!slot) slot = std::make_unique<std::atomic<uint64_t>>(0);
  slot->fetch_add(by, std::memory_order_relaxed);
}

uint64_t Counter::Value(const std::vector<std::string>& label_values) const {
  std::shared_lock lock(mu_);
  auto it = values_.find(label_values);
  return it == values_.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

void Counter::Render(std::string& out) const {
  AppendHeader(out, name_, help_, "counter");
  std::shared_lock lock(mu_);
  // An unlabeled counter exists from the start, so scrapers see 0 rather than nothing.
  if (label_names_.empty() && values_.empty()) {
    out += name_;
    out += " 0\n";
    return;
  }
  for (const auto& [values, v] : values_) {
    out += name_;
    AppendLabels(out, label_names_, values);
    out += ' ';
    out += std::to_string(v->load(std::memory_order_relaxed));
    out += '\n';
  }
}

// ---------------------------------------------------------------------------------------------
// Histogram

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  // Defensive: keep finite bounds only, ascending and unique (+Inf is implicit).
  std::erase_if(bounds, [](double b) { return !std::isfinite(b); });
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  bounds_ = std::move(bounds);
}

void Histogram::Observe(const std::vector<std::string>& label_values, double seconds) {
  if (label_values.size() != label_names_.size() || std::isnan(seconds)) return;
  if (seconds < 0) seconds = 0;
  // Bucket i counts observations <= bounds_[i]; the last one is +Inf.
  const size_t idx = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  const double ns = seconds * 1e9;
  const uint64_t sum_ns = ns >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(ns + 0.5);  // saturate (+inf too)

  auto record = [&](Series& s) {
    s.buckets[idx].fetch_add(1, std::memory_order_relaxed);
    s.sum_ns.fetch_add(sum_ns, std::memory_order_relaxed);
    s.count.fetch_add(1, std::memory_order_relaxed);
  };
  {
    std::shared_lock lock(mu_);
    auto it = series_.find(label_values);
    if (it != series_.end()) {
      record(*it->second);
      return;
    }
  }
  std::unique_lock lock(mu_);
  auto& slot = series_[label_values];
  if (!slot) slot = std::make_unique<Series>(bounds_.size());
  record(*slot);
}

uint64_t Histogram::Count(const std::vector<std::string>& label_values) const {
  std::shared_lock lock(mu_);
  auto it = series_.find(label_values);
  return it == series_.end() ? 0 : it->second->count.load(std::memory_order_relaxed);
}

void Histogram::Render(std::string& out) const {
  AppendHeader(out, name_, help_, "histogram");
  std::shared_lock lock(mu_);
  const std::string bucket_name = name_ + "_bucket";
  for (const auto& [values, s] : series_) {
    // Buckets are read once each and accumulated, so _bucket values are monotone even while
    // observations race with the scrape; +Inf is that same cumulative total.
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s->buckets[i].load(std::memory_order_relaxed);
      const std::string le = i < bounds_.size() ? FormatDouble(bounds_[i]) : "+Inf";
      out += bucket_name;
      AppendLabels(out, label_names_, values, &le);
      out += ' ';
      out += std::to_string(cumulative);
      out += '\n';
    }
    out += name_;
    out += "_sum";
    AppendLabels(out, label_names_, values);
    out += ' ';
    out += FormatDouble(static_cast<double>(s->sum_ns.load(std::memory_order_relaxed)) / 1e9);
    out += '\n';
    out += name_;
    out += "_count";
    AppendLabels(out, label_names_, values);
    out += ' ';
    // Consistent with the +Inf bucket rather than the separately updated count.
    out += std::to_string(cumulative);
    out += '\n';
  }
}

// ---------------------------------------------------------------------------------------------
// Registry

Counter& Registry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  counters_.push_back(std::make_unique<Counter>(std::move(name), std::move(help), std::move(label_names)));
  return *counters_.back();
}

Histogram& Registry::AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                  std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(
      std::make_unique<Histogram>(std::move(name), std::move(help), std::move(label_names), std::move(bounds)));
  return *histograms_.back();
}

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& c : counters_) c->Render(out);
  for (const auto& h : histograms_) h->Render(out);
  return out;
}

}  // namespace ward::metrics
