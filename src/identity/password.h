#pragma once
// Password and secret hashing.
// Passwords (low entropy, chosen by people) use argon2id with per-hash salt, encoded in the PHC
// string format. Client secrets and refresh tokens are generated with 256 bits of entropy, so a
// single SHA-256 is enough to make a stolen database useless, and it keeps the token endpoint fast.
#include <string>
#include <string_view>

#include "common/status.h"

namespace ward::identity {

// argon2id, t=2, m=19 MiB, p=1 (OWASP 2023 minimum); returns "$argon2id$v=19$...".
Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view password, std::string_view encoded_hash);
// Lower-case hex SHA-256 of a high-entropy secret.
std::string HashSecret(std::string_view secret);
// Compares a presented secret with a stored HashSecret value in constant time.
bool VerifySecret(std::string_view secret, std::string_view stored_hash);

}  // namespace ward::identity
