#include "identity/password.h"

#include <argon2.h>

#include "common/crypto.h"

namespace ward::identity {
namespace {

// OWASP 2023 argon2id minimum: 19 MiB, 2 iterations, 1 lane.
constexpr uint32_t kTimeCost = 2;
constexpr uint32_t kMemoryKiB = 19456;
constexpr uint32_t kParallelism = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr std::string_view kArgon2idPrefix = "$argon2id$";

}  // namespace

Result<std::string> HashPassword(std::string_view password) {
  const std::string salt = RandomBytes(kSaltBytes);
  const size_t encoded_len =
      argon2_encodedlen(kTimeCost, kMemoryKiB, kParallelism, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(encoded_len, '\0');
  int rc = argon2id_hash_encoded(kTimeCost, kMemoryKiB, kParallelism, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Err(Internal(std::string("argon2id: ") + argon2_error_message(rc)));
  encoded.resize(encoded.find('\0'));  // encoded_len includes the terminator
  return encoded;
}

bool VerifyPassword(std::string_view password, std::string_view encoded_hash) {
  // Only our own scheme; argon2id_verify needs a NUL-terminated string, so no embedded NULs.
  if (!encoded_hash.starts_with(kArgon2idPrefix)) return false;
  if (encoded_hash.find('\0') != std::string_view::npos) return false;
  const std::string encoded(encoded_hash);
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string HashSecret(std::string_view secret) { return HexEncode(Sha256(secret)); }

bool VerifySecret(std::string_view secret, std::string_view stored_hash) {
  return ConstantTimeEquals(HashSecret(secret), stored_hash);
}

}  // namespace ward::identity
