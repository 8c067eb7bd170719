// Service descriptions: GET /api/$metadata (OData CSDL, what Power BI's OData.Feed binds to), GET
// /api (the OData service document) and GET /api/openapi.json. Like every /api route they need a
// valid bearer token, but no particular permission: they describe the API, not tenant data.
#include "api/api.h"
#include "api/entities.h"
#include "api/metadata.h"

namespace ward::api {

void RegisterMetadataRoutes(Api& api) {
  api.Add("GET", "/api/$metadata", [](Call& call) {
    static const std::string csdl = CsdlDocument(AllEntitySchemas());
    call.res.Set(200, "application/xml", csdl);
    call.res.headers.Set("OData-Version", "4.0");
  });
  api.Add("GET", "/api", [](Call& call) { call.Json(200, ServiceDocument(AllEntitySchemas(), call.BaseUrl())); });
  // Built per request from the router rather than at registration, so routes registered after this
  // group are described too.
  api.Add("GET", "/api/openapi.json", [&api](Call& call) {
    std::string doc = OpenApiDocument(api.Routes(), AllEntitySchemas(), {call.BaseUrl(), call.tenant()});
    call.res.Set(200, "application/json; charset=utf-8", std::move(doc));
  });
}

}  // namespace ward::api
