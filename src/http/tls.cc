// Self-signed certificate generation (OpenSSL 3). The certificate is its own CA (CA:TRUE, keyCertSign)
// so clients can pin it directly as their trust bundle.
#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "http/server.h"

namespace ward::http {
namespace {

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); }
  void operator()(ASN1_OCTET_STRING* p) const { ASN1_OCTET_STRING_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Deleter>;

std::string OpenSslError(const std::string& what) {
  std::string out = what;
  unsigned long err = ERR_get_error();
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    out += ": ";
    out += buf;
  }
  ERR_clear_error();
  return out;
}

// Adds an extension given in OpenSSL's config syntax (only used with constant strings).
bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// Builds subjectAltName programmatically so host strings never go through the config parser.
Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& hosts) {
  Ptr<GENERAL_NAMES> names(GENERAL_NAMES_new());
  if (!names) return Internal(OpenSslError("GENERAL_NAMES_new"));
  for (const std::string& host : hosts) {
    if (host.empty()) return InvalidArgument("empty host name for certificate");
    for (char c : host) {
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        return InvalidArgument("invalid character in certificate host '" + host + "'");
      }
    }
    Ptr<GENERAL_NAME> name(GENERAL_NAME_new());
    if (!name) return Internal(OpenSslError("GENERAL_NAME_new"));
    unsigned char ip[16];
    int ip_len = 0;
    if (inet_pton(AF_INET, host.c_str(), ip) == 1) {
      ip_len = 4;
    } else if (inet_pton(AF_INET6, host.c_str(), ip) == 1) {
      ip_len = 16;
    }
    if (ip_len > 0) {
      Ptr<ASN1_OCTET_STRING> octets(ASN1_OCTET_STRING_new());
      if (!octets || ASN1_OCTET_STRING_set(octets.get(), ip, ip_len) != 1) {
        return Internal(OpenSslError("ASN1_OCTET_STRING_set"));
      }
      GENERAL_NAME_set0_value(name.get(), GEN_IPADD, octets.release());
    } else {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr || ASN1_STRING_set(dns, host.data(), static_cast<int>(host.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        return Internal(OpenSslError("ASN1_STRING_set"));
      }
      GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) return Internal(OpenSslError("sk_GENERAL_NAME_push"));
    name.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Internal(OpenSslError("add subjectAltName"));
  }
  return Status::Ok();
}

Status WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Internal("open " + path + ": " + std::strerror(errno));
  // The file may have existed with looser permissions; O_CREAT's mode only applies to new files.
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    return Internal("chmod " + path + ": " + std::strerror(err));
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Internal("write " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Internal("close " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

}  // namespace

Status GenerateSelfSignedCertificate(const std::string& cert_file, const std::string& key_file,
                                     const std::vector<std::string>& hosts, int days) {
  if (days <= 0) return InvalidArgument("certificate validity must be positive");
  if (hosts.empty()) return InvalidArgument("certificate needs at least one host");
  ERR_clear_error();

  Ptr<EVP_PKEY> key(EVP_RSA_gen(2048));
  if (!key) return Internal(OpenSslError("RSA key generation"));

  Ptr<X509> cert(X509_new());
  if (!cert) return Internal(OpenSslError("X509_new"));
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return Internal(OpenSslError("X509_set_version"));

  // Random positive 127-bit serial: unique per generation, as browsers require.
  Ptr<BIGNUM> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Internal(OpenSslError("certificate serial"));
  }
  // Backdate a little so clients with a slightly slow clock accept a fresh certificate.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) == nullptr) {
    return Internal(OpenSslError("certificate validity"));
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return Internal(OpenSslError("X509_set_pubkey"));

  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = hosts.front().substr(0, 64);  // CN is limited to 64 characters
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Ward"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return Internal(OpenSslError("certificate subject"));
  }

  if (!AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") ||
      !AddExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert.get(), NID_subject_key_identifier, "hash") ||
      !AddExtension(cert.get(), NID_authority_key_identifier, "keyid:always")) {
    return Internal(OpenSslError("certificate extensions"));
  }
  Status st = AddSubjectAltNames(cert.get(), hosts);
  if (!st.ok()) return st;

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Internal(OpenSslError("X509_sign"));

  Ptr<BIO> key_bio(BIO_new(BIO_s_mem()));
  Ptr<BIO> cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return Internal(OpenSslError("PEM encoding"));
  }
  st = WriteFile(key_file, BioContents(key_bio.get()), 0600);
  if (!st.ok()) return st;
  return WriteFile(cert_file, BioContents(cert_bio.get()), 0644);
}

}  // namespace ward::http
