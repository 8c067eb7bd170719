#include "identity/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>

#include "common/crypto.h"

namespace ward::identity {
namespace {

constexpr size_t kMaxTokenBytes = 16 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;
constexpr size_t kMaxJsonDepth = 16;

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

// Drains the thread's OpenSSL error queue into a short message so failures never leak into
// unrelated OpenSSL calls made later on the same thread.
std::string TakeOpenSslError(std::string_view what) {
  std::string msg(what);
  unsigned long err = ERR_get_error();
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return msg;
}

// Never prompt on a terminal for an encrypted PEM (the default callback does); fail instead.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<std::string> BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || data == nullptr) return Err(Internal("empty PEM output"));
  return std::string(data, static_cast<size_t>(len));
}

std::string BnParamToBase64Url(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1 || raw == nullptr) {
    ERR_clear_error();
    return {};
  }
  BnPtr bn(raw, &BN_free);
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  return Base64UrlEncode(bytes);
}

struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // "header.payload"
};

std::optional<Segments> Split(std::string_view token) {
  size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  if (token.find('.', d2 + 1) != std::string_view::npos) return std::nullopt;
  return Segments{token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1),
                  token.substr(0, d2)};
}

double ToEpochSeconds(std::chrono::system_clock::time_point tp) {
  return std::chrono::duration<double>(tp.time_since_epoch()).count();
}

bool AudienceAccepted(const json::Value& aud, const std::vector<std::string>& accepted) {
  auto ok = [&](const json::Value& v) {
    return v.is_string() && std::find(accepted.begin(), accepted.end(), v.as_string()) != accepted.end();
  };
  if (aud.is_string()) return ok(aud);
  if (aud.is_array()) return std::any_of(aud.items().begin(), aud.items().end(), ok);
  return false;
}

// Everything a key holds, built outside RsaKey (Impl is private to it).
struct KeyParts {
  // shared_ptr with EVP_PKEY_free: copies of RsaKey share one parsed key; the EVP_PKEY is only
  // read after construction, which OpenSSL 3 allows from many threads at once.
  std::shared_ptr<EVP_PKEY> pkey;
  bool has_private = false;
  // Derived once: the public forms never change and the JWKS endpoint asks for them often.
  std::string public_pem;
  std::string n;
  std::string e;
  // DigestVerify context initialised once for RS256 with this key; each verification clones it,
  // which skips the per-call algorithm fetches (~2.5 of ~20 us per RSA check). Only ever read.
  std::shared_ptr<const EVP_MD_CTX> verify_template;
};

// Validates the key and derives the cached public forms.
Result<KeyParts> MakeParts(PkeyPtr pkey, bool has_private) {
  if (!pkey) return Err(InvalidArgument("no key"));
  if (!EVP_PKEY_is_a(pkey.get(), "RSA")) return Err(InvalidArgument("not an RSA key"));
  int bits = EVP_PKEY_get_bits(pkey.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return Err(InvalidArgument("RSA key size " + std::to_string(bits) + " not allowed"));
  }
  // Rejects degenerate public keys (e.g. e = 1 or even n) that an imported JWK could carry.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr), &EVP_PKEY_CTX_free);
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return Err(InvalidArgument(TakeOpenSslError("RSA public key check failed")));
  }
  KeyParts parts;
  parts.has_private = has_private;
  parts.n = BnParamToBase64Url(pkey.get(), OSSL_PKEY_PARAM_RSA_N);
  parts.e = BnParamToBase64Url(pkey.get(), OSSL_PKEY_PARAM_RSA_E);
  if (parts.n.empty() || parts.e.empty()) return Err(Internal("cannot read RSA public parameters"));
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
    return Err(Internal(TakeOpenSslError("PEM_write_bio_PUBKEY")));
  }
  WARD_ASSIGN_OR_RETURN(parts.public_pem, BioToString(bio.get()));
  MdCtxPtr tmpl(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!tmpl || EVP_DigestVerifyInit_ex(tmpl.get(), nullptr, "SHA256", nullptr, nullptr, pkey.get(), nullptr) != 1) {
    return Err(Internal(TakeOpenSslError("RS256 verify init")));
  }
  parts.verify_template = std::shared_ptr<const EVP_MD_CTX>(tmpl.release(), &EVP_MD_CTX_free);
  parts.pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), &EVP_PKEY_free);
  return parts;
}

}  // namespace

