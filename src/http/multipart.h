#pragma once
// multipart/form-data bodies (RFC 7578), as MDE's library upload takes them. Parses the whole body
// in memory (the server's body limit bounds it); parts are views into that body.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::http {

struct FormPart {
  std::string name;        // Content-Disposition name
  std::string file_name;   // Content-Disposition filename ("" for plain fields)
  std::string content_type;
  std::string_view data;
};

// InvalidArgument when the content type has no boundary or the body is not well formed.
Result<std::vector<FormPart>> ParseMultipart(std::string_view content_type, std::string_view body);

// The first part with this name (case-insensitive), or nullptr.
const FormPart* FindPart(const std::vector<FormPart>& parts, std::string_view name);

}  // namespace ward::http
