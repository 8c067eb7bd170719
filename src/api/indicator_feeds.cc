#include "api/indicator_feeds.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "state/state_store.h"

namespace ward::api {
namespace {

std::string Lower(std::string_view s) { return state::LowerAscii(s); }

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// CSV column (lower-cased) → MDE JSON property. Category and MitreTechniques are portal-only columns
// with no field in the API's Indicator entity (mde-api.md §4), so they are accepted and not stored.
const std::map<std::string, std::string, std::less<>>& CsvColumns() {
  static const std::map<std::string, std::string, std::less<>> m = {
      {"indicatortype", "indicatorType"},   {"indicatorvalue", "indicatorValue"},
      {"expirationtime", "expirationTime"}, {"action", "action"},
      {"severity", "severity"},             {"title", "title"},
      {"description", "description"},       {"recommendedactions", "recommendedActions"},
      {"rbacgroups", "rbacGroupNames"},     {"category", ""},
      {"mitretechniques", ""},              {"generatealert", "generateAlert"},
  };
  return m;
}

}  // namespace

Result<std::vector<std::vector<std::string>>> ParseCsvRecords(std::string_view text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, after_quote = false, any = false;
  size_t line = 1, quote_line = 1;  // quote_line: where the open quoted field began
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    after_quote = false;
  };
  auto end_record = [&] {
    end_field();
    // A blank line is not a record (files often end with one or two).
    if (!(record.size() == 1 && record[0].empty())) records.push_back(std::move(record));
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    any = true;
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == ',') {
      end_field();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;  // CRLF: the LF ends the record
    } else if (c == '\n') {
      end_record();
      ++line;
      any = false;
    } else if (after_quote) {
      return Err(InvalidArgument("CSV line " + std::to_string(line) + ": text after a closing quote"));
    } else if (c == '"' && field.empty()) {
      quoted = true;
      quote_line = line;
    } else {
      field += c;
    }
  }
  if (quoted) return Err(InvalidArgument("CSV line " + std::to_string(quote_line) + ": unterminated quoted field"));
  if (any) end_record();
  return records;
}

Result<std::vector<FeedItem>> IndicatorsFromCsv(std::string_view text, size_t* too_many) {
  *too_many = 0;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // Excel's BOM
  WARD_ASSIGN_OR_RETURN(auto records, ParseCsvRecords(text));
  if (records.empty()) return Err(InvalidArgument("The CSV file is empty; a header row is required"));
  std::vector<std::string> keys;  // per column: the JSON property, "" to skip
  bool has_type = false, has_value = false;
  for (const std::string& name : records[0]) {
    std::string lower = Lower(Trim(name));
    auto it = CsvColumns().find(lower);
    if (it == CsvColumns().end()) {
      return Err(InvalidArgument("CSV header: unknown column '" + Trim(name) + "'"));
    }
    if (std::find(keys.begin(), keys.end(), it->second) != keys.end() && !it->second.empty()) {
      return Err(InvalidArgument("CSV header: column '" + Trim(name) + "' appears twice"));
    }
    has_type |= lower == "indicatortype";
    has_value |= lower == "indicatorvalue";
    keys.push_back(it->second);
  }
  if (!has_type || !has_value) {
    return Err(InvalidArgument("CSV header: the IndicatorType and IndicatorValue columns are required"));
  }
  const size_t rows = records.size() - 1;
  if (rows == 0) return Err(InvalidArgument("The CSV file has no indicator rows"));
  if (rows > kMaxImportItems) {
    *too_many = rows;
    return Err(InvalidArgument("Received: " + std::to_string(rows) + ", allowed: " + std::to_string(kMaxImportItems)));
  }
  std::vector<FeedItem> items;
  items.reserve(rows);
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    FeedItem item;
    if (rec.size() != keys.size()) {
      item.shown = rec.size() > 1 ? Trim(rec[1]) : "";
      item.failure = "CSV row " + std::to_string(r) + " has " + std::to_string(rec.size()) + " fields, the header " +
                     std::to_string(keys.size());
      items.push_back(std::move(item));
      continue;
    }
    json::Value body = json::Value::Object();
    for (size_t c = 0; c < keys.size(); ++c) {
      const std::string cell = Trim(rec[c]);
      if (keys[c].empty() || cell.empty()) continue;
      if (keys[c] == "indicatorValue") item.shown = cell;
      if (keys[c] == "generateAlert") {
        std::string b = Lower(cell);
        if (b != "true" && b != "false") {
          item.failure = "GenerateAlert must be TRUE or FALSE, not '" + cell + "'";
          break;
        }
        body.Set(keys[c], b == "true");
      } else if (keys[c] == "rbacGroupNames") {
        // Several groups share one (quoted) cell, separated by commas.
        json::Value names = json::Value::Array();
        size_t start = 0;
        while (start <= cell.size()) {
          size_t comma = cell.find(',', start);
          std::string name = Trim(std::string_view(cell).substr(start, comma == std::string::npos ? std::string::npos : comma - start));
          if (!name.empty()) names.Append(name);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        body.Set(keys[c], std::move(names));
      } else {
        body.Set(keys[c], cell);
      }
    }
    // The portal template leaves Description optional; the API requires the property.
    if (item.failure.empty() && !body.Find("description")) body.Set("description", "");
    if (item.failure.empty()) item.body = std::move(body);
    items.push_back(std::move(item));
  }
  return items;
}

