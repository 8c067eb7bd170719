#include "identity/keys.h"

#include "common/crypto.h"

namespace ward::identity {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status KeyManager::Initialize() {
  WARD_ASSIGN_OR_RETURN(std::vector<state::SigningKey> keys, store_.ListSigningKeys());
  bool has_active = false;
  for (const auto& k : keys) has_active |= (k.status == "active");
  if (!has_active) {
    WARD_ASSIGN_OR_RETURN(std::string kid, Rotate());
    (void)kid;
  }
  std::lock_guard lock(mu_);
  return Reload();
}

Status KeyManager::Reload() {
  WARD_ASSIGN_OR_RETURN(std::vector<state::SigningKey> stored, store_.ListSigningKeys());
  std::vector<RsaKey> keys;
  std::string active;
  for (const state::SigningKey& k : stored) {
    if (k.status == "retired") continue;
    WARD_ASSIGN_OR_RETURN(RsaKey key, RsaKey::FromPrivatePem(k.kid, k.private_pem));
    keys.push_back(std::move(key));
    if (k.status == "active") active = k.kid;
  }
  current_ = std::make_shared<const KeySet>(std::move(keys), active);
  loaded_counter_ = store_.ChangeCounter();
  return Status::Ok();
}

std::shared_ptr<const KeySet> KeyManager::Current() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (!current_ || now - last_check_ > std::chrono::seconds(1)) {
    last_check_ = now;
    if (!current_ || store_.ChangeCounter() != loaded_counter_) {
      Status st = Reload();
      if (!st.ok() && !current_) current_ = std::make_shared<const KeySet>();
    }
  }
  return current_;
}

Result<std::string> KeyManager::Rotate() {
  std::string kid = Base64UrlEncode(RandomBytes(16));
  WARD_ASSIGN_OR_RETURN(RsaKey key, RsaKey::Generate(kid));
  WARD_ASSIGN_OR_RETURN(std::string pem, key.PrivatePem());
  WARD_ASSIGN_OR_RETURN(std::vector<state::SigningKey> stored, store_.ListSigningKeys());
  for (state::SigningKey& k : stored) {
    if (k.status == "active") {
      k.status = "previous";
      WARD_RETURN_IF_ERROR(store_.PutSigningKey(k));
    }
  }
  WARD_RETURN_IF_ERROR(store_.PutSigningKey(state::SigningKey{kid, pem, NowMs(), "active"}));
  std::lock_guard lock(mu_);
  WARD_RETURN_IF_ERROR(Reload());
  return kid;
}

Status KeyManager::Retire(std::string_view kid) {
  WARD_ASSIGN_OR_RETURN(std::vector<state::SigningKey> stored, store_.ListSigningKeys());
  for (state::SigningKey& k : stored) {
    if (k.kid != kid) continue;
    if (k.status == "active") return FailedPrecondition("the active key cannot be retired; rotate first");
    k.status = "retired";
    WARD_RETURN_IF_ERROR(store_.PutSigningKey(k));
    std::lock_guard lock(mu_);
    return Reload();
  }
  return NotFound("signing key " + std::string(kid) + " not found");
}

}  // namespace ward::identity
