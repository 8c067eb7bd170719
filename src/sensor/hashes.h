#pragma once
// File hashing (SHA1, SHA256, MD5 in one pass) with a cache keyed by (dev, inode, mtime, size), so a
// binary started a thousand times is read once.
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ward::sensor {

struct FileHashes {
  std::string sha1;    // lower-case hex
  std::string sha256;  // lower-case hex
  std::string md5;     // lower-case hex
  int64_t size = 0;
};

// Hashes everything readable from `fd` (from offset 0, with pread). nullopt on read errors.
std::optional<FileHashes> HashFd(int fd);

class HashCache {
 public:
  explicit HashCache(size_t capacity = 4096, int64_t max_file_bytes = 256LL * 1024 * 1024);

  // Hashes of the regular file at `path`; nullopt when unreadable, not regular or over the limit.
  std::optional<FileHashes> ForPath(const std::string& path, int64_t max_bytes = -1);
  // Same for an open file (e.g. /proc/<pid>/exe opened while the process still existed).
  std::optional<FileHashes> ForFd(int fd, int64_t max_bytes = -1);

  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Key {
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns;
    int64_t size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  using Lru = std::list<std::pair<Key, FileHashes>>;

  static Key KeyOf(const struct stat& st);
  std::optional<FileHashes> HashAndInsert(int fd, const Key& key);
  std::optional<FileHashes> Lookup(const Key& key);
  void Insert(const Key& key, const FileHashes& hashes);

  size_t capacity_;
  int64_t max_file_bytes_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<Key, Lru::iterator, KeyHash> index_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace ward::sensor
