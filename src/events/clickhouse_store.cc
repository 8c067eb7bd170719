#include "events/clickhouse_store.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/markup.h"
#include "common/time.h"
#include "events/columnar_eval.h"
#include "events/columnar_format.h"
#include "http/client.h"

namespace ward::events {
namespace {

using columnar::ColumnData;
using columnar::CompiledPredicate;
using columnar::IsIntType;
using columnar::kTicksPerDay;
using Op = Predicate::Op;

// Internal columns, ahead of the schema's: the tenant, the partition day (DayOf the Timestamp, or
// of the batch's receive time when the Timestamp is null, as ColumnarStore partitions) and the
// insertion sequence. ColumnarStore returns a partition's sealed rows by day, then by Timestamp
// (nulls first), ties in insertion order; scans order by (_day, Timestamp, _seq) to match.
constexpr const char* kTenantCol = "_tenant";
constexpr const char* kDayCol = "_day";
constexpr const char* kSeqCol = "_seq";

Status StatusOf(const Result<std::string>& r) { return r ? Status::Ok() : r.error(); }

bool ValidDatabase(std::string_view db) {
  return !db.empty() && db.size() <= 64 && std::all_of(db.begin(), db.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Table and column names come from the schema registry; quoted anyway, with backquotes refused.
Result<std::string> Ident(std::string_view name) {
  if (name.empty() || name.find_first_of("`\\") != std::string_view::npos) return Err(InvalidArgument("bad identifier"));
  return "`" + std::string(name) + "`";
}

// A ClickHouse string literal holding exactly `s`: letters, digits and a few harmless characters
// as themselves, every other byte as \xHH, so no literal can end the string or change the query.
std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "'";
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '.' || c == '-' || c == '_' || c == ':' ||
        c == '/') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "'";
}

std::string IntLiteral(int64_t v) {
  // -9223372036854775808 would parse as the negation of a UInt64 literal.
  if (v == std::numeric_limits<int64_t>::min()) return "toInt64(-9223372036854775807 - 1)";
  return std::to_string(v);
}

// 18.16 parses some float literals inexactly (and rejects denormals): pass the bits.
std::string RealLiteral(double d) {
  unsigned char b[8];
  std::memcpy(b, &d, 8);  // little-endian, as reinterpretAsFloat64 reads it
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string hex;
  for (unsigned char c : b) hex += kHex[c >> 4], hex += kHex[c & 15];
  return "reinterpretAsFloat64(unhex('" + hex + "'))";
}

std::string SqlType(ColumnType t) {
  if (IsIntType(t)) return "Nullable(Int64)";
  if (t == ColumnType::kReal) return "Nullable(Float64)";
  return "Nullable(String)";
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(sep) : std::string()) + parts[i];
  return out;
}

const char* CompareSql(Op op) {
  switch (op) {
    case Op::kEquals: return " = ";
    case Op::kNotEquals: return " != ";
    case Op::kGreater: return " > ";
    case Op::kGreaterEq: return " >= ";
    case Op::kLess: return " < ";
    case Op::kLessEq: return " <= ";
    default: return nullptr;
  }
}

// The SQL condition for a compiled predicate and whether Ward must still evaluate it on the rows
// ClickHouse returns. Conditions marked exact select exactly the rows ColumnarStore's kernels do
// (nulls never match: a comparison with NULL is NULL, which WHERE drops); the others are a
// superset (a prefilter), or "1" when ClickHouse cannot help.
struct SqlCondition {
  std::string sql;
  bool ward_check = false;
};

SqlCondition Translate(const CompiledPredicate& p, const std::string& col) {
  if (p.never) return {"0", false};
  const char* cmp = CompareSql(p.op);
  if (IsIntType(p.type) || p.type == ColumnType::kReal) {
    std::vector<std::string> any;
    if (p.op == Op::kIn) {
      if (!p.ints.empty()) {
        std::vector<std::string> lits;
        for (int64_t v : p.ints) lits.push_back(IntLiteral(v));
        any.push_back(col + " IN (" + Join(lits, ", ") + ")");
      }
      // Reals one by one: IN hashes, which would tell -0.0 from 0.0 where == does not.
      const std::string lhs = p.type == ColumnType::kReal ? col : "toFloat64(" + col + ")";
      for (double d : p.reals) any.push_back(lhs + " = " + RealLiteral(d));
      return {any.empty() ? "0" : "(" + Join(any, " OR ") + ")", false};
    }
    if (cmp == nullptr) return {"0", false};  // no other operator matches a number (see Evaluate)
    // Integer columns against real operands compare as doubles, like the kernels (ClickHouse's own
    // mixed comparison would be exact and differ beyond 2^53).
    if (p.as_double) return {"toFloat64(" + col + ")" + cmp + RealLiteral(p.reals[0]), false};
    if (IsIntType(p.type)) return {col + cmp + IntLiteral(p.ints[0]), false};
    return {col + cmp + RealLiteral(p.reals[0]), false};
  }
  // Strings: bytes compare as bytes; case-insensitive operators fold ASCII only, as lower() does
  // (lowerUTF8 would also fold non-ASCII letters, which Ward does not). Operands are lower-cased.
  const std::string low = "lower(" + col + ")";
  std::vector<std::string> lits;
  for (const std::string& s : p.strs) lits.push_back(Quote(s));
  switch (p.op) {
    case Op::kEquals:
    case Op::kNotEquals:
    case Op::kGreater:
    case Op::kGreaterEq:
    case Op::kLess:
    case Op::kLessEq: return {col + cmp + lits[0], false};
    case Op::kIn: return {col + " IN (" + Join(lits, ", ") + ")", false};
    case Op::kEqualsCi: return {low + " = " + lits[0], false};
    case Op::kInCi: return {low + " IN (" + Join(lits, ", ") + ")", false};
    case Op::kStartsWith: return {"substring(" + low + ", 1, " + std::to_string(p.strs[0].size()) + ") = " + lits[0], false};
    case Op::kContains: return {"position(" + low + ", " + lits[0] + ") > 0", false};
    case Op::kHas:
    case Op::kHasAny: {
      // 18.16 has no hasToken, and its regular expressions work on UTF-8 characters where terms
      // are defined on bytes: ClickHouse finds the substring, Ward checks the term boundaries.
      std::vector<std::string> any;
      for (const std::string& l : lits) any.push_back("position(" + low + ", " + l + ") > 0");
      return {"(" + Join(any, " OR ") + ")", true};
    }
    case Op::kMatches: return {"isNotNull(" + col + ")", true};
  }
  return {"1", true};
}

// Little-endian RowBinary encoding and decoding (what ClickHouse's RowBinary format is).
void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
template <typename T>
void PutFixed(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }
  template <typename T>
  bool Fixed(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool String(std::string_view* s) {
    uint64_t len = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= data_.size() || shift > 63) return false;
      const unsigned char c = static_cast<unsigned char>(data_[pos_++]);
      len |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (c < 0x80) break;
    }
    if (data_.size() - pos_ < len) return false;
    *s = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Reads one Nullable cell of `type` into `col`.
bool ReadCell(Reader& r, ColumnType type, ColumnData& col) {
  uint8_t is_null = 0;
  if (!r.Fixed(&is_null)) return false;
  if (is_null) {
    col.AppendNull();
    return true;
  }
  if (IsIntType(type)) {
    int64_t v;
    if (!r.Fixed(&v)) return false;
    col.ints.push_back(v);
  } else if (type == ColumnType::kReal) {
    double v;
    if (!r.Fixed(&v)) return false;
    col.reals.push_back(v);
  } else {
    std::string_view s;
    if (!r.String(&s)) return false;
    col.bytes.append(s);
    col.offsets.push_back(static_cast<uint32_t>(col.bytes.size()));
  }
  col.nulls.push_back(0);
  return true;
}

// The rows of a FORMAT TabSeparated answer, split into fields (values here are names and numbers,
// which TabSeparated does not escape).
std::vector<std::vector<std::string_view>> TsvRows(std::string_view text) {
  std::vector<std::vector<std::string_view>> rows;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    std::vector<std::string_view>& fields = rows.emplace_back();
    for (size_t tab; (tab = line.find('\t')) != std::string_view::npos; line.remove_prefix(tab + 1)) fields.push_back(line.substr(0, tab));
    fields.push_back(line);
  }
  return rows;
}

