#pragma once
// The portal's registration: each tenant has one "Ward portal" app, a public client (no secret; the
// browser proves itself with PKCE) consented to every delegated permission, so what a signed-in
// user may do is decided by their roles and device groups alone. The server keeps it present and
// its redirect URIs current (loopback, plus the public URL's "/").
#include <string_view>

#include "common/status.h"
#include "state/state_store.h"

namespace ward::api {

inline constexpr std::string_view kPortalAppName = "Ward portal";

// Finds the tenant's portal app, creating it when missing and adding `public_url` + "/" to its
// redirect URIs when absent. Idempotent.
Result<state::App> EnsurePortalApp(state::StateStore& store, std::string_view tenant, std::string_view public_url);

}  // namespace ward::api
