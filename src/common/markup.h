#pragma once
// Escaping for HTML and XML text and attribute values (the sign-in page, the OData CSDL document)
// and for URL components (form bodies, query values).
#include <string>
#include <string_view>

namespace ward {

// Replaces & < > " ' with entities valid in both HTML and XML ('\'' becomes &#39;).
std::string EscapeMarkup(std::string_view s);

// Percent-encodes everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~).
std::string PercentEncode(std::string_view s);

}  // namespace ward