struct Endpoint {
  std::string base;  // scheme://host:port/
  std::string database;
};

Result<Endpoint> ParseStoreUrl(std::string_view url) {
  Endpoint ep;
  std::string http_url;
  std::string db;
  if (url.starts_with("clickhouse://")) {
    std::string_view rest = url.substr(13);
    const size_t slash = rest.find('/');
    std::string_view hostport = rest.substr(0, slash);
    if (slash != std::string_view::npos) db = std::string(rest.substr(slash + 1));
    if (hostport.empty()) return Err(InvalidArgument("clickhouse store URL without a host: " + std::string(url)));
    const bool has_port = hostport.back() != ']' && hostport.find(':') != std::string_view::npos &&
                          (hostport.front() != '[' || hostport.find("]:") != std::string_view::npos);
    http_url = "http://" + std::string(hostport) + (has_port ? "" : ":8123") + "/";
  } else if (url.starts_with("http://") || url.starts_with("https://")) {
    http_url = std::string(url);
    const size_t q = url.find('?');
    if (q != std::string_view::npos) {
      std::string_view query = url.substr(q + 1);
      while (!query.empty()) {
        const size_t amp = query.find('&');
        std::string_view kv = query.substr(0, amp);
        if (kv.starts_with("database=")) db = std::string(kv.substr(9));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
      }
    }
  } else {
    return Err(InvalidArgument("clickhouse store URL must be http(s)://host:port/?database=db or clickhouse://host:port/db"));
  }
  WARD_ASSIGN_OR_RETURN(http::Url u, http::ParseUrl(http_url));
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  ep.base = u.scheme + "://" + host + ":" + u.port + "/";
  ep.database = db.empty() ? "ward" : db;
  if (!ValidDatabase(ep.database)) return Err(InvalidArgument("invalid ClickHouse database name '" + ep.database + "'"));
  return ep;
}

}  // namespace

