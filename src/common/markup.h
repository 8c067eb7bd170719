#pragma once
// Escaping for HTML and XML text and attribute values (the sign-in page, the OData CSDL document).
#include <string>
#include <string_view>

namespace ward {

// Replaces & < > " ' with entities valid in both HTML and XML ('\'' becomes &#39;).
std::string EscapeMarkup(std::string_view s);

}  // namespace ward
