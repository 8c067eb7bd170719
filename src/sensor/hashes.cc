#include "sensor/hashes.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/crypto.h"
#include "sensor/util.h"

namespace ward::sensor {

namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string Final(EVP_MD_CTX* ctx) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out, &len);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), len));
}

}  // namespace

std::optional<FileHashes> HashFd(int fd) {
  MdCtx sha1(EVP_MD_CTX_new()), sha256(EVP_MD_CTX_new()), md5(EVP_MD_CTX_new());
  if (!sha1 || !sha256 || !md5) return std::nullopt;
  if (!EVP_DigestInit_ex(sha1.get(), EVP_sha1(), nullptr) || !EVP_DigestInit_ex(sha256.get(), EVP_sha256(), nullptr) ||
      !EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr)) {
    return std::nullopt;
  }
  // Heap buffer: hashing runs on threads with modest stacks.
  constexpr size_t kChunk = 128 * 1024;
  std::unique_ptr<char[]> buf(new char[kChunk]);
  off_t offset = 0;
  while (true) {
    ssize_t n = ::pread(fd, buf.get(), kChunk, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    EVP_DigestUpdate(sha1.get(), buf.get(), static_cast<size_t>(n));
    EVP_DigestUpdate(sha256.get(), buf.get(), static_cast<size_t>(n));
    EVP_DigestUpdate(md5.get(), buf.get(), static_cast<size_t>(n));
    offset += n;
  }
  FileHashes out;
  out.sha1 = Final(sha1.get());
  out.sha256 = Final(sha256.get());
  out.md5 = Final(md5.get());
  out.size = offset;
  return out;
}

HashCache::HashCache(size_t capacity, int64_t max_file_bytes)
    : capacity_(capacity == 0 ? 1 : capacity), max_file_bytes_(max_file_bytes) {}

size_t HashCache::KeyHash::operator()(const Key& k) const {
  uint64_t h = static_cast<uint64_t>(k.dev) * 0x9E3779B97F4A7C15ull;
  h ^= static_cast<uint64_t>(k.ino) + 0x7F4A7C159E3779B9ull + (h << 6) + (h >> 2);
  h ^= static_cast<uint64_t>(k.mtime_ns) + (h << 6) + (h >> 2);
  h ^= static_cast<uint64_t>(k.size) + (h << 6) + (h >> 2);
  return static_cast<size_t>(h);
}

std::optional<FileHashes> HashCache::Lookup(const Key& key) {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void HashCache::Insert(const Key& key, const FileHashes& hashes) {
  std::lock_guard lock(mu_);
  if (index_.count(key)) return;
  lru_.emplace_front(key, hashes);
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

HashCache::Key HashCache::KeyOf(const struct stat& st) {
  return Key{st.st_dev, st.st_ino, static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
             static_cast<int64_t>(st.st_size)};
}

std::optional<FileHashes> HashCache::HashAndInsert(int fd, const Key& key) {
  auto hashes = HashFd(fd);
  if (!hashes) return std::nullopt;
  // A file that changed while being read is not cached under the old key.
  if (hashes->size == key.size) Insert(key, *hashes);
  return hashes;
}

std::optional<FileHashes> HashCache::ForFd(int fd, int64_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  if (st.st_size > (max_bytes >= 0 ? max_bytes : max_file_bytes_)) return std::nullopt;
  Key key = KeyOf(st);
  if (auto hit = Lookup(key)) return hit;
  return HashAndInsert(fd, key);
}

std::optional<FileHashes> HashCache::ForPath(const std::string& path, int64_t max_bytes) {
  // stat first: the common case is a cache hit, which then needs no open/read/close.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  int64_t limit = max_bytes >= 0 ? max_bytes : max_file_bytes_;
  if (st.st_size > limit) return std::nullopt;
  if (auto hit = Lookup(KeyOf(st))) return hit;
  // O_NONBLOCK so a FIFO swapped in after the stat cannot hang us.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > limit) return std::nullopt;
  return HashAndInsert(fd.get(), KeyOf(st));
}

uint64_t HashCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

uint64_t HashCache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

}  // namespace ward::sensor
