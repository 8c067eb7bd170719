#include "state/kind_watch.h"

#include "common/time.h"

namespace ward::state {

Result<bool> KindWatch::Changed(StateStore& store, std::string_view tenant) {
  pending_since_ms_ = NowMs();
  WARD_ASSIGN_OR_RETURN(pending_count_, store.Count(tenant, kind_));
  if (count_ < 0 || pending_count_ != count_) return true;
  WARD_ASSIGN_OR_RETURN(auto docs, store.ListUpdatedSince(tenant, kind_, since_ms_ - store.UpdatedSinceOverlapMs()));
  return !docs.empty();
}

void KindWatch::Commit() {
  count_ = pending_count_;
  since_ms_ = pending_since_ms_;
}

}  // namespace ward::state
