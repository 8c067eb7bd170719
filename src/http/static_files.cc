#include "http/static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ward::http {
namespace {

bool SafeRelativePath(std::string_view path) {
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg == ".." || seg == ".") return false;
    start = end + 1;
  }
  return true;
}

std::optional<std::string> ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A weak validator from size and modification time: cheap, and changes with every rebuild.
std::string ETagOf(const std::filesystem::path& p) {
  std::error_code ec;
  auto size = std::filesystem::file_size(p, ec);
  auto mtime = std::filesystem::last_write_time(p, ec).time_since_epoch().count();
  std::ostringstream s;
  s << "W/\"" << std::hex << size << "-" << mtime << "\"";
  return s.str();
}

}  // namespace

StaticFiles::StaticFiles(std::string root) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(root, ec);
  root_ = ec ? root : canonical.string();
}

std::string StaticFiles::ContentTypeFor(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".woff", "font/woff"}, {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"}, {".webmanifest", "application/manifest+json"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext) return std::string(type);
  }
  return "application/octet-stream";
}

bool StaticFiles::Serve(const Request& req, Response& res) const {
  namespace fs = std::filesystem;
  if (root_.empty() || (req.method != "GET" && req.method != "HEAD")) return false;
  std::string_view rel = req.path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  if (!SafeRelativePath(rel)) return false;
  const fs::path root(root_);
  fs::path file = rel.empty() ? root / "index.html" : root / fs::path(std::string(rel));
  std::error_code ec;
  bool is_file = fs::is_regular_file(file, ec);
  const bool is_index = !is_file || rel.empty();
  if (!is_file) {
    // Only extension-less paths are client routes; a missing /assets/x.js stays a 404.
    std::string_view last = rel.substr(rel.rfind('/') == std::string_view::npos ? 0 : rel.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos) return false;
    file = root / "index.html";
    if (!fs::is_regular_file(file, ec)) return false;
  }
  // Symlinks pointing out of the root are not followed.
  auto resolved = fs::weakly_canonical(file, ec);
  if (ec || resolved.string().compare(0, root_.size(), root_) != 0) return false;
  std::string etag = ETagOf(resolved);
  res.headers.Set("ETag", etag);
  res.headers.Set("Cache-Control", is_index || rel.substr(0, 7) != "assets/" ? "no-cache" : "public, max-age=31536000, immutable");
  res.headers.Set("X-Content-Type-Options", "nosniff");
  if (is_index) {
    // The portal talks only to its own origin; framing is refused (clickjacking).
    res.headers.Set("Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    res.headers.Set("X-Frame-Options", "DENY");
  }
  if (req.headers.Get("if-none-match") == etag) {
    res.status = 304;
    return true;
  }
  auto body = ReadFile(resolved);
  if (!body) return false;
  res.Set(200, ContentTypeFor(resolved.filename().string()), req.method == "HEAD" ? std::string() : std::move(*body));
  return true;
}

}  // namespace ward::http
