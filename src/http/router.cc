#include "http/router.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ward::http {
namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// `lowered` is already lower-case (pattern side); `text` is request text of any case.
bool StartsWithLowered(std::string_view text, std::string_view lowered) {
  if (text.size() < lowered.size()) return false;
  for (size_t i = 0; i < lowered.size(); ++i) {
    if (AsciiLower(text[i]) != lowered[i]) return false;
  }
  return true;
}

bool EndsWithLowered(std::string_view text, std::string_view lowered) {
  if (text.size() < lowered.size()) return false;
  return StartsWithLowered(text.substr(text.size() - lowered.size()), lowered);
}

// Splits "/a/b/" into {"a", "b"}: one leading and one trailing slash are ignored, inner empty segments
// ("/a//b") are kept so they do not silently match a shorter pattern. Returns false when the path has
// more segments than fit in `out`.
template <size_t N>
bool SplitPath(std::string_view path, std::array<std::string_view, N>& out, size_t& count) {
  count = 0;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return true;
  for (;;) {
    if (count == N) return false;
    size_t slash = path.find('/');
    out[count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

constexpr size_t kMaxSegments = 64;

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
  Route route;
  for (char& c : method) c = AsciiUpper(c);
  route.method = std::move(method);
  route.handler = std::move(handler);
  std::string_view rest = pattern;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    Segment segment;
    size_t open = seg.find('{');
    size_t close = open == std::string_view::npos ? std::string_view::npos : seg.find('}', open);
    if (open != std::string_view::npos && close != std::string_view::npos) {
      segment.prefix = Lower(seg.substr(0, open));
      segment.capture = std::string(seg.substr(open + 1, close - open - 1));
      segment.suffix = Lower(seg.substr(close + 1));
    } else {
      segment.prefix = Lower(seg);
    }
    route.segments.push_back(std::move(segment));
  }
  route.pattern = std::move(pattern);
  routes_.push_back(std::move(route));
}

Router::Outcome Router::Dispatch(Request& req, Response& res) const {
  std::array<std::string_view, kMaxSegments> parts;
  size_t count = 0;
  if (!SplitPath(req.path, parts, count)) return Outcome::kNotFound;

  auto path_matches = [&](const Route& route) {
    if (route.segments.size() != count) return false;
    for (size_t i = 0; i < count; ++i) {
      const Segment& seg = route.segments[i];
      std::string_view part = parts[i];
      if (seg.capture.empty()) {
        if (part.size() != seg.prefix.size() || !StartsWithLowered(part, seg.prefix)) return false;
        continue;
      }
      if (part.size() < seg.prefix.size() + seg.suffix.size()) return false;
      if (!StartsWithLowered(part, seg.prefix) || !EndsWithLowered(part, seg.suffix)) return false;
      // A bare "{id}" needs a value; "findbyip({args})" may legitimately capture nothing.
      if (seg.prefix.empty() && seg.suffix.empty() && part.empty()) return false;
    }
    return true;
  };

  bool path_seen = false;
  const Route* fallback = nullptr;  // GET route answering a HEAD request
  const Route* chosen = nullptr;
  for (const Route& route : routes_) {
    if (!path_matches(route)) continue;
    path_seen = true;
    if (route.method == req.method) {
      chosen = &route;
      break;
    }
    if (fallback == nullptr && req.method == "HEAD" && route.method == "GET") fallback = &route;
  }
  if (chosen == nullptr) chosen = fallback;
  if (chosen == nullptr) return path_seen ? Outcome::kMethodNotAllowed : Outcome::kNotFound;

  req.route = chosen->pattern;
  req.path_params.clear();
  for (size_t i = 0; i < count; ++i) {
    const Segment& seg = chosen->segments[i];
    if (seg.capture.empty()) continue;
    std::string_view part = parts[i];
    part = part.substr(seg.prefix.size(), part.size() - seg.prefix.size() - seg.suffix.size());
    req.path_params.emplace_back(seg.capture, std::string(part));
  }
  chosen->handler(req, res);
  return Outcome::kHandled;
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& route : routes_) {
    RouteInfo info{route.method, route.pattern, {}};
    for (const Segment& seg : route.segments) {
      if (!seg.capture.empty()) info.captures.push_back(seg.capture);
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace ward::http
