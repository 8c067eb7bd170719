#include "identity/login_throttle.h"

namespace ward::identity {

bool LoginThrottle::Locked(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return false;
  if (now - it->second.window_start >= window_) {
    entries_.erase(it);
    return false;
  }
  return it->second.failures >= max_failures_;
}

void LoginThrottle::RecordFailure(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = now - it->second.window_start >= window_ ? entries_.erase(it) : std::next(it);
    }
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  Entry& e = entries_[std::string(key)];
  if (e.failures == 0 || now - e.window_start >= window_) {
    e.failures = 0;
    e.window_start = now;
  }
  ++e.failures;
}

void LoginThrottle::RecordSuccess(std::string_view key) {
  std::lock_guard lock(mu_);
  entries_.erase(std::string(key));
}

}  // namespace ward::identity
