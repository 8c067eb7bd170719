#pragma once
// Small OpenSSL-backed primitives used across modules: randomness, ids, hashes, encodings.
// All functions are thread-safe. Failures of the system RNG abort (there is no safe fallback).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ward {

std::string RandomBytes(size_t n);
// Random version-4 UUID, lower-case, e.g. "1f0c...-...".
std::string NewGuid();
// `bytes` random bytes as unpadded base64url (for secrets, codes, refresh tokens).
std::string RandomToken(size_t bytes = 32);
bool IsGuid(std::string_view s);

std::string Sha256(std::string_view data);  // raw 32 bytes
std::string Sha1(std::string_view data);    // raw 20 bytes
std::string Md5(std::string_view data);     // raw 16 bytes (file hashes and KQL's hash_md5; not for security)
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
// Constant-time comparison for secrets and MACs.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string HexEncode(std::string_view bytes);  // lower-case
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);  // standard alphabet, padded
std::optional<std::string> Base64Decode(std::string_view text);  // accepts missing padding
std::string Base64UrlEncode(std::string_view bytes);  // url alphabet, no padding
std::optional<std::string> Base64UrlDecode(std::string_view text);  // rejects '=' padding and bad chars

}  // namespace ward
