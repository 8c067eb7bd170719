#pragma once
// Token signing keys: kept in the state store (so every node and `ward admin` see the same set),
// exposed as an immutable KeySet snapshot. Rotation adds a new active key and keeps the previous one
// for verification ("two keys live") until it is retired. Thread-safe.
#include <chrono>
#include <memory>
#include <mutex>

#include "identity/jwt.h"
#include "state/state_store.h"

namespace ward::identity {

class KeyManager {
 public:
  explicit KeyManager(state::StateStore& store) : store_(store) {}

  // Loads keys, creating the first one when there is none.
  Status Initialize();
  // Current keys; reloads from the store at most once a second when it changed.
  std::shared_ptr<const KeySet> Current();
  // New active key; the old active one becomes "previous". Returns the new kid.
  Result<std::string> Rotate();
  // Drops a non-active key from verification.
  Status Retire(std::string_view kid);

 private:
  Status Reload();
  state::StateStore& store_;
  std::mutex mu_;
  std::shared_ptr<const KeySet> current_;
  int64_t loaded_counter_ = -1;
  std::chrono::steady_clock::time_point last_check_{};
};

}  // namespace ward::identity
