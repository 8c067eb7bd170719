#pragma once
// Method + path routing. Patterns are literal segments and `{name}` captures, e.g.
// "/api/machines/{id}/isolate". Literal segments match case-insensitively (MDE paths are used with
// varying case); captures keep the request's case. A trailing slash is ignored.
// A capture may also sit inside a segment with a literal prefix and suffix, e.g.
// "findbyip({args})". Thread-safety: build before serving; Dispatch is const and thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace ward::http {

class Router {
 public:
  // Adds a route. Earlier routes win when two patterns match the same path.
  void Add(std::string method, std::string pattern, Handler handler);

  enum class Outcome { kHandled, kNotFound, kMethodNotAllowed };
  // Finds the route, fills req.route and req.path_params and calls the handler.
  // On kNotFound/kMethodNotAllowed the response is untouched.
  Outcome Dispatch(Request& req, Response& res) const;

  // A registered route as data, for generated documents (OpenAPI). Captures are the `{name}`s of
  // the pattern in path order.
  struct RouteInfo {
    std::string method;
    std::string pattern;
    std::vector<std::string> captures;
  };
  // Every route in registration order (the order Dispatch tries them). Read-only, so it is as
  // thread-safe as Dispatch once the router is built.
  std::vector<RouteInfo> Routes() const;
  size_t size() const { return routes_.size(); }

 private:
  struct Segment {
    std::string prefix;   // literal text (lower-cased) or the text before a capture
    std::string suffix;   // literal text after a capture
    std::string capture;  // empty for literal segments
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace ward::http