struct RsaKey::Impl : KeyParts {};

Result<RsaKey> RsaKey::Generate(std::string kid, int bits) {
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return Err(InvalidArgument("unsupported RSA key size"));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1) {
    return Err(Internal(TakeOpenSslError("RSA keygen init")));
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) return Err(Internal(TakeOpenSslError("RSA keygen")));
  WARD_ASSIGN_OR_RETURN(KeyParts parts, MakeParts(PkeyPtr(raw, &EVP_PKEY_free), true));
  RsaKey key;
  key.impl_ = std::make_shared<const Impl>(Impl{std::move(parts)});
  key.kid_ = std::move(kid);
  return key;
}

Result<RsaKey> RsaKey::FromPrivatePem(std::string kid, std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return Err(Internal("BIO_new_mem_buf"));
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr), &EVP_PKEY_free);
  if (!pkey) return Err(InvalidArgument(TakeOpenSslError("cannot parse private key PEM")));
  WARD_ASSIGN_OR_RETURN(KeyParts parts, MakeParts(std::move(pkey), true));
  RsaKey key;
  key.impl_ = std::make_shared<const Impl>(Impl{std::move(parts)});
  key.kid_ = std::move(kid);
  return key;
}

Result<RsaKey> RsaKey::FromPublicPem(std::string kid, std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return Err(Internal("BIO_new_mem_buf"));
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, &NoPassphrase, nullptr), &EVP_PKEY_free);
  if (!pkey) return Err(InvalidArgument(TakeOpenSslError("cannot parse public key PEM")));
  WARD_ASSIGN_OR_RETURN(KeyParts parts, MakeParts(std::move(pkey), false));
  RsaKey key;
  key.impl_ = std::make_shared<const Impl>(Impl{std::move(parts)});
  key.kid_ = std::move(kid);
  return key;
}

Result<RsaKey> RsaKey::FromJwk(const json::Value& jwk) {
  if (!jwk.is_object()) return Err(InvalidArgument("JWK is not an object"));
  if (jwk.GetString("kty") != "RSA") return Err(InvalidArgument("JWK kty is not RSA"));
  if (const json::Value* alg = jwk.Find("alg"); alg && !(alg->is_string() && alg->as_string() == "RS256")) {
    return Err(InvalidArgument("JWK alg is not RS256"));
  }
  if (const json::Value* use = jwk.Find("use"); use && !(use->is_string() && use->as_string() == "sig")) {
    return Err(InvalidArgument("JWK use is not sig"));
  }
  auto kid = jwk.GetString("kid");
  auto n_b64 = jwk.GetString("n");
  auto e_b64 = jwk.GetString("e");
  if (!kid || kid->empty() || !n_b64 || !e_b64) return Err(InvalidArgument("JWK lacks kid, n or e"));
  auto n = Base64UrlDecode(*n_b64);
  auto e = Base64UrlDecode(*e_b64);
  if (!n || !e || n->empty() || e->empty()) return Err(InvalidArgument("JWK n or e is not base64url"));

  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr),
             &BN_free);
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr),
             &BN_free);
  if (!bn_n || !bn_e) return Err(Internal(TakeOpenSslError("BN_bin2bn")));

  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Err(Internal(TakeOpenSslError("OSSL_PARAM_BLD")));
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 &OSSL_PARAM_free);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), &EVP_PKEY_CTX_free);
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return Err(Internal(TakeOpenSslError("EVP_PKEY_fromdata_init")));
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return Err(InvalidArgument(TakeOpenSslError("invalid RSA JWK")));
  }
  WARD_ASSIGN_OR_RETURN(KeyParts parts, MakeParts(PkeyPtr(raw, &EVP_PKEY_free), false));
  RsaKey key;
  key.impl_ = std::make_shared<const Impl>(Impl{std::move(parts)});
  key.kid_ = std::move(*kid);
  return key;
}

