#pragma once
// Notices that a tenant's documents of one kind were added, changed or deleted without reading them
// all: a count and an index range read (updated since the last look). For caches built from a whole
// kind (the IoC matcher, sensor policies) that re-read it only when it moved.
//
// Changed() looks; Commit() records the look as done, after the caller rebuilt what it needed — so a
// caller that fails half-way looks again next time. Not thread-safe (one per cache entry).
#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "state/state_store.h"

namespace ward::state {

class KindWatch {
 public:
  explicit KindWatch(Kind kind) : kind_(kind) {}
  // True on the first look and whenever the kind moved since the last committed look.
  Result<bool> Changed(StateStore& store, std::string_view tenant);
  void Commit();

 private:
  Kind kind_;
  int64_t count_ = -1, since_ms_ = 0;                  // as of the last committed look
  int64_t pending_count_ = -1, pending_since_ms_ = 0;  // the look Changed() made
};

}  // namespace ward::state
