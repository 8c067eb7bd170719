#include "identity/certificates.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <ctime>
#include <memory>

#include "common/crypto.h"

namespace ward::identity {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

int64_t AsnTimeToMs(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

Result<CertificateInfo> ParseCertificatePem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return Err(InvalidArgument("certificate is too large"));
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Err(Internal("BIO_new_mem_buf failed"));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Err(InvalidArgument("not a PEM certificate"));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(X509_get_pubkey(cert.get()));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return Err(InvalidArgument("the certificate's key must be RSA"));
  if (EVP_PKEY_get_bits(key.get()) < 2048) return Err(InvalidArgument("the certificate's key must have at least 2048 bits"));

  CertificateInfo info;
  unsigned char* der = nullptr;
  int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) return Err(InvalidArgument("certificate cannot be encoded"));
  std::string sha1 = Sha1(std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(der_len)));
  OPENSSL_free(der);
  info.thumbprint = HexEncode(sha1);
  for (char& c : info.thumbprint) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  std::unique_ptr<BIO, BioFree> out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key.get()) != 1) return Err(Internal("cannot write public key"));
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  info.public_key_pem.assign(data, static_cast<size_t>(len));

  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof subject);
  info.subject = subject;
  info.not_before_ms = AsnTimeToMs(X509_get0_notBefore(cert.get()));
  info.not_after_ms = AsnTimeToMs(X509_get0_notAfter(cert.get()));
  return info;
}

Result<state::AppCertificate> AddCertificate(state::App* app, const CertificateInfo& info) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  if (info.not_after_ms != 0 && info.not_after_ms < now) return Err(InvalidArgument("the certificate has expired"));
  if (app->certificates.size() >= 10) return Err(InvalidArgument("An application can have at most 10 certificates"));
  for (const state::AppCertificate& c : app->certificates) {
    if (c.thumbprint == info.thumbprint) return Err(AlreadyExists("this certificate is already registered"));
  }
  state::AppCertificate c;
  c.id = NewGuid();
  c.thumbprint = info.thumbprint;
  c.public_key_pem = info.public_key_pem;
  c.subject = info.subject;
  c.created_ms = now;
  c.expires_ms = info.not_after_ms;
  app->certificates.push_back(c);
  return c;
}

}  // namespace ward::identity