bool RsaKey::has_private() const { return impl_ && impl_->has_private; }

Result<std::string> RsaKey::PrivatePem() const {
  if (!has_private()) return Err(FailedPrecondition("key " + kid_ + " has no private part"));
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  // PKCS#8, unencrypted: at-rest protection of the PEM is the caller's concern.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Err(Internal(TakeOpenSslError("PEM_write_bio_PrivateKey")));
  }
  return BioToString(bio.get());
}

std::string RsaKey::PublicPem() const { return impl_ ? impl_->public_pem : std::string(); }

json::Value RsaKey::PublicJwk() const {
  json::Value jwk = json::Value::Object();
  jwk.Set("kty", "RSA");
  jwk.Set("use", "sig");
  jwk.Set("alg", "RS256");
  jwk.Set("kid", kid_);
  jwk.Set("n", impl_ ? impl_->n : std::string());
  jwk.Set("e", impl_ ? impl_->e : std::string());
  return jwk;
}

Result<std::string> RsaKey::SignRs256(std::string_view data) const {
  if (!has_private()) return Err(FailedPrecondition("key " + kid_ + " cannot sign"));
  MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  // RSA defaults to PKCS#1 v1.5 padding, which is what RS256 means.
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, impl_->pkey.get(), nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Err(Internal(TakeOpenSslError("RS256 sign init")));
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Err(Internal(TakeOpenSslError("RS256 sign")));
  }
  sig.resize(len);
  return sig;
}

bool RsaKey::VerifyRs256(std::string_view data, std::string_view signature) const {
  if (!impl_) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx) return false;
  // Clone the prepared context; should a provider refuse to duplicate it, initialise afresh.
  bool ready = EVP_MD_CTX_copy_ex(ctx.get(), impl_->verify_template.get()) == 1;
  if (!ready) {
    ERR_clear_error();
    EVP_MD_CTX_reset(ctx.get());
    ready = EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, impl_->pkey.get(), nullptr) == 1;
  }
  bool ok = ready &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  if (!ok) ERR_clear_error();  // a bad signature queues errors; they are not ours to keep
  return ok;
}

KeySet::KeySet(std::vector<RsaKey> keys, std::string active_kid)
    : keys_(std::move(keys)), active_kid_(std::move(active_kid)) {}

const RsaKey* KeySet::Find(std::string_view kid) const {
  for (const RsaKey& k : keys_) {
    if (k.kid() == kid) return &k;
  }
  return nullptr;
}

const RsaKey* KeySet::active() const { return active_kid_.empty() ? nullptr : Find(active_kid_); }

json::Value KeySet::Jwks() const {
  json::Value keys = json::Value::Array();
  for (const RsaKey& k : keys_) keys.Append(k.PublicJwk());
  json::Value out = json::Value::Object();
  out.Set("keys", std::move(keys));
  return out;
}

Result<std::string> SignJwt(const json::Value& claims, const RsaKey& key) {
  if (!claims.is_object()) return Err(InvalidArgument("JWT claims must be an object"));
  json::Value header = json::Value::Object();
  header.Set("typ", "JWT");
  header.Set("alg", "RS256");
  header.Set("kid", key.kid());
  std::string token = Base64UrlEncode(header.Serialize());
  token.push_back('.');
  token += Base64UrlEncode(claims.Serialize());
  WARD_ASSIGN_OR_RETURN(std::string sig, key.SignRs256(token));
  token.push_back('.');
  token += Base64UrlEncode(sig);
  return token;
}

Result<json::Value> VerifyJwt(std::string_view token, const KeySet& keys, const JwtValidation& validation) {
  return VerifyJwtWith(
      token,
      [&keys](const json::Value& header) -> const RsaKey* {
        auto kid = header.GetString("kid");
        return kid ? keys.Find(*kid) : nullptr;
      },
      validation);
}

