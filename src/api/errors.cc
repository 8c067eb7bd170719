#include "api/errors.h"

#include "json/json.h"

namespace ward::api {

HttpError MapStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk: return {200, "OK"};
    case StatusCode::kInvalidArgument: return {400, "InvalidInput"};
    case StatusCode::kFailedPrecondition: return {400, "BadRequest"};
    case StatusCode::kUnauthenticated: return {401, "Unauthorized"};
    case StatusCode::kPermissionDenied: return {403, "Forbidden"};
    case StatusCode::kNotFound: return {404, "ResourceNotFound"};
    case StatusCode::kAlreadyExists: return {409, "Conflict"};
    case StatusCode::kResourceExhausted: return {429, "TooManyRequests"};
    case StatusCode::kUnavailable: return {503, "ServiceUnavailable"};
    case StatusCode::kInternal: return {500, "InternalServerError"};
  }
  return {500, "InternalServerError"};
}

std::string ErrorBody(std::string_view code, std::string_view message, std::string_view request_id) {
  json::Writer w;
  w.StartObject().Key("error").StartObject();
  w.KV("code", code).KV("message", message).KV("target", request_id);
  w.EndObject().EndObject();
  return w.Take();
}

}  // namespace ward::api
