#pragma once
// Read-only serving of a directory of built web assets (the portal's `web/dist`).
//
// GET/HEAD of a path that names a file under the root answers it with its content type; a path
// whose last segment has no extension is a client-side route and answers the root's index.html, so
// deep links and reloads of the single-page app work. Files are read on each request (the page cache
// keeps them hot), so a rebuilt portal is served without a restart. Paths with "..", NUL or
// backslashes, and anything resolving outside the root, are refused. Hashed build outputs under
// /assets/ are cacheable for a year; index.html is always revalidated. Thread-safe (immutable).
#include <string>

#include "http/server.h"

namespace ward::http {

class StaticFiles {
 public:
  explicit StaticFiles(std::string root);
  const std::string& root() const { return root_; }
  // True when it answered (200 or 304); false when it has nothing for this request (the caller answers 404).
  bool Serve(const Request& req, Response& res) const;
  // The MIME type for a file name, by extension ("application/octet-stream" when unknown).
  static std::string ContentTypeFor(std::string_view file_name);

 private:
  std::string root_;  // canonical absolute path
};

}  // namespace ward::http
