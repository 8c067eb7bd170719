#pragma once
// File helpers shared by the response actions (scan, quarantine, packages, live response). They
// open without following symbolic links where the caller acts on a path an attacker may control,
// and never block on FIFOs or devices. All functions are thread-safe; errors are Status values
// naming the path and the errno text.
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "sensor/hashes.h"
#include "sensor/util.h"

namespace ward::response {

// "open /x: Permission denied" as an error of a code chosen from errno (ENOENT -> NotFound, EACCES/
// EPERM -> PermissionDenied, otherwise Internal).
Status ErrnoStatus(std::string_view what, const std::string& path, int err);

struct OpenFile {
  sensor::UniqueFd fd;
  struct stat st {};
};
// Opens a regular file for reading: O_NOFOLLOW (the last component) and O_NONBLOCK (a FIFO swapped in
// does not hang us), then checks S_ISREG on the opened descriptor. FailedPrecondition when the path
// is not a regular file.
Result<OpenFile> OpenRegular(const std::string& path, bool follow_symlinks = false);

// Reads up to max_bytes from offset 0 (pread). ResourceExhausted when the file is larger and
// `must_fit`; otherwise the first max_bytes.
Result<std::string> ReadFd(int fd, int64_t max_bytes, bool must_fit);

// Copies the file open at `in_fd` (from offset 0) to a new file at `dest` (O_EXCL, `mode`), at most
// max_bytes (ResourceExhausted beyond; the partial copy is removed), then fsyncs it.
Status CopyToNewFile(int in_fd, const std::string& dest, unsigned mode, int64_t max_bytes = INT64_MAX);

// The target of a symbolic link; "" when `path` is not one or cannot be read.
std::string ReadLink(const std::string& path);

// "/root" and the directories in /home (sorted; links left out), as paths of the host; `root`
// prefixes where they are looked for (a fake root in tests).
std::vector<std::string> HomeDirectories(const std::string& root = "");

// fsync of the directory holding `path`, so a rename or unlink in it is durable.
void SyncParentDir(const std::string& path);

// "0755"-style permission bits, and the symbolic "-rwxr-xr-x" of a full st_mode.
std::string OctalMode(mode_t mode);
std::string SymbolicMode(mode_t mode);

// Size, mode, owner, times and (for regular files up to max_hash_bytes) hashes of a path, as JSON
// (live response `fileinfo`, directory listings). Does not follow a final symbolic link.
Result<json::Value> FileInfoJson(const std::string& path, int64_t max_hash_bytes);

// ["a","b"] from strings: the error and path lists of action reports.
json::Value StringArray(const std::vector<std::string>& items);

// Sleeps `d` in short slices; returns false as soon as `cancelled` (may be empty) says so.
bool SleepUnlessCancelled(std::chrono::steady_clock::duration d, const std::function<bool()>& cancelled);

// True when `s` is exactly `len` hex digits (any case), e.g. a SHA1 of 40.
bool IsHex(std::string_view s, size_t len);
std::string ToLower(std::string_view s);

}  // namespace ward::response
