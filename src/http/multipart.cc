#include "http/multipart.h"

#include <algorithm>
#include <cctype>

#include "common/strings.h"

namespace ward::http {

namespace {

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The value of `key=` in a header value such as `form-data; name="File"; filename="a.sh"`.
std::string Param(std::string_view header, std::string_view key) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    std::string_view item = TrimSpace(header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
    pos = semi == std::string_view::npos ? header.size() : semi + 1;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || !EqualsIgnoreCase(TrimSpace(item.substr(0, eq)), key)) continue;
    std::string_view v = TrimSpace(item.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return {};
}

}  // namespace

Result<std::vector<FormPart>> ParseMultipart(std::string_view content_type, std::string_view body) {
  size_t semi = content_type.find(';');
  if (!EqualsIgnoreCase(TrimSpace(content_type.substr(0, semi)), "multipart/form-data")) {
    return Err(InvalidArgument("Content-Type must be multipart/form-data"));
  }
  const std::string boundary = semi == std::string_view::npos ? "" : Param(content_type.substr(semi + 1), "boundary");
  if (boundary.empty() || boundary.size() > 70) return Err(InvalidArgument("multipart boundary is missing"));
  const std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return Err(InvalidArgument("multipart body has no parts"));
  std::vector<FormPart> parts;
  while (true) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return Err(InvalidArgument("malformed multipart delimiter"));
    pos += 2;
    size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return Err(InvalidArgument("malformed multipart part headers"));
    FormPart part;
    for (size_t line = pos; line < headers_end;) {
      size_t eol = body.find("\r\n", line);
      if (eol == std::string_view::npos || eol > headers_end) eol = headers_end;
      std::string_view h = body.substr(line, eol - line);
      line = eol + 2;
      size_t colon = h.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = TrimSpace(h.substr(0, colon)), value = TrimSpace(h.substr(colon + 1));
      if (EqualsIgnoreCase(name, "Content-Disposition")) {
        part.name = Param(value, "name");
        part.file_name = Param(value, "filename");
      } else if (EqualsIgnoreCase(name, "Content-Type")) {
        part.content_type = std::string(value);
      }
    }
    const size_t data_start = headers_end + 4;
    size_t next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) return Err(InvalidArgument("multipart body is truncated"));
    part.data = body.substr(data_start, next - data_start);
    parts.push_back(std::move(part));
    pos = next + 2;
    if (parts.size() > 64) return Err(InvalidArgument("too many multipart parts"));
  }
}

const FormPart* FindPart(const std::vector<FormPart>& parts, std::string_view name) {
  for (const FormPart& p : parts) {
    if (EqualsIgnoreCase(p.name, name)) return &p;
  }
  return nullptr;
}

}  // namespace ward::http
