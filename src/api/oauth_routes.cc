// Azure-AD-shaped identity endpoints (no bearer token needed): token, authorize, discovery, JWKS,
// MSAL's instance discovery and user realm.
#include "api/api.h"
#include "api/errors.h"
#include "common/log.h"

namespace ward::api {
namespace {

std::string BaseUrl(const http::Request& req) {
  std::string_view host = req.headers.Get("host");
  if (host.empty()) host = "localhost";
  return std::string(req.secure ? "https://" : "http://") + std::string(host);
}

void Reply(http::Response& res, const identity::OAuthReply& r) {
  res.status = r.status;
  res.headers.Set("Content-Type", r.content_type);
  res.headers.Set("Cache-Control", "no-store");
  res.headers.Set("Pragma", "no-cache");
  if (!r.location.empty()) res.headers.Set("Location", r.location);
  res.body = r.body;
}

void JsonReply(http::Response& res, int status, const json::Value& v) {
  res.status = status;
  res.headers.Set("Content-Type", "application/json; charset=utf-8");
  res.body = v.Serialize();
}

}  // namespace

void RegisterIdentityRoutes(Api& api) {
  Services& s = api.services();
  http::Router& r = api.router();
  metrics::Counter& issued = s.metrics.AddCounter("ward_tokens_issued_total", "Token endpoint answers by grant and result",
                                                  {"grant_type", "result"});

  auto token = [&s, &issued](bool v2) {
    return [&s, &issued, v2](http::Request& req, http::Response& res) {
      auto form = http::ParseForm(req.body);
      if (!form) {
        Reply(res, identity::OAuthError(400, "invalid_request", "The request body is not valid form data.", 900144));
        return;
      }
      identity::OAuthReply reply =
          s.tokens.Token(req.PathParam("tenant"), v2, *form, req.headers.Get("authorization"), BaseUrl(req));
      std::string grant;
      for (const auto& [k, v] : *form) {
        if (k == "grant_type") grant = v;
      }
      if (grant != "client_credentials" && grant != "password" && grant != "authorization_code" &&
          grant != "refresh_token") {
        grant = "other";
      }
      issued.Inc({grant, reply.status == 200 ? "issued" : "refused"});
      if (reply.status != 200) {
        log::Warn("token request refused", {{"request_id", req.request_id}, {"grant_type", grant},
                                            {"tenant", req.PathParam("tenant")}, {"remote", req.remote_address}});
      }
      Reply(res, reply);
    };
  };
  r.Add("POST", "/{tenant}/oauth2/token", token(false));
  r.Add("POST", "/{tenant}/oauth2/v2.0/token", token(true));

  auto authorize_get = [&s](http::Request& req, http::Response& res) {
    auto query = http::ParseForm(req.query);
    if (!query) {
      Reply(res, identity::OAuthReply{400, "text/html; charset=utf-8", "<!doctype html><p>Malformed query.</p>", {}});
      return;
    }
    Reply(res, s.tokens.AuthorizePage(req.PathParam("tenant"), *query));
  };
  auto authorize_post = [&s](http::Request& req, http::Response& res) {
    auto form = http::ParseForm(req.body);
    if (!form) {
      Reply(res, identity::OAuthReply{400, "text/html; charset=utf-8", "<!doctype html><p>Malformed form.</p>", {}});
      return;
    }
    Reply(res, s.tokens.AuthorizeSubmit(req.PathParam("tenant"), *form));
  };
  r.Add("GET", "/{tenant}/oauth2/v2.0/authorize", authorize_get);
  r.Add("POST", "/{tenant}/oauth2/v2.0/authorize", authorize_post);
  r.Add("GET", "/{tenant}/oauth2/authorize", authorize_get);
  r.Add("POST", "/{tenant}/oauth2/authorize", authorize_post);

  auto discovery = [&s, &api](bool v2) {
    return [&s, &api, v2](http::Request& req, http::Response& res) {
      auto doc = s.tokens.OpenIdConfiguration(req.PathParam("tenant"), v2, BaseUrl(req));
      if (!doc) {
        api.RenderError(400, "invalid_tenant", doc.error().message(), req, res);
        return;
      }
      JsonReply(res, 200, *doc);
    };
  };
  r.Add("GET", "/{tenant}/v2.0/.well-known/openid-configuration", discovery(true));
  r.Add("GET", "/{tenant}/.well-known/openid-configuration", discovery(false));
  auto jwks = [&s](http::Request&, http::Response& res) { JsonReply(res, 200, s.tokens.Jwks()); };
  r.Add("GET", "/{tenant}/discovery/v2.0/keys", jwks);
  r.Add("GET", "/{tenant}/discovery/keys", jwks);
  r.Add("GET", "/common/discovery/instance", [&s](http::Request& req, http::Response& res) {
    std::string_view host = req.headers.Get("host");
    JsonReply(res, 200, s.tokens.InstanceDiscovery(BaseUrl(req), host));
  });
  r.Add("GET", "/common/userrealm/{username}", [&s](http::Request& req, http::Response& res) {
    JsonReply(res, 200, s.tokens.UserRealm(req.PathParam("username")));
  });
}

void RegisterOperationalRoutes(Api& api) {
  Services& s = api.services();
  http::Router& r = api.router();
  r.Add("GET", "/healthz", [](http::Request&, http::Response& res) {
    res.Set(200, "application/json", "{\"status\":\"ok\"}");
  });
  r.Add("GET", "/readyz", [&s](http::Request&, http::Response& res) {
    // Ready when the state store answers and a signing key is loaded.
    bool keys = s.keys.Current()->active() != nullptr;
    bool store = s.store.ListTenants().has_value();
    if (keys && store) {
      res.Set(200, "application/json", "{\"status\":\"ready\"}");
    } else {
      res.Set(503, "application/json", std::string("{\"status\":\"not ready\",\"stateStore\":") +
                                           (store ? "true" : "false") + ",\"signingKey\":" + (keys ? "true" : "false") + "}");
    }
  });
  r.Add("GET", "/metrics", [&s](http::Request&, http::Response& res) {
    res.Set(200, "text/plain; version=0.0.4; charset=utf-8", s.metrics.Render());
  });
}

}  // namespace ward::api