struct ClickHouseStore::Impl {
  ClickHouseStoreOptions options;
  const SchemaRegistry* registry = nullptr;
  Endpoint endpoint;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<http::Client>> idle;
  std::atomic<uint64_t> next_seq{0};

  // Posts `body` to the server with the given URL parameters (already encoded); errors carry
  // ClickHouse's message.
  Result<std::string> Post(const std::string& params, std::string body) {
    std::unique_ptr<http::Client> client;
    {
      std::lock_guard lock(pool_mu);
      if (!idle.empty()) {
        client = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (!client) {
      http::ClientOptions co;
      co.request_timeout = options.request_timeout;
      co.max_response_bytes = size_t{2} << 30;
      co.user_agent = "ward-clickhouse-store";
      client = std::make_unique<http::Client>(co);
    }
    http::ClientRequest req;
    req.method = "POST";
    req.url = endpoint.base + "?" + params;
    req.body = std::move(body);
    auto resp = client->Send(req);
    if (!resp) return Err(Unavailable("clickhouse: " + resp.error().message()));
    {
      std::lock_guard lock(pool_mu);
      if (idle.size() < options.max_connections) idle.push_back(std::move(client));
    }
    if (resp->status != 200) {
      std::string msg = resp->body.substr(0, 2000);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
      const StatusCode code = resp->status >= 500 && msg.find("Code: ") == std::string::npos ? StatusCode::kUnavailable : StatusCode::kInternal;
      return Err(Status(code, "clickhouse (HTTP " + std::to_string(resp->status) + "): " + msg));
    }
    return std::move(resp->body);
  }

  // A query whose result is the response body. wait_end_of_query makes ClickHouse report errors
  // as an HTTP status instead of appending them to a streamed 200 response.
  Result<std::string> Query(const std::string& sql) {
    return Post("database=" + endpoint.database + "&wait_end_of_query=1", sql);
  }

  Status EnsureSchema();
  Status Insert(const TableDef& t, const std::string& tenant, const std::vector<const Row*>& rows, const std::vector<int64_t>& days, uint64_t seq);
};

const std::string& ClickHouseStore::database() const { return impl_->endpoint.database; }

Result<std::string> ClickHouseStore::Execute(const std::string& sql) { return impl_->Query(sql); }

Status ClickHouseStore::Impl::EnsureSchema() {
  WARD_RETURN_IF_ERROR(StatusOf(Post("", "CREATE DATABASE IF NOT EXISTS `" + endpoint.database + "`")));
  // Existing columns, to add what the registry has gained and to catch type changes.
  WARD_ASSIGN_OR_RETURN(std::string cols, Query("SELECT table, name, type FROM system.columns WHERE database = " + Quote(endpoint.database) +
                                                " FORMAT TabSeparated"));
  std::map<std::pair<std::string, std::string>, std::string> have;
  for (const auto& f : TsvRows(cols)) {
    if (f.size() == 3) have[{std::string(f[0]), std::string(f[1])}] = std::string(f[2]);
  }
  for (const TableDef& t : registry->tables()) {
    WARD_ASSIGN_OR_RETURN(std::string table, Ident(t.name));
    const std::string qualified = "`" + endpoint.database + "`." + table;
    std::vector<std::string> defs = {std::string(kTenantCol) + " String", std::string(kDayCol) + " Int32", std::string(kSeqCol) + " UInt64"};
    bool exists = false;
    for (const auto& [key, type] : have) exists |= key.first == t.name;
    for (const ColumnDef& c : t.columns) {
      WARD_ASSIGN_OR_RETURN(std::string col, Ident(c.name));
      auto it = have.find({t.name, c.name});
      if (it != have.end() && it->second != SqlType(c.type)) {
        return FailedPrecondition("clickhouse column " + t.name + "." + c.name + " is " + it->second + ", the schema wants " + SqlType(c.type));
      }
      if (exists && it == have.end()) {
        WARD_RETURN_IF_ERROR(StatusOf(Query("ALTER TABLE " + qualified + " ADD COLUMN " + col + " " + SqlType(c.type))));
      }
      defs.push_back(col + " " + SqlType(c.type));
    }
    if (exists) continue;
    // Sort key: tenant, device, time (nullable columns enter it through ifNull: 18.16 keys cannot
    // be Nullable). Partitions are days, so retention drops whole parts.
    std::vector<std::string> key = {kTenantCol};
    if (t.Find("DeviceId") >= 0) key.push_back("ifNull(`DeviceId`, '')");
    if (t.timestamp_column >= 0) key.push_back("ifNull(`" + t.columns[t.timestamp_column].name + "`, 0)");
    key.push_back(kSeqCol);
    WARD_RETURN_IF_ERROR(StatusOf(Query("CREATE TABLE IF NOT EXISTS " + qualified + " (" + Join(defs, ", ") + ") ENGINE = MergeTree() PARTITION BY " + kDayCol +
                               " ORDER BY (" + Join(key, ", ") + ")")));
  }
  // Sequence numbers continue after the largest stored one and follow the clock (ns) otherwise, so
  // insertion order survives restarts.
  WARD_ASSIGN_OR_RETURN(std::string max_seq, Query("SELECT max(_seq) FROM merge(" + Quote(endpoint.database) + ", '.*') FORMAT TabSeparated"));
  const uint64_t stored = std::strtoull(max_seq.c_str(), nullptr, 10);
  const uint64_t clock = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  next_seq = std::max(stored + 1, clock);
  return Status::Ok();
}

Result<std::unique_ptr<ClickHouseStore>> ClickHouseStore::Open(ClickHouseStoreOptions options, const SchemaRegistry& registry) {
  WARD_ASSIGN_OR_RETURN(Endpoint ep, ParseStoreUrl(options.url));
  std::unique_ptr<ClickHouseStore> store(new ClickHouseStore());
  store->impl_ = std::make_unique<Impl>();
  Impl& s = *store->impl_;
  options.insert_batch_rows = std::max<size_t>(1, options.insert_batch_rows);
  options.page_rows = std::max<size_t>(1, options.page_rows);
  s.options = std::move(options);
  s.registry = &registry;
  s.endpoint = std::move(ep);
  WARD_RETURN_IF_ERROR(s.EnsureSchema());
  return store;
}

ClickHouseStore::~ClickHouseStore() = default;

// ---------------------------------------------------------------------------------------------
// Append

Status ClickHouseStore::Impl::Insert(const TableDef& t, const std::string& tenant, const std::vector<const Row*>& rows, const std::vector<int64_t>& days,
                                     uint64_t seq) {
  std::vector<std::string> names = {kTenantCol, kDayCol, kSeqCol};
  for (const ColumnDef& c : t.columns) names.push_back("`" + c.name + "`");
  const std::string params = "database=" + endpoint.database + "&query=" +
                             PercentEncode("INSERT INTO `" + t.name + "` (" + Join(names, ", ") + ") FORMAT RowBinary");
  std::string body;
  for (size_t i = 0; i < rows.size(); ++i) {
    PutString(body, tenant);
    PutFixed<int32_t>(body, static_cast<int32_t>(days[i]));
    PutFixed<uint64_t>(body, seq + i);
    for (const CellValue& v : rows[i]->values) {
      if (v.index() == 0) {
        body += '\1';
        continue;
      }
      body += '\0';
      if (const int64_t* n = std::get_if<int64_t>(&v)) PutFixed(body, *n);
      else if (const double* d = std::get_if<double>(&v)) PutFixed(body, *d);
      else PutString(body, std::get<std::string>(v));
    }
  }
  return StatusOf(Post(params, std::move(body)));
}

Status ClickHouseStore::Append(const RowBatch& batch) {
  Impl& s = *impl_;
  if (!columnar::ValidTenant(batch.tenant_id)) return InvalidArgument("invalid tenant id");
  const auto& tables = s.registry->tables();
  // Validate everything before the first INSERT (as ColumnarStore does before publishing).
  std::vector<uint16_t> order;  // tables in order of first appearance
  std::unordered_map<uint16_t, std::pair<std::vector<const Row*>, std::vector<int64_t>>> groups;
  for (const Row& row : batch.rows) {
    if (row.table >= tables.size()) return InvalidArgument("unknown table id " + std::to_string(row.table));
    const TableDef& t = tables[row.table];
    if (row.values.size() != t.columns.size()) return InvalidArgument("row of " + t.name + " has the wrong number of values");
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue& v = row.values[c];
      const ColumnType type = t.columns[c].type;
      const bool fits = v.index() == 0 || (IsIntType(type) ? std::holds_alternative<int64_t>(v)
                                                            : type == ColumnType::kReal ? std::holds_alternative<double>(v)
                                                                                        : std::holds_alternative<std::string>(v));
      if (!fits) return InvalidArgument("value of the wrong kind for " + t.name + "." + t.columns[c].name);
    }
    int64_t ts = batch.received_ticks;
    if (t.timestamp_column >= 0) {
      if (const int64_t* v = std::get_if<int64_t>(&row.values[t.timestamp_column])) ts = *v;
    }
    auto [it, fresh] = groups.try_emplace(row.table);
    if (fresh) order.push_back(row.table);
    it->second.first.push_back(&row);
    it->second.second.push_back(columnar::DayOf(ts));
  }
  // One sequence range for the batch, in row order.
  uint64_t seq = s.next_seq.fetch_add(batch.rows.size());
  for (uint16_t id : order) {
    const auto& [rows, days] = groups[id];
    for (size_t begin = 0; begin < rows.size(); begin += s.options.insert_batch_rows) {
      const size_t end = std::min(rows.size(), begin + s.options.insert_batch_rows);
      std::vector<const Row*> part(rows.begin() + begin, rows.begin() + end);
      std::vector<int64_t> part_days(days.begin() + begin, days.begin() + end);
      WARD_RETURN_IF_ERROR(s.Insert(tables[id], batch.tenant_id, part, part_days, seq));
      seq += part.size();
    }
  }
  return Status::Ok();
}

Status ClickHouseStore::Flush() { return Status::Ok(); }

// ---------------------------------------------------------------------------------------------
// Scan

Result<ScanStats> ClickHouseStore::Scan(const ScanRequest& request, const std::function<bool(ColumnBatch&&)>& sink) {
  Impl& s = *impl_;
  ScanStats stats;
  const TableDef* table = s.registry->Find(request.table);
  if (table == nullptr) return Err(InvalidArgument("unknown table '" + request.table + "'"));
  if (!columnar::ValidTenant(request.tenant_id)) return Err(InvalidArgument("invalid tenant id"));
  std::vector<int> out_cols;
  if (request.columns.empty()) {
    for (size_t i = 0; i < table->columns.size(); ++i) out_cols.push_back(static_cast<int>(i));
  } else {
    for (const std::string& name : request.columns) {
      const int c = table->Find(name);
      if (c < 0) return Err(InvalidArgument("unknown column '" + name + "' in table " + table->name));
      out_cols.push_back(c);
    }
  }
  std::vector<std::string> where = {std::string(kTenantCol) + " = " + Quote(request.tenant_id)};
  std::vector<CompiledPredicate> ward_preds;  // evaluated by Ward on the fetched rows
  for (const Predicate& p : request.predicates) {
    WARD_ASSIGN_OR_RETURN(CompiledPredicate cp, columnar::CompilePredicate(*table, p));
    WARD_ASSIGN_OR_RETURN(std::string col, Ident(cp.column_name));
    SqlCondition cond = Translate(cp, col);
    where.push_back(cond.sql);
    if (cond.ward_check) ward_preds.push_back(std::move(cp));
  }
  if (request.from_ticks || request.to_ticks) {
    if (table->timestamp_column < 0) return Err(InvalidArgument("table " + table->name + " has no Timestamp column"));
    const std::string ts = "`" + table->columns[table->timestamp_column].name + "`";
    // The day bounds let ClickHouse skip whole partitions (its minmax index is on _day).
    if (request.from_ticks) {
      where.push_back(ts + " >= " + IntLiteral(*request.from_ticks));
      where.push_back(std::string(kDayCol) + " >= " + std::to_string(columnar::DayOf(*request.from_ticks)));
    }
    if (request.to_ticks) {
      where.push_back(ts + " < " + IntLiteral(*request.to_ticks));
      where.push_back(std::string(kDayCol) + " <= " + std::to_string(columnar::DayOf(*request.to_ticks - 1)));
    }
  }
  if (request.limit && *request.limit == 0) return stats;
  if (request.from_ticks && request.to_ticks && *request.from_ticks >= *request.to_ticks) return stats;

  // Columns fetched: the output columns, then those only Ward's predicates need.
  std::vector<int> fetch = out_cols;
  std::vector<int> slot_of(table->columns.size(), -1);
  for (size_t k = 0; k < fetch.size(); ++k) {
    if (slot_of[fetch[k]] < 0) slot_of[fetch[k]] = static_cast<int>(k);
  }
  for (const CompiledPredicate& p : ward_preds) {
    if (slot_of[p.column] < 0) {
      slot_of[p.column] = static_cast<int>(fetch.size());
      fetch.push_back(p.column);
    }
  }
  std::vector<std::string> select;
  for (int c : fetch) select.push_back("`" + table->columns[c].name + "`");
  // The sort key, last: (_day, Timestamp with nulls first, _seq); tables without a Timestamp
  // use the day's minimum for every row.
  const std::string ts_key = table->timestamp_column >= 0
                                 ? "ifNull(`" + table->columns[table->timestamp_column].name + "`, " + IntLiteral(std::numeric_limits<int64_t>::min()) + ")"
                                 : IntLiteral(std::numeric_limits<int64_t>::min());
  select.push_back(kDayCol);
  select.push_back("toInt64(" + ts_key + ")");
  select.push_back(kSeqCol);
  const std::string base = "SELECT " + Join(select, ", ") + " FROM `" + table->name + "` WHERE " + Join(where, " AND ");

  const size_t batch_rows = std::max<size_t>(1, request.batch_rows);
  size_t remaining = request.limit.value_or(std::numeric_limits<size_t>::max());
  struct Key {
    int32_t day = 0;
    int64_t ts = 0;
    uint64_t seq = 0;
  };
  std::optional<Key> after;  // keyset pagination on the sort key
  ColumnBatch out;
  auto new_batch = [&] {
    out = ColumnBatch();
    for (int c : out_cols) {
      out.names.push_back(table->columns[c].name);
      out.columns.push_back(ColumnVector{table->columns[c].type, {}, {}, {}, {}});
    }
  };
  new_batch();
  bool stop = false;
  auto emit = [&] {
    if (out.rows == 0) return;
    stats.rows_returned += out.rows;
    if (!sink(std::move(out))) stop = true;
    new_batch();
  };
  columnar::EvalScratch scratch;
  std::vector<uint8_t> sel;
  while (!stop && remaining > 0) {
    // Without Ward-side predicates every fetched row is returned: fetch no more than needed.
    const size_t page = ward_preds.empty() ? std::min(s.options.page_rows, remaining) : s.options.page_rows;
    std::string sql = base;
    if (after) {
      const std::string day = std::to_string(after->day), ts = IntLiteral(after->ts);
      sql += " AND (_day > " + day + " OR (_day = " + day + " AND (" + ts_key + " > " + ts + " OR (" + ts_key + " = " + ts + " AND _seq > " +
             std::to_string(after->seq) + "))))";
    }
    sql += " ORDER BY _day, " + ts_key + ", _seq LIMIT " + std::to_string(page) + " FORMAT RowBinary";
    WARD_ASSIGN_OR_RETURN(std::string body, s.Query(sql));
    ++stats.segments_total;
    std::vector<ColumnData> cols;
    for (int c : fetch) cols.emplace_back(table->columns[c].type);
    Reader r(body);
    size_t n = 0;
    Key last;
    while (!r.done()) {
      for (size_t k = 0; k < fetch.size(); ++k) {
        if (!ReadCell(r, cols[k].type, cols[k])) return Err(Internal("clickhouse: truncated RowBinary result"));
      }
      if (!r.Fixed(&last.day) || !r.Fixed(&last.ts) || !r.Fixed(&last.seq)) return Err(Internal("clickhouse: truncated RowBinary result"));
      ++n;
    }
    stats.rows_scanned += n;
    if (n > 0) after = last;
    sel.assign(n, 1);
    for (const CompiledPredicate& p : ward_preds) {
      const ColumnData& cd = cols[slot_of[p.column]];
      columnar::ColumnView v = cd.View();
      scratch.NewBlock();
      columnar::Evaluate(p, v, sel.data(), scratch);
    }
    for (size_t i = 0; i < n && !stop && remaining > 0; ++i) {
      if (!sel[i]) continue;
      for (size_t k = 0; k < out_cols.size(); ++k) {
        const ColumnData& cd = cols[k];
        ColumnVector& cv = out.columns[k];
        cv.nulls.push_back(cd.nulls[i]);
        if (IsIntType(cd.type)) cv.ints.push_back(cd.ints[i]);
        else if (cd.type == ColumnType::kReal) cv.reals.push_back(cd.reals[i]);
        else cv.strings.emplace_back(cd.bytes.data() + cd.offsets[i], cd.offsets[i + 1] - cd.offsets[i]);
      }
      ++out.rows;
      --remaining;
      if (out.rows >= batch_rows) emit();
    }
    if (n < page) break;
  }
  if (!stop) emit();
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Retention

Result<int> ClickHouseStore::ApplyRetention(int64_t now_ticks) {
  Impl& s = *impl_;
  const int64_t retention_ticks = std::chrono::duration_cast<std::chrono::seconds>(s.options.retention).count() * kTicksPerSecond;
  const int64_t cutoff = now_ticks - retention_ticks;
  WARD_ASSIGN_OR_RETURN(std::string parts, s.Query("SELECT DISTINCT table, partition FROM system.parts WHERE active AND database = " +
                                                   Quote(s.endpoint.database) + " FORMAT TabSeparated"));
  int dropped = 0;
  for (const auto& f : TsvRows(parts)) {
    if (f.size() != 2) continue;
    const std::string table(f[0]);
    const std::string partition(f[1]);
    char* end = nullptr;
    const int64_t day = std::strtoll(partition.c_str(), &end, 10);
    if (partition.empty() || *end != '\0' || s.registry->Find(table) == nullptr) continue;  // not ours
    // The whole day [day, day+1) must lie before the cutoff.
    if ((day + 1) * kTicksPerDay > cutoff) continue;
    WARD_RETURN_IF_ERROR(StatusOf(s.Query("ALTER TABLE `" + table + "` DROP PARTITION " + std::to_string(day))));
    ++dropped;
  }
  return dropped;
}

}  // namespace ward::events
