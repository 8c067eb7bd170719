#include "common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace ward {
namespace {

[[noreturn]] void CryptoAbort(const char* what) {
  // No safe fallback for a broken RNG/digest provider: continuing could mint guessable secrets.
  std::fprintf(stderr, "ward: fatal OpenSSL failure: %s\n", what);
  std::abort();
}

// Explicitly fetched algorithms, once per process: EVP_sha256() and friends re-fetch from the
// provider on every use in OpenSSL 3, which is measurable on hot paths (token checks, HMACs).
const EVP_MD* FetchedMd(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) CryptoAbort(name);
  return md;  // Intentionally never freed (process lifetime).
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* md = FetchedMd("SHA256");
  return md;
}

const EVP_MD* Sha1Md() {
  static const EVP_MD* md = FetchedMd("SHA1");
  return md;
}

const EVP_MD* Md5Md() {
  static const EVP_MD* md = FetchedMd("MD5");
  return md;
}

EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) CryptoAbort("HMAC fetch");
    return m;
  }();
  return mac;
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  std::string out(static_cast<size_t>(EVP_MD_get_size(md)), '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, md,
                 nullptr) != 1) {
    CryptoAbort("EVP_Digest");
  }
  out.resize(len);
  return out;
}

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kB64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> MakeDecodeTable(const char* alphabet) {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  return t;
}

constexpr auto kStdTable = MakeDecodeTable(kB64Std);
constexpr auto kUrlTable = MakeDecodeTable(kB64Url);

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string EncodeBase64(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

// Decodes unpadded base64 `text` (padding already stripped by the caller). Works a 4-char group at a
// time into a presized buffer: this runs three times per JWT check on every API request.
// strict_bits: reject non-zero unused trailing bits, so every byte string has exactly one
// encoding (keeps signatures and tokens non-malleable).
std::optional<std::string> DecodeBase64(std::string_view text, const std::array<uint8_t, 256>& table,
                                        bool strict_bits) {
  const size_t groups = text.size() / 4;
  const size_t rest = text.size() % 4;
  if (rest == 1) return std::nullopt;  // 6 bits cannot form a byte
  std::string out(groups * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  for (size_t g = 0; g < groups; ++g, in += 4, o += 3) {
    const uint32_t a = table[in[0]], b = table[in[1]], c = table[in[2]], d = table[in[3]];
    if ((a | b | c | d) & 0x80) return std::nullopt;  // kInvalid is the only value with the high bit
    const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  if (rest == 2) {
    const uint32_t a = table[in[0]], b = table[in[1]];
    if ((a | b) & 0x80) return std::nullopt;
    if (strict_bits && (b & 0x0F) != 0) return std::nullopt;
    o[0] = static_cast<uint8_t>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    const uint32_t a = table[in[0]], b = table[in[1]], c = table[in[2]];
    if ((a | b | c) & 0x80) return std::nullopt;
    if (strict_bits && (c & 0x03) != 0) return std::nullopt;
    const uint32_t v = (a << 10) | (b << 4) | (c >> 2);
    o[0] = static_cast<uint8_t>(v >> 8);
    o[1] = static_cast<uint8_t>(v);
  }
  return out;
}

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    CryptoAbort("RAND_bytes");
  }
  return out;
}

std::string NewGuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((static_cast<uint8_t>(b[6]) & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<char>((static_cast<uint8_t>(b[8]) & 0x3F) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    auto v = static_cast<uint8_t>(b[i]);
    out.push_back(kHexDigits[v >> 4]);
    out.push_back(kHexDigits[v & 0x0F]);
  }
  return out;
}

std::string RandomToken(size_t bytes) { return Base64UrlEncode(RandomBytes(bytes)); }

bool IsGuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (HexValue(s[i]) < 0) {
      return false;
    }
  }
  return true;
}

std::string Sha256(std::string_view data) { return Digest(Sha256Md(), data); }

std::string Sha1(std::string_view data) { return Digest(Sha1Md(), data); }
std::string Md5(std::string_view data) { return Digest(Md5Md(), data); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(HmacAlgorithm()),
                                                                 &EVP_MAC_CTX_free);
  if (!ctx) CryptoAbort("EVP_MAC_CTX_new");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  // An empty key is legal for HMAC; give OpenSSL a valid pointer for it anyway.
  static const unsigned char kEmpty = 0;
  const auto* key_ptr = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  std::string out(32, '\0');
  size_t len = 0;
  if (EVP_MAC_init(ctx.get(), key_ptr, key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) != 1) {
    CryptoAbort("HMAC-SHA256");
  }
  out.resize(len);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Lengths are not secret (MACs and hashes have fixed sizes); only the contents are.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto v = static_cast<uint8_t>(c);
    out.push_back(kHexDigits[v >> 4]);
    out.push_back(kHexDigits[v & 0x0F]);
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) { return EncodeBase64(bytes, kB64Std, true); }

std::optional<std::string> Base64Decode(std::string_view text) {
  // Padding is optional, but when present it must be well formed: 1-2 '=' completing a 4-char group.
  size_t pad = 0;
  while (pad < text.size() && pad < 3 && text[text.size() - 1 - pad] == '=') ++pad;
  if (pad > 2) return std::nullopt;
  if (pad > 0 && text.size() % 4 != 0) return std::nullopt;
  std::string_view body = text.substr(0, text.size() - pad);
  if (pad > 0 && (body.size() % 4) + pad != 4) return std::nullopt;
  // Lenient about unused trailing bits: standard base64 arrives from third-party clients.
  return DecodeBase64(body, kStdTable, /*strict_bits=*/false);
}

std::string Base64UrlEncode(std::string_view bytes) { return EncodeBase64(bytes, kB64Url, false); }

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  // '=' is not in the url table, so padding is rejected along with any other foreign character.
  return DecodeBase64(text, kUrlTable, /*strict_bits=*/true);
}

}  // namespace ward
