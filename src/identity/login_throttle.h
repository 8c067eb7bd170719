#pragma once
// Smart-lockout for password sign-ins (ROPC and the sign-in page): after `max_failures` wrong
// passwords for one account within `window`, the account refuses every password, right or wrong,
// until the window that saw the last failure ends (Azure AD answers AADSTS50053 in that case).
// Keys are "<tenant>/<lower-cased user name>", so guessing names costs the attacker the same.
// Thread-safe; memory is bounded (idle entries are dropped when the table is full).
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ward::identity {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(int max_failures = 10, std::chrono::seconds window = std::chrono::seconds(60))
      : max_failures_(max_failures), window_(window) {}

  bool Locked(std::string_view key, Clock::time_point now = Clock::now());
  void RecordFailure(std::string_view key, Clock::time_point now = Clock::now());
  void RecordSuccess(std::string_view key);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point window_start;
  };
  static constexpr size_t kMaxEntries = 100000;
  const int max_failures_;
  const std::chrono::seconds window_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace ward::identity
