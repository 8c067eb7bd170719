#pragma once
// Short-lived OAuth artefacts (authorization codes, refresh tokens, used assertions) carry their
// expiry in their body; each store copies it into an indexed column so DeleteExpired can sweep
// without parsing every body. One definition, so the SQLite and PostgreSQL stores agree on which
// documents expire.
#include <cstdint>
#include <optional>

#include "state/state_store.h"

namespace ward::state {

inline std::optional<int64_t> ExpiryOf(const Document& doc) {
  if (auto e = doc.body.GetInt("expiresMs");
      e && (doc.body.Find("codeHash") || doc.body.Find("tokenHash") || doc.body.Find("jtiHash"))) {
    return e;
  }
  return std::nullopt;
}

}  // namespace ward::state
