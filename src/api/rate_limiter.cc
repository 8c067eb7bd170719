// Token-bucket rate limiting per (caller, route).
//
// Each key has a minute bucket (capacity per_minute, refilled continuously at per_minute/60 tokens
// per second) and an hour bucket (capacity per_hour, per_hour/3600 per second). A call needs one
// token in both. A limit <= 0 disables that window (routes such as startInvestigation only have an
// hourly limit in MDE).
#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace ward::api {
namespace {

// Continuous refill accumulates floating-point error (0.6 s * 100/60 may give 0.9999999999); a
// token that is whole up to this slack counts as whole.
constexpr double kSlack = 1e-9;

struct Window {
  double capacity;
  double rate;  // tokens per second
  bool enabled;
};

Window MinuteWindow(const RateLimit& l) {
  return {static_cast<double>(l.per_minute), static_cast<double>(l.per_minute) / 60.0, l.per_minute > 0};
}
Window HourWindow(const RateLimit& l) {
  return {static_cast<double>(l.per_hour), static_cast<double>(l.per_hour) / 3600.0, l.per_hour > 0};
}

double Refill(double tokens, double elapsed_s, const Window& w) {
  if (!w.enabled) return 0;
  return std::min(w.capacity, tokens + elapsed_s * w.rate);
}

// Seconds until the window holds one token (0 when it already does).
double WaitFor(double tokens, const Window& w) {
  if (!w.enabled || tokens >= 1.0 - kSlack) return 0;
  return (1.0 - tokens) / w.rate;
}

}  // namespace

RateLimiter::RateLimiter(RateLimiterConfig config) : config_(std::move(config)) {}

const RateLimit& RateLimiter::LimitFor(std::string_view route) const {
  if (!config_.per_route.empty()) {
    auto it = config_.per_route.find(std::string(route));
    if (it != config_.per_route.end()) return it->second;
  }
  return config_.defaults;
}

RateLimiter::Decision RateLimiter::Check(std::string_view caller, std::string_view route, Clock::time_point now) {
  if (!config_.enabled) return {};
  if (shared_) return CheckShared(caller, route, std::chrono::system_clock::now());
  const RateLimit& limit = LimitFor(route);
  const Window minute = MinuteWindow(limit), hour = HourWindow(limit);
  if (!minute.enabled && !hour.enabled) return {};

  // '\n' cannot appear in a route pattern, so distinct (caller, route) pairs give distinct keys.
  std::string key;
  key.reserve(caller.size() + route.size() + 1);
  key.append(route).push_back('\n');
  key.append(caller);
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];

  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= kMaxKeysPerShard) {
      // Evict idle keys: a full bucket behaves exactly like a fresh one, so dropping it is free.
      // Keys of one shard belong to different routes, so each is judged by its own route's limits.
      std::erase_if(shard.buckets, [&](const auto& kv) {
        const std::string_view k = kv.first;
        const RateLimit& l = LimitFor(k.substr(0, k.find('\n')));
        const Window m = MinuteWindow(l), h = HourWindow(l);
        const Bucket& b = kv.second;
        const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.last).count());
        return (!m.enabled || Refill(b.minute_tokens, elapsed, m) >= m.capacity) &&
               (!h.enabled || Refill(b.hour_tokens, elapsed, h) >= h.capacity);
      });
      // Still full (many active keys): drop the least recently used eighth to keep memory bounded.
      if (shard.buckets.size() >= kMaxKeysPerShard) {
        std::vector<Clock::time_point> lasts;
        lasts.reserve(shard.buckets.size());
        for (const auto& kv : shard.buckets) lasts.push_back(kv.second.last);
        const size_t n = lasts.size() / 8;
        std::nth_element(lasts.begin(), lasts.begin() + static_cast<std::ptrdiff_t>(n), lasts.end());
        const Clock::time_point cutoff = lasts[n];
        std::erase_if(shard.buckets, [&](const auto& kv) { return kv.second.last <= cutoff; });
      }
    }
    it = shard.buckets.emplace(std::move(key), Bucket{minute.capacity, hour.capacity, now}).first;
  }

  Bucket& b = it->second;
  if (now > b.last) {  // a clock that goes backwards neither refills nor rewinds `last`
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.minute_tokens = Refill(b.minute_tokens, elapsed, minute);
    b.hour_tokens = Refill(b.hour_tokens, elapsed, hour);
    b.last = now;
  }

  const bool minute_ok = !minute.enabled || b.minute_tokens >= 1.0 - kSlack;
  const bool hour_ok = !hour.enabled || b.hour_tokens >= 1.0 - kSlack;
  if (minute_ok && hour_ok) {
    if (minute.enabled) b.minute_tokens = std::max(0.0, b.minute_tokens - 1.0);
    if (hour.enabled) b.hour_tokens = std::max(0.0, b.hour_tokens - 1.0);
    return {};
  }
  const double wait = std::max(WaitFor(b.minute_tokens, minute), WaitFor(b.hour_tokens, hour));
  // Same slack when rounding, so 12.0000000001 s is reported as 12.
  const auto seconds = static_cast<int64_t>(std::ceil(wait - 1e-9));
  return Decision{false, std::max<int64_t>(1, seconds)};
}

RateLimiter::Decision RateLimiter::CheckShared(std::string_view caller, std::string_view route,
                                               std::chrono::system_clock::time_point now) {
  if (!config_.enabled) return {};
  const RateLimit& limit = LimitFor(route);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  constexpr int64_t kMinuteMs = 60'000, kHourMs = 3'600'000;
  const int64_t minute_end = (now_ms / kMinuteMs + 1) * kMinuteMs, hour_end = (now_ms / kHourMs + 1) * kHourMs;
  std::string base = "ratelimit\n";
  base.append(route).push_back('\n');
  base.append(caller).push_back('\n');
  std::vector<std::string> keys;
  std::vector<std::pair<int64_t, int64_t>> windows;  // (limit, window end) per key
  if (limit.per_minute > 0) {
    keys.push_back(base + "m" + std::to_string(minute_end));
    windows.emplace_back(limit.per_minute, minute_end);
  }
  if (limit.per_hour > 0) {
    keys.push_back(base + "h" + std::to_string(hour_end));
    windows.emplace_back(limit.per_hour, hour_end);
  }
  if (keys.empty()) return {};
  auto counts = shared_(keys, hour_end);
  if (!counts || counts->size() != keys.size()) return {};
  int64_t wait_ms = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if ((*counts)[i] > windows[i].first) wait_ms = std::max(wait_ms, windows[i].second - now_ms);
  }
  if (wait_ms == 0) return {};
  return Decision{false, std::max<int64_t>(1, (wait_ms + 999) / 1000)};
}

}  // namespace ward::api
