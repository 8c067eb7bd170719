#pragma once
// Another node's change reaches StateStore::ChangeCounter asynchronously on PostgreSQL (a NOTIFY
// the store's listener receives): tests wait for the counter to move, up to a generous bound. This
// checks that it moves, not how fast.
#include <chrono>
#include <cstdint>
#include <thread>

#include "state/state_store.h"

namespace ward::state {

inline bool CounterMovesFrom(StateStore& store, int64_t before) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (store.ChangeCounter() == before) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace ward::state
