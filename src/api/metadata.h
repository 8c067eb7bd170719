#pragma once
// Service descriptions generated from data, never written by hand: the OData v4 CSDL document
// (`$metadata`) and service document from the entity schemas (api/entities.h), and the OpenAPI 3.0
// document from the registered routes (Api::Routes) plus the same schemas.
//
// Pure functions: no I/O, deterministic output for the same input, thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "api/api.h"
#include "api/odata.h"

namespace ward::api {

// The CSDL namespace MDE's `@odata.context` URLs and type names use.
inline constexpr std::string_view kODataNamespace = "microsoft.windowsDefenderATP.api";

// The entity type of an entity set: "Machines" → "Machine", "Vulnerabilities" → "Vulnerability";
// a name that is not a plural ("Software") is its own type name.
std::string EntityTypeName(std::string_view entity_set);

// OData v4 CSDL XML: one EntityType per schema (key `id`, or the first property for shapes without
// one) and one EntitySet per schema in a single EntityContainer.
std::string CsdlDocument(const std::vector<const odata::EntitySchema*>& schemas);

// OData v4 JSON service document for the service root (base_url + "/api").
std::string ServiceDocument(const std::vector<const odata::EntitySchema*>& schemas, std::string_view base_url);

struct OpenApiOptions {
  std::string server_url;  // scheme://host[:port] the client reached us on
  std::string tenant_id;   // fills the token URL; "" leaves the {tenantId} placeholder
};

// OpenAPI 3.0.3 JSON: one path per route pattern, path parameters from its captures, OData query
// parameters and response schemas where a pattern names an entity set, an OAuth2 client-credentials
// security scheme on the bearer routes, and components.schemas from the entity schemas.
std::string OpenApiDocument(const std::vector<ApiRoute>& routes, const std::vector<const odata::EntitySchema*>& schemas,
                            const OpenApiOptions& options);

}  // namespace ward::api