Result<json::Value> VerifyJwtWith(std::string_view token, const KeyResolver& resolve, const JwtValidation& validation) {
  auto fail = [](std::string reason) { return Err(Unauthenticated(std::move(reason))); };

  if (token.size() > kMaxTokenBytes) return fail("token too large");
  auto seg = Split(token);
  if (!seg) return fail("token is not three dot-separated parts");
  auto header_json = Base64UrlDecode(seg->header);
  auto payload_json = Base64UrlDecode(seg->payload);
  auto signature = Base64UrlDecode(seg->signature);
  if (!header_json || !payload_json || !signature) return fail("token part is not base64url");

  // Header: only RS256 is ever accepted, whatever the key set holds (no alg confusion).
  auto header = json::Value::Parse(*header_json, kMaxJsonDepth);
  if (!header || !header->is_object()) return fail("header is not a JSON object");
  if (header->GetString("alg") != "RS256") return fail("unsupported alg");
  if (const json::Value* typ = header->Find("typ"); typ && !(typ->is_string() && typ->as_string() == "JWT")) {
    return fail("unsupported typ");
  }
  // RFC 7515 4.1.11: extensions we do not understand must not be ignored.
  if (header->Find("crit") != nullptr) return fail("crit header not supported");
  if (!header->GetString("kid") && !header->GetString("x5t")) return fail("missing kid");
  const RsaKey* key = resolve(*header);
  if (key == nullptr) return fail("unknown kid");
  if (!key->VerifyRs256(seg->signing_input, *signature)) return fail("bad signature");

  // Claims: only read after the signature holds.
  auto claims = json::Value::Parse(*payload_json, kMaxJsonDepth);
  if (!claims || !claims->is_object()) return fail("claims are not a JSON object");
  const double now = ToEpochSeconds(validation.now);
  const double skew = static_cast<double>(validation.clock_skew.count());
  // Comparisons are written so that NaN or other odd numbers fail rather than pass.
  const json::Value* exp = claims->Find("exp");
  if (exp == nullptr || !exp->is_number()) return fail("missing exp");
  if (!(now <= exp->as_double() + skew)) return fail("token expired");
  if (const json::Value* nbf = claims->Find("nbf")) {
    if (!nbf->is_number() || !(now >= nbf->as_double() - skew)) return fail("token not yet valid");
  }
  if (const json::Value* iat = claims->Find("iat")) {
    if (!iat->is_number() || !(iat->as_double() <= now + skew)) return fail("token issued in the future");
  }
  const json::Value* aud = claims->Find("aud");
  if (aud == nullptr || !AudienceAccepted(*aud, validation.accepted_audiences)) return fail("audience not accepted");
  if (validation.expected_issuer) {
    if (claims->GetString("iss") != *validation.expected_issuer) return fail("issuer mismatch");
    return std::move(*claims);
  }
  auto tid = claims->GetString("tid");
  if (!tid) return fail("missing tid");
  if (!validation.issuer_for_tenant) return fail("no issuer policy");
  std::string expected_iss = validation.issuer_for_tenant(*tid);
  if (expected_iss.empty()) return fail("unknown tenant");
  if (claims->GetString("iss") != expected_iss) return fail("issuer mismatch");
  return std::move(*claims);
}

Result<json::Value> DecodeJwtPart(std::string_view token, int part_index) {
  if (part_index != 0 && part_index != 1) return Err(InvalidArgument("part_index must be 0 or 1"));
  if (token.size() > kMaxTokenBytes) return Err(InvalidArgument("token too large"));
  auto seg = Split(token);
  if (!seg) return Err(InvalidArgument("token is not three dot-separated parts"));
  auto text = Base64UrlDecode(part_index == 0 ? seg->header : seg->payload);
  if (!text) return Err(InvalidArgument("token part is not base64url"));
  return json::Value::Parse(*text, kMaxJsonDepth);
}

}  // namespace ward::identity