namespace {

// A tiny scanner over a STIX pattern (STIX 2.1 §9): only what the supported forms need.
class PatternScanner {
 public:
  explicit PatternScanner(std::string_view p) : p_(p) {}
  void Skip() {
    while (i_ < p_.size() && std::isspace(static_cast<unsigned char>(p_[i_]))) ++i_;
  }
  bool Eat(char c) {
    Skip();
    if (i_ < p_.size() && p_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool EatWord(std::string_view w) {
    Skip();
    if (p_.substr(i_, w.size()).size() == w.size() && Lower(p_.substr(i_, w.size())) == Lower(w)) {
      size_t after = i_ + w.size();
      if (after < p_.size() && (std::isalnum(static_cast<unsigned char>(p_[after])) || p_[after] == '_')) return false;
      i_ = after;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    Skip();
    return i_ >= p_.size();
  }
  // An object path: letters, digits, '-', '_', ':', '.', and quoted components ('SHA-256').
  std::string Path() {
    Skip();
    std::string out;
    while (i_ < p_.size()) {
      char c = p_[i_];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.') {
        out += c;
        ++i_;
      } else if (c == '\'' && !out.empty() && out.back() == '.') {
        size_t close = p_.find('\'', i_ + 1);
        if (close == std::string_view::npos) return out;
        out.append(p_.substr(i_ + 1, close - i_ - 1));
        i_ = close + 1;
      } else {
        break;
      }
    }
    return out;
  }
  // A string literal '...', with \' and \\ escapes.
  std::optional<std::string> Literal() {
    Skip();
    if (i_ >= p_.size() || p_[i_] != '\'') return std::nullopt;
    std::string out;
    for (++i_; i_ < p_.size(); ++i_) {
      char c = p_[i_];
      if (c == '\\' && i_ + 1 < p_.size() && (p_[i_ + 1] == '\'' || p_[i_ + 1] == '\\')) {
        out += p_[++i_];
      } else if (c == '\'') {
        ++i_;
        return out;
      } else {
        out += c;
      }
    }
    return std::nullopt;
  }
  std::string Rest() const { return std::string(p_.substr(std::min(i_, p_.size()))); }

 private:
  std::string_view p_;
  size_t i_ = 0;
};

// STIX object path (hash names upper-cased, '-' kept) → MDE indicatorType.
std::string TypeOfPath(const std::string& path) {
  std::string p = Lower(path);
  if (p == "file:hashes.sha-256" || p == "file:hashes.sha256") return "FileSha256";
  if (p == "file:hashes.sha-1" || p == "file:hashes.sha1") return "FileSha1";
  if (p == "file:hashes.md5") return "FileMd5";
  if (p == "ipv4-addr:value" || p == "ipv6-addr:value") return "IpAddress";
  if (p == "domain-name:value") return "DomainName";
  if (p == "url:value") return "Url";
  return "";
}

}  // namespace

Result<std::vector<StixTerm>> ParseStixPattern(std::string_view pattern) {
  PatternScanner s(pattern);
  std::vector<StixTerm> terms;
  // Observation expressions joined by OR, each a bracketed list of comparisons joined by OR:
  // "[a = 'x' OR b = 'y'] OR [c = 'z']" are all alternatives, so each becomes its own indicator.
  do {
    if (!s.Eat('[')) return Err(InvalidArgument("pattern must start an observation with '['"));
    do {
      std::string path = s.Path();
      std::string type = TypeOfPath(path);
      if (type.empty()) return Err(InvalidArgument("object path '" + path + "' is not supported"));
      if (!s.Eat('=')) return Err(InvalidArgument("only '=' comparisons are supported (after '" + path + "')"));
      auto value = s.Literal();
      if (!value) return Err(InvalidArgument("expected a quoted string after '" + path + " ='"));
      terms.push_back({type, *value});
    } while (s.EatWord("OR"));
    if (!s.Eat(']')) {
      return Err(InvalidArgument("only OR-ed equality comparisons are supported, not '" + s.Rest() + "'"));
    }
  } while (s.EatWord("OR"));
  if (!s.AtEnd()) return Err(InvalidArgument("'" + s.Rest() + "' is not supported (only OR between observations)"));
  return terms;
}

Result<std::vector<FeedItem>> IndicatorsFromStix(const json::Value& bundle, size_t* too_many) {
  *too_many = 0;
  if (bundle.GetString("type").value_or("") != "bundle") {
    return Err(InvalidArgument("A STIX 2.1 bundle must have \"type\": \"bundle\""));
  }
  const json::Value* objects = bundle.Find("objects");
  if (!objects || !objects->is_array()) return Err(InvalidArgument("The STIX bundle has no \"objects\" array"));
  std::vector<FeedItem> items;
  for (const json::Value& o : objects->items()) {
    if (!o.is_object() || o.GetString("type").value_or("") != "indicator") continue;
    const std::string id = o.GetString("id").value_or("");
    auto fail = [&](std::string why) {
      FeedItem f;
      f.shown = id;
      f.failure = std::move(why);
      items.push_back(std::move(f));
    };
    const std::string pattern_type = o.GetString("pattern_type").value_or("");
    if (pattern_type != "stix") {
      fail("pattern_type '" + pattern_type + "' is not supported; only 'stix'");
      continue;
    }
    auto pattern = o.GetString("pattern");
    if (!pattern) {
      fail("the indicator has no pattern");
      continue;
    }
    auto terms = ParseStixPattern(*pattern);
    if (!terms) {
      fail("pattern not supported: " + terms.error().message());
      continue;
    }
    const std::string name = o.GetString("name").value_or("");
    for (const StixTerm& t : *terms) {
      FeedItem item;
      item.shown = t.value;
      json::Value body = json::Value::Object();
      body.Set("indicatorType", t.indicator_type);
      body.Set("indicatorValue", t.value);
      body.Set("action", "Alert");
      // Unnamed STIX indicators are common in feeds; the object id still tells an analyst where it came from.
      body.Set("title", name.empty() ? (id.empty() ? "STIX indicator" : id) : name);
      body.Set("description", o.GetString("description").value_or(""));
      body.Set("generateAlert", true);
      if (!id.empty()) body.Set("externalID", id);
      if (auto until = o.GetString("valid_until")) body.Set("expirationTime", *until);
      item.body = std::move(body);
      items.push_back(std::move(item));
    }
  }
  if (items.empty()) return Err(InvalidArgument("The STIX bundle has no indicator objects"));
  if (items.size() > kMaxImportItems) {
    *too_many = items.size();
    return Err(InvalidArgument("Received: " + std::to_string(items.size()) + ", allowed: " + std::to_string(kMaxImportItems)));
  }
  return items;
}

}  // namespace ward::api
