#pragma once
// MDE's error envelope: {"error":{"code","message","target"}}, target = the request id.
// Status codes map onto MDE's HTTP statuses and error codes (reference/mde-api.md §6).
#include <string>
#include <string_view>

#include "common/status.h"

namespace ward::api {

struct HttpError {
  int status;
  std::string_view code;  // MDE error code, e.g. "ResourceNotFound"
};

// Default MDE code for a Status (InvalidArgument → 400 InvalidInput, NotFound → 404 ResourceNotFound, ...).
HttpError MapStatus(const Status& st);
std::string ErrorBody(std::string_view code, std::string_view message, std::string_view request_id);

}  // namespace ward::api
