#include "kql/executor.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "json/json.h"

namespace ward::kql {
namespace {

constexpr const char* kResultSizeMessage =
    "Query execution has exceeded the allowed result size. Optimize your query by limiting the number of results and try again";
constexpr const char* kTimeoutMessage = "Query exceeded the timeout period.";
constexpr const char* kCancelledMessage = "Query was cancelled.";

// ---------------------------------------------------------------------------------------------
// Expression evaluation (shared by the binder's constants and the executor)

using SubqueryFn = std::function<Result<BExpr>(const BoundExpr&)>;

Result<ColumnPtr> EvalExpr(const BoundExpr& e, const Table& t, const EvalContext& ctx) {
  switch (e.kind) {
    case BoundExpr::Kind::kConst: return std::make_shared<const Column>(Broadcast(e.value));
    case BoundExpr::Kind::kColumn: {
      int k = t.Find(e.column);
      // Absent columns read as null: bag_unpack schemas are only known at run time.
      if (k < 0) return std::make_shared<const Column>(t.rows == 1 ? NullColumn(e.type, 1) : NullColumn(e.type, t.rows));
      return t.cols[k];
    }
    case BoundExpr::Kind::kSubquery: return Err(Internal("subquery not folded before execution"));
    case BoundExpr::Kind::kCall: break;
  }
  std::vector<ColumnPtr> owned;
  std::vector<const Column*> args;
  owned.reserve(e.args.size());
  bool all_const = true;
  for (const BExpr& a : e.args) {
    WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*a, t, ctx));
    all_const &= c->nulls.size() == 1;
    args.push_back(c.get());
    owned.push_back(std::move(c));
  }
  // Constant arguments give a constant (one-entry) result; now() has no arguments.
  const size_t n = all_const && !IsVolatile(*e.fn) ? 1 : t.rows;
  Column out = NewColumn(e.type, n);
  WARD_RETURN_IF_ERROR(e.fn->impl(ctx, args, n, out));
  if (out.nulls.size() != n) return Err(Internal(std::string("function ") + std::string(e.fn->name) + " returned a wrong row count"));
  return std::make_shared<const Column>(std::move(out));
}

bool HasColumnRef(const BoundExpr& e) {
  if (e.kind == BoundExpr::Kind::kColumn || e.kind == BoundExpr::Kind::kSubquery) return true;
  for (const BExpr& a : e.args) {
    if (HasColumnRef(*a)) return true;
  }
  return false;
}

void CollectColumns(const BoundExpr& e, std::set<std::string>& out) {
  if (e.kind == BoundExpr::Kind::kColumn) out.insert(e.column);
  for (const BExpr& a : e.args) CollectColumns(*a, out);
}

Table OneRow() {
  Table t;
  t.rows = 1;
  return t;
}

}  // namespace

Result<Scalar> EvalConstant(const BExpr& e, const EvalContext& ctx) {
  if (HasColumnRef(*e)) return Err(InvalidArgument("not a constant expression"));
  WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*e, OneRow(), ctx));
  return CellScalar(*c, 0);
}

namespace {

// ---------------------------------------------------------------------------------------------
// Tables

Table EmptyTable(const Schema& s) {
  Table t;
  for (size_t k = 0; k < s.names.size(); ++k) t.Add(s.names[k], std::make_shared<const Column>(NewColumn(s.types[k])));
  return t;
}

void AppendColumn(Column& dst, const Column& src, size_t rows) {
  if (dst.type == src.type && src.nulls.size() == rows) {
    dst.nulls.insert(dst.nulls.end(), src.nulls.begin(), src.nulls.end());
    if (IntRep(dst.type)) dst.ints.insert(dst.ints.end(), src.ints.begin(), src.ints.end());
    else if (RealRep(dst.type)) dst.reals.insert(dst.reals.end(), src.reals.begin(), src.reals.end());
    else dst.strings.insert(dst.strings.end(), src.strings.begin(), src.strings.end());
    return;
  }
  for (size_t i = 0; i < rows; ++i) AppendFrom(dst, src, i);
}

// Concatenates tables by column name (union of names in first-seen order; missing → null).
Table Concat(std::vector<Table>& parts, const Schema* schema) {
  if (parts.size() == 1) return std::move(parts[0]);
  Table out;
  std::vector<std::string> names;
  std::vector<Type> types;
  for (const Table& p : parts) {
    for (size_t k = 0; k < p.names.size(); ++k) {
      if (std::find(names.begin(), names.end(), p.names[k]) == names.end()) names.push_back(p.names[k]), types.push_back(p.cols[k]->type);
    }
  }
  if (parts.empty() && schema) return EmptyTable(*schema);
  size_t total = 0;
  for (const Table& p : parts) total += p.rows;
  for (size_t k = 0; k < names.size(); ++k) {
    Column c = NewColumn(types[k], total);
    for (const Table& p : parts) {
      int i = p.Find(names[k]);
      if (i < 0) {
        for (size_t r = 0; r < p.rows; ++r) AppendNull(c);
      } else {
        AppendColumn(c, *p.cols[i], p.rows);
      }
    }
    out.Add(names[k], std::make_shared<const Column>(std::move(c)));
  }
  out.rows = total;
  return out;
}

Table GatherTable(const Table& t, const std::vector<uint32_t>& rows) {
  Table out;
  out.rows = rows.size();
  for (size_t k = 0; k < t.names.size(); ++k) out.Add(t.names[k], std::make_shared<const Column>(Gather(*t.cols[k], rows)));
  return out;
}

Table FromBatch(events::ColumnBatch&& b) {
  Table t;
  t.rows = b.rows;
  for (size_t k = 0; k < b.names.size(); ++k) {
    events::ColumnVector& v = b.columns[k];
    Column c;
    c.type = FromColumnType(v.type);
    c.ints = std::move(v.ints);
    c.reals = std::move(v.reals);
    c.strings = std::move(v.strings);
    c.nulls = std::move(v.nulls);
    if (c.type == Type::kString) {
      std::fill(c.nulls.begin(), c.nulls.end(), 0);  // strings are never null: missing = ""
    } else if (c.type == Type::kDynamic) {
      for (size_t i = 0; i < c.nulls.size(); ++i) {
        if (c.strings[i].empty()) c.nulls[i] = 1;
      }
    }
    if (c.type == Type::kInt) {
      // Stored ints are 32-bit values widened to 64.
    }
    t.Add(std::move(b.names[k]), std::make_shared<const Column>(std::move(c)));
  }
  return t;
}

uint64_t TableBytes(const Table& t) {
  uint64_t bytes = 0;
  for (const ColumnPtr& c : t.cols) {
    bytes += c->nulls.size() * (StrRep(c->type) ? 4 : 8);
    for (const std::string& s : c->strings) bytes += s.size();
  }
  return bytes;
}

bool Truthy(const Column& c, size_t i) {
  if (IsNull(c, i)) return false;
  if (IntRep(c.type)) return c.ints[At(c, i)] != 0;
  Scalar s = ConvertCell(c, i, Type::kBool);
  return !s.null && s.i != 0;
}

// ---------------------------------------------------------------------------------------------
// The executor

class Executor {
 public:
  Executor(const QueryOptions& o, int64_t now, events::EventStore& store, const events::SchemaRegistry& reg)
      : opt_(o), store_(store), reg_(reg), start_(std::chrono::steady_clock::now()) {
    ctx_.now_ticks = now;
  }

  Result<QueryResult> Run(const BoundQuery& q) {
    CountRefs(q.plan.get());
    WARD_RETURN_IF_ERROR(Prepare(q.plan));
    Prune(*q.plan, nullptr);
    WARD_ASSIGN_OR_RETURN(Table t, RunPlan(*q.plan));
    QueryResult r;
    r.render = q.render;
    size_t rows = t.rows;
    if (rows > opt_.max_rows) rows = opt_.max_rows, r.truncated = true;
    uint64_t bytes = 0;
    for (size_t k = 0; k < t.names.size(); ++k) {
      ColumnPtr c = Materialize(t.cols[k], t.rows);
      Column out;
      out.name = t.names[k];
      out.type = c->type;
      out.nulls.assign(c->nulls.begin(), c->nulls.begin() + static_cast<long>(rows));
      if (IntRep(c->type)) out.ints.assign(c->ints.begin(), c->ints.begin() + static_cast<long>(rows));
      else if (RealRep(c->type)) out.reals.assign(c->reals.begin(), c->reals.begin() + static_cast<long>(rows));
      else out.strings.assign(c->strings.begin(), c->strings.begin() + static_cast<long>(rows));
      bytes += rows * 8;
      for (const std::string& s : out.strings) bytes += s.size();
      if (bytes > opt_.max_result_bytes) return Err(ResourceExhausted(kResultSizeMessage));
      r.columns.push_back(std::move(out));
    }
    r.rows = rows;
    r.stats.rows_scanned = stats_.rows_scanned;
    r.stats.bytes_read = bytes_read_;
    r.stats.segments_total = stats_.segments_total;
    r.stats.segments_skipped = stats_.segments_skipped;
    r.stats.execution_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return r;
  }

 private:
  // ---- limits
  // Whole-table loops (join, summarize) look at the limits every kCheckEvery rows; scans per batch.
  static constexpr size_t kCheckEvery = 4096;
  Status CheckLimits() {
    if (opt_.cancel && opt_.cancel->load(std::memory_order_relaxed)) return Unavailable(kCancelledMessage);
    if (std::chrono::steady_clock::now() - start_ > opt_.timeout) return ResourceExhausted(kTimeoutMessage);
    return Status::Ok();
  }

  // ---- planning

  void CountRefs(const Plan* p) {
    if (++refs_[p] > 1) return;
    for (const PlanPtr& in : p->inputs) CountRefs(in.get());
    ForEachExpr(*p, [&](const BExpr& e) { CountExprRefs(*e); });
  }
  void CountExprRefs(const BoundExpr& e) {
    if (e.kind == BoundExpr::Kind::kSubquery) CountRefs(e.plan.get());
    for (const BExpr& a : e.args) CountExprRefs(*a);
  }
  bool Shared(const Plan* p) const {
    auto it = refs_.find(p);
    return it != refs_.end() && it->second > 1;
  }

  template <typename F>
  static void ForEachExpr(const Plan& p, F f) {
    if (p.predicate) f(p.predicate);
    for (const auto& [n, e] : p.exprs) {
      if (e) f(e);
    }
    for (const auto& [n, e] : p.keys) f(e);
    for (const AggSpec& a : p.aggs) {
      for (const BExpr& e : a.args) f(e);
    }
    for (const SortKey& k : p.sort) f(k.expr);
    if (p.parse_source) f(p.parse_source);
  }
  template <typename F>
  static Status MapExprs(Plan& p, F f) {
    auto map = [&](BExpr& e) -> Status {
      if (!e) return Status::Ok();
      auto r = f(e);
      if (!r) return r.error();
      e = std::move(*r);
      return Status::Ok();
    };
    WARD_RETURN_IF_ERROR(map(p.predicate));
    for (auto& [n, e] : p.exprs) WARD_RETURN_IF_ERROR(map(e));
    for (auto& [n, e] : p.keys) WARD_RETURN_IF_ERROR(map(e));
    for (AggSpec& a : p.aggs) {
      for (BExpr& e : a.args) WARD_RETURN_IF_ERROR(map(e));
    }
    for (SortKey& k : p.sort) WARD_RETURN_IF_ERROR(map(k.expr));
    return map(p.parse_source);
  }

  Status Prepare(const PlanPtr& p) {
    if (!prepared_.insert(p.get()).second) return Status::Ok();
    for (const PlanPtr& in : p->inputs) WARD_RETURN_IF_ERROR(Prepare(in));
    WARD_RETURN_IF_ERROR(MapExprs(*p, [&](const BExpr& e) { return Fold(e); }));
    if (p->kind == Plan::Kind::kScan) WARD_RETURN_IF_ERROR(PrepareScan(*p));
    if (p->kind == Plan::Kind::kFilter) PushDown(*p);
    if (p->kind == Plan::Kind::kTake && p->inputs[0]->kind == Plan::Kind::kScan && !Shared(p->inputs[0].get())) {
      Plan& scan = *p->inputs[0];
      scan.request.limit = scan.request.limit ? std::min<size_t>(*scan.request.limit, static_cast<size_t>(p->limit)) : static_cast<size_t>(p->limit);
    }
    return Status::Ok();
  }

  Status PrepareScan(Plan& s) {
    s.request.tenant_id = opt_.tenant_id;
    s.request.threads = std::max(1, opt_.threads);
    const events::TableDef* def = reg_.Find(s.table);
    if (!def) return Internal("unknown table " + s.table);
    // The lookback window: older rows are not visible.
    int64_t from = ctx_.now_ticks - static_cast<int64_t>(opt_.lookback.count()) * kTicksPerSecondLocal;
    if (opt_.window_start_ticks) from = std::max(from, *opt_.window_start_ticks);
    if (def->timestamp_column >= 0) {
      s.request.from_ticks = from;
      if (opt_.window_end_ticks) s.request.to_ticks = *opt_.window_end_ticks + 1;  // inclusive end
    }
    if (opt_.device_ids) {
      // A scoped caller sees only its devices' rows; tables without DeviceId (AlertInfo) show nothing.
      if (opt_.device_ids->empty() || def->Find("DeviceId") < 0) {
        s.scan_empty = true;
      } else {
        events::Predicate pr{"DeviceId", events::Predicate::Op::kIn, {}};
        std::vector<std::string> ids(opt_.device_ids->begin(), opt_.device_ids->end());
        std::sort(ids.begin(), ids.end());
        for (std::string& id : ids) pr.values.emplace_back(std::move(id));
        s.request.predicates.push_back(std::move(pr));
      }
    }
    return Status::Ok();
  }
  static constexpr int64_t kTicksPerSecondLocal = 10'000'000;

  Result<BExpr> Fold(const BExpr& e) {
    if (e->kind == BoundExpr::Kind::kConst || e->kind == BoundExpr::Kind::kColumn) return e;
    if (e->kind == BoundExpr::Kind::kSubquery) {
      WARD_RETURN_IF_ERROR(Prepare(e->plan));
      Prune(*e->plan, nullptr);
      WARD_ASSIGN_OR_RETURN(Table t, RunPlan(*e->plan));
      auto c = std::make_shared<BoundExpr>();
      c->kind = BoundExpr::Kind::kConst;
      c->pos = e->pos;
      int first = t.Find(e->plan->schema.names[0]);
      if (first < 0 && !t.names.empty()) first = 0;
      if (e->scalar_subquery) {
        c->type = e->type;
        c->value = t.rows > 0 && first >= 0 ? CellScalar(*t.cols[first], 0) : Scalar::Null(e->type);
        if (c->value.type != e->type) c->value = Scalar::Null(e->type);
      } else {
        std::string arr = "[";
        for (size_t i = 0; first >= 0 && i < t.rows; ++i) arr += (i ? "," : "") + CellToJson(*t.cols[first], i);
        arr += "]";
        c->type = Type::kDynamic;
        c->value = Scalar::Dynamic(std::move(arr));
      }
      return BExpr(c);
    }
    auto copy = std::make_shared<BoundExpr>(*e);
    bool all_const = true;
    for (BExpr& a : copy->args) {
      WARD_ASSIGN_OR_RETURN(a, Fold(a));
      all_const &= a->kind == BoundExpr::Kind::kConst;
    }
    if (!all_const || (copy->fn && IsVolatile(*copy->fn))) return BExpr(copy);
    WARD_ASSIGN_OR_RETURN(ColumnPtr col, EvalExpr(*copy, OneRow(), ctx_));
    auto c = std::make_shared<BoundExpr>();
    c->kind = BoundExpr::Kind::kConst;
    c->type = e->type;
    c->pos = e->pos;
    c->value = CellScalar(*col, 0);
    return BExpr(c);
  }

  // Moves conjuncts the store evaluates itself into the scan below a filter.
  void PushDown(Plan& f) {
    Plan* cur = f.inputs[0].get();
    while (cur->kind == Plan::Kind::kFilter && !Shared(cur)) cur = cur->inputs[0].get();
    if (cur->kind != Plan::Kind::kScan || Shared(cur) || cur->scan_empty) return;
    const events::TableDef* def = reg_.Find(cur->table);
    std::vector<BExpr> conj, keep;
    Flatten(f.predicate, conj);
    for (const BExpr& c : conj) {
      if (!TryPush(*c, *def, cur->request)) keep.push_back(c);
    }
    if (keep.size() == conj.size()) return;
    if (keep.empty()) {
      f.predicate = nullptr;
      return;
    }
    BExpr acc = keep[0];
    for (size_t k = 1; k < keep.size(); ++k) {
      auto a = std::make_shared<BoundExpr>();
      a->kind = BoundExpr::Kind::kCall;
      a->fn = FindFunction("and");
      a->type = Type::kBool;
      a->args = {acc, keep[k]};
      acc = a;
    }
    f.predicate = acc;
  }

  static void Flatten(const BExpr& e, std::vector<BExpr>& out) {
    if (e->kind == BoundExpr::Kind::kCall && e->fn->name == "and") {
      Flatten(e->args[0], out);
      Flatten(e->args[1], out);
      return;
    }
    out.push_back(e);
  }

  // String operands of a constant (a string, or a dynamic array of strings); false if any is not.
  static bool ConstStrings(const std::vector<BExpr>& args, size_t from, std::vector<std::string>* out) {
    for (size_t k = from; k < args.size(); ++k) {
      const BoundExpr& a = *args[k];
      if (a.kind != BoundExpr::Kind::kConst || a.value.null) return false;
      if (a.type == Type::kString) {
        out->push_back(a.value.s);
      } else if (a.type == Type::kDynamic) {
        auto v = json::Value::Parse(a.value.s);
        if (!v || !v->is_array()) return false;
        for (const auto& item : v->items()) {
          if (!item.is_string()) return false;
          out->push_back(item.as_string());
        }
      } else {
        return false;
      }
    }
    for (const std::string& s : *out) {
      if (s.empty()) return false;  // "" must also match missing (null) strings: evaluate ourselves
    }
    return true;
  }

  bool TryPush(const BoundExpr& c, const events::TableDef& def, events::ScanRequest& req) {
    using Op = events::Predicate::Op;
    if (c.kind != BoundExpr::Kind::kCall || c.args.empty()) return false;
    std::string_view fn = c.fn->name;
    BExpr col = c.args[0], val = c.args.size() > 1 ? c.args[1] : nullptr;
    static const std::map<std::string_view, std::string_view> kFlip = {{"<", ">"}, {">", "<"}, {"<=", ">="}, {">=", "<="}, {"==", "=="}};
    if (col->kind == BoundExpr::Kind::kConst && val && val->kind == BoundExpr::Kind::kColumn && kFlip.count(fn)) {
      std::swap(col, val);
      fn = kFlip.at(fn);
    }
    if (col->kind != BoundExpr::Kind::kColumn) return false;
    int ci = def.Find(col->column);
    if (ci < 0) return false;
    const events::ColumnType ct = def.columns[ci].type;
    const bool is_ts = ci == def.timestamp_column;
    const bool int_col = ct == events::ColumnType::kLong || ct == events::ColumnType::kInt || ct == events::ColumnType::kDatetime;
    if (fn == "between" && is_ts && c.args[1]->kind == BoundExpr::Kind::kConst && c.args[2]->kind == BoundExpr::Kind::kConst &&
        !c.args[1]->value.null && !c.args[2]->value.null && c.args[1]->type == Type::kDateTime && c.args[2]->type == Type::kDateTime) {
      Narrow(req, c.args[1]->value.i, c.args[2]->value.i + 1);
      return true;
    }
    if (!val || val->kind != BoundExpr::Kind::kConst || val->value.null) {
      if (!(fn == "in" || fn == "has_any")) return false;
    }
    if (int_col && val && val->kind == BoundExpr::Kind::kConst && !val->value.null && IntRep(val->type) && val->type != Type::kBool &&
        (val->type == Type::kDateTime) == (ct == events::ColumnType::kDatetime) && c.args.size() == 2) {
      int64_t v = val->value.i;
      if (is_ts) {
        if (fn == ">") return Narrow(req, v + 1, std::nullopt), true;
        if (fn == ">=") return Narrow(req, v, std::nullopt), true;
        if (fn == "<") return Narrow(req, std::nullopt, v), true;
        if (fn == "<=") return Narrow(req, std::nullopt, v + 1), true;
      }
      static const std::map<std::string_view, Op> kNum = {{"==", Op::kEquals}, {">", Op::kGreater}, {">=", Op::kGreaterEq}, {"<", Op::kLess}, {"<=", Op::kLessEq}};
      auto it = kNum.find(fn);
      if (it == kNum.end()) return false;
      req.predicates.push_back(events::Predicate{col->column, it->second, {v}});
      return true;
    }
    if (ct != events::ColumnType::kString) return false;
    if (fn == "matches regex") return PushRegex(col->column, *val, req);
    static const std::map<std::string_view, Op> kStr = {{"==", Op::kEquals}, {"=~", Op::kEqualsCi}, {"has", Op::kHas}, {"contains", Op::kContains},
                                                        {"startswith", Op::kStartsWith}, {"in", Op::kIn}, {"in~", Op::kInCi},
                                                        {"has_any", Op::kHasAny}};
    auto it = kStr.find(fn);
    if (it == kStr.end()) return false;
    std::vector<std::string> vals;
    if (!ConstStrings(c.args, 1, &vals) || vals.empty()) return false;
    if ((it->second != Op::kIn && it->second != Op::kInCi && it->second != Op::kHasAny) && vals.size() != 1) return false;
    events::Predicate p{col->column, it->second, {}};
    for (std::string& v : vals) p.values.emplace_back(std::move(v));
    req.predicates.push_back(std::move(p));
    return true;
  }

  // `matches regex` with a constant pattern, evaluated by the store on the stored bytes (no string
  // is materialised for rows that fail). Not when the pattern matches "": a missing (null) string
  // is "" to KQL but never matches in the store.
  class RegexMatcher final : public events::StringMatcher {
   public:
    explicit RegexMatcher(const std::string& pattern) : re_(pattern, Options()) {}
    bool ok() const { return re_.ok(); }
    bool Match(std::string_view v) const override { return RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), re_); }

   private:
    static RE2::Options Options() {
      RE2::Options o;  // as functions.cc compiles `matches regex`
      o.set_log_errors(false);
      return o;
    }
    RE2 re_;
  };
  static bool PushRegex(const std::string& column, const BoundExpr& pattern, events::ScanRequest& req) {
    if (pattern.type != Type::kString) return false;
    auto m = std::make_shared<RegexMatcher>(pattern.value.s);
    if (!m->ok() || m->Match("")) return false;
    events::Predicate p{column, events::Predicate::Op::kMatches, {}};
    p.matcher = std::move(m);
    req.predicates.push_back(std::move(p));
    return true;
  }

  static void Narrow(events::ScanRequest& r, std::optional<int64_t> from, std::optional<int64_t> to) {
    if (from) r.from_ticks = r.from_ticks ? std::max(*r.from_ticks, *from) : *from;
    if (to) r.to_ticks = r.to_ticks ? std::min(*r.to_ticks, *to) : *to;
  }

  // Column pruning: each scan reads only what the plan above it references. `need` = nullptr means all.
  void Prune(Plan& p, const std::set<std::string>* need) {
    if (Shared(&p) || p.cache) need = nullptr;
    if (!pruned_.insert({&p, need ? Key(*need) : "*"}).second) return;
    std::set<std::string> mine;
    auto refs = [&]() {
      ForEachExpr(p, [&](const BExpr& e) { CollectColumns(*e, mine); });
    };
    switch (p.kind) {
      case Plan::Kind::kScan: {
        p.request.columns.clear();
        if (need) {
          for (const auto& n : p.schema.names) {
            if (need->count(n)) p.request.columns.push_back(n);
          }
          if (p.request.columns.empty()) p.request.columns.push_back(p.schema.names[0]);
        }
        return;
      }
      case Plan::Kind::kValues: return;
      case Plan::Kind::kFilter:
      case Plan::Kind::kSort:
      case Plan::Kind::kTake: {
        if (!need) return Prune(*p.inputs[0], nullptr);
        mine = *need;
        refs();
        return Prune(*p.inputs[0], &mine);
      }
      case Plan::Kind::kProject:
      case Plan::Kind::kSummarize:
        refs();
        return Prune(*p.inputs[0], &mine);
      case Plan::Kind::kExtend:
      case Plan::Kind::kMvExpand:
      case Plan::Kind::kParse: {
        if (!need) return Prune(*p.inputs[0], nullptr);
        mine = *need;
        for (const auto& [n, e] : p.exprs) {
          if (p.kind != Plan::Kind::kMvExpand) mine.erase(n);
        }
        refs();
        if (p.kind == Plan::Kind::kMvExpand) mine.erase(p.item_index);
        return Prune(*p.inputs[0], &mine);
      }
      case Plan::Kind::kBagUnpack: return Prune(*p.inputs[0], nullptr);
      case Plan::Kind::kJoin: {
        if (!need) {
          Prune(*p.inputs[0], nullptr);
          return Prune(*p.inputs[1], nullptr);
        }
        std::set<std::string> l(p.left_keys.begin(), p.left_keys.end()), r(p.right_keys.begin(), p.right_keys.end());
        for (const auto& n : p.inputs[0]->schema.names) {
          if (need->count(n)) l.insert(n);
        }
        const Schema& rs = p.inputs[1]->schema;
        for (size_t k = 0; k < rs.names.size(); ++k) {
          if (k < p.right_names.size() && need->count(p.right_names[k])) r.insert(rs.names[k]);
        }
        Prune(*p.inputs[0], p.inputs[0]->schema.open ? nullptr : &l);
        return Prune(*p.inputs[1], rs.open ? nullptr : &r);
      }
      case Plan::Kind::kUnion:
        for (const PlanPtr& in : p.inputs) Prune(*in, need);
        return;
    }
  }
  static std::string Key(const std::set<std::string>& s) {
    std::string k;
    for (const auto& n : s) k += n + '\x1f';
    return k;
  }

  // ---- running

  Result<Table> RunPlan(const Plan& p) {
    WARD_RETURN_IF_ERROR(CheckLimits());
    const bool cacheable = p.cache || Shared(&p);
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(&p);
      if (it != cache_.end()) return it->second;
    }
    WARD_ASSIGN_OR_RETURN(Table t, RunUncached(p));
    if (t.rows == 0) {
      for (size_t k = 0; k < p.schema.names.size(); ++k) {
        if (t.Find(p.schema.names[k]) < 0) t.Add(p.schema.names[k], std::make_shared<const Column>(NewColumn(p.schema.types[k])));
      }
    }
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mu_);
      cache_[&p] = t;
    }
    return t;
  }

  // Per-batch operators; window functions (whole_input) need the input in one piece.
  static bool Streamable(const Plan& p) {
    const Plan::Kind k = p.kind;
    return !p.whole_input && (k == Plan::Kind::kFilter || k == Plan::Kind::kProject || k == Plan::Kind::kExtend ||
                              k == Plan::Kind::kMvExpand || k == Plan::Kind::kParse);
  }

  // The chain of per-batch operators from `top` down to a scan, bottom-up; empty when none.
  std::vector<const Plan*> StreamChain(const Plan& top, const Plan** scan) {
    std::vector<const Plan*> chain;
    const Plan* cur = &top;
    while (Streamable(*cur)) {
      if (cur != &top && (Shared(cur) || cur->cache)) return {};
      chain.push_back(cur);
      cur = cur->inputs[0].get();
    }
    if (cur->kind != Plan::Kind::kScan || Shared(cur) || cur->cache || chain.empty()) return {};
    *scan = cur;
    std::reverse(chain.begin(), chain.end());
    return chain;
  }

  Result<Table> RunUncached(const Plan& p) {
    switch (p.kind) {
      case Plan::Kind::kScan: return RunStream(p, {}, std::nullopt);
      case Plan::Kind::kValues: return *p.values;
      case Plan::Kind::kTake: {
        const Plan* scan = nullptr;
        auto chain = StreamChain(*p.inputs[0], &scan);
        Table in;
        if (!chain.empty()) {
          WARD_ASSIGN_OR_RETURN(in, RunStream(*scan, chain, static_cast<size_t>(p.limit)));
        } else {
          WARD_ASSIGN_OR_RETURN(in, RunPlan(*p.inputs[0]));
        }
        return Take(std::move(in), static_cast<size_t>(p.limit));
      }
      default: break;
    }
    if (Streamable(p) || p.whole_input) {
      const Plan* scan = nullptr;
      auto chain = p.whole_input ? std::vector<const Plan*>{} : StreamChain(p, &scan);
      if (!chain.empty()) return RunStream(*scan, chain, std::nullopt);
      WARD_ASSIGN_OR_RETURN(Table in, RunPlan(*p.inputs[0]));
      // Window functions see the whole ordered input at once (prev/next across slice edges).
      if (p.whole_input) return Apply(p, std::move(in));
      return ApplySliced(p, std::move(in));
    }
    switch (p.kind) {
      case Plan::Kind::kSummarize: {
        const Plan& in_plan = *p.inputs[0];
        const Plan* scan = nullptr;
        std::vector<const Plan*> chain;
        if (CanStreamSummarize(p)) {
          chain = StreamChain(in_plan, &scan);
          if (chain.empty() && in_plan.kind == Plan::Kind::kScan && !Shared(&in_plan) && !in_plan.cache) scan = &in_plan;
        }
        if (scan) {
          Grouper g(*this, p);
          Consumer add = [&](Table&& t) { return g.Add(t); };
          auto r = RunStream(*scan, chain, std::nullopt, &add);
          if (!r) return Err(r.error());
          return g.Finish(in_plan.schema);
        }
        WARD_ASSIGN_OR_RETURN(Table in, RunPlan(in_plan));
        return Summarize(p, in);
      }
      case Plan::Kind::kSort: {
        WARD_ASSIGN_OR_RETURN(Table in, RunPlan(*p.inputs[0]));
        return Sort(p, in);
      }
      case Plan::Kind::kJoin: {
        WARD_ASSIGN_OR_RETURN(Table l, RunPlan(*p.inputs[0]));
        WARD_ASSIGN_OR_RETURN(Table r, RunPlan(*p.inputs[1]));
        return Join(p, l, r);
      }
      case Plan::Kind::kUnion: return Union(p);
      case Plan::Kind::kBagUnpack: {
        WARD_ASSIGN_OR_RETURN(Table in, RunPlan(*p.inputs[0]));
        return BagUnpack(p, in);
      }
      default: return Err(Internal("unexpected plan node"));
    }
  }

  static Table Take(Table in, size_t n) {
    if (in.rows <= n) return in;
    std::vector<uint32_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<uint32_t>(i);
    return GatherTable(in, idx);
  }

  // Scans with the per-batch operators applied on worker threads; stops after `stop_after` rows.
  // With `consume`, each processed batch goes to it instead of the result, one at a time and in
  // scan order (whichever worker finds the next batch ready runs it), and an empty table is returned.
  using Consumer = std::function<Status(Table&&)>;
  Result<Table> RunStream(const Plan& scan, const std::vector<const Plan*>& chain, std::optional<size_t> stop_after,
                          const Consumer* consume = nullptr) {
    const Schema& out_schema = chain.empty() ? scan.schema : chain.back()->schema;
    if (scan.scan_empty) return EmptyTable(out_schema);
    const int threads = std::max(1, opt_.threads);
    std::mutex mu;
    std::condition_variable cv_work, cv_space;
    std::deque<std::pair<size_t, Table>> queue;
    std::map<size_t, Table> done;
    Status error;
    bool finished = false;
    std::atomic<bool> stop{false};
    std::atomic<size_t> produced{0};
    std::mutex consume_mu;
    size_t next_consume = 0;
    // Runs the consumer over the batches that are next in order. A batch that lands while another
    // thread drains may wait for the next drain (at the latest the final one below).
    auto drain = [&] {
      std::unique_lock<std::mutex> owner(consume_mu, std::try_to_lock);
      if (!owner.owns_lock()) return;
      for (;;) {
        Table t;
        {
          std::lock_guard<std::mutex> lock(mu);
          auto it = done.find(next_consume);
          if (it == done.end() || stop) return;
          t = std::move(it->second);
          done.erase(it);
          ++next_consume;
        }
        Status st = (*consume)(std::move(t));
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (error.ok()) error = st;
          stop = true;
          return;
        }
      }
    };
    auto process = [&](size_t seq, Table&& t) {
      Table cur = std::move(t);
      for (const Plan* op : chain) {
        auto r = Apply(*op, std::move(cur));
        if (!r) {
          std::lock_guard<std::mutex> lock(mu);
          if (error.ok()) error = r.error();
          stop = true;
          return;
        }
        cur = std::move(*r);
      }
      size_t total = produced.fetch_add(cur.rows) + cur.rows;
      if (stop_after && total >= *stop_after) stop = true;
      {
        std::lock_guard<std::mutex> lock(mu);
        done.emplace(seq, std::move(cur));
      }
      if (consume) drain();
    };
    std::vector<std::thread> workers;
    if (threads > 1) {
      for (int k = 0; k < threads; ++k) {
        workers.emplace_back([&] {
          while (true) {
            std::unique_lock<std::mutex> lock(mu);
            cv_work.wait(lock, [&] { return !queue.empty() || finished; });
            if (queue.empty()) return;
            auto item = std::move(queue.front());
            queue.pop_front();
            lock.unlock();
            cv_space.notify_one();
            process(item.first, std::move(item.second));
          }
        });
      }
    }
    size_t seq = 0;
    auto sink = [&](events::ColumnBatch&& b) -> bool {
      if (stop) return false;
      Status lim = CheckLimits();
      if (!lim.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (error.ok()) error = lim;
        stop = true;
        return false;
      }
      uint64_t bytes = 0;
      for (const auto& c : b.columns) {
        bytes += c.nulls.size() * (c.strings.empty() ? 8 : 0);
        for (const std::string& s : c.strings) bytes += s.size();
      }
      bytes_read_ += bytes;
      Table t = FromBatch(std::move(b));
      if (threads == 1) {
        process(seq++, std::move(t));
        return !stop;
      }
      std::unique_lock<std::mutex> lock(mu);
      cv_space.wait(lock, [&] { return queue.size() < static_cast<size_t>(2 * threads) || stop; });
      queue.emplace_back(seq++, std::move(t));
      lock.unlock();
      cv_work.notify_one();
      return !stop;
    };
    auto st = store_.Scan(scan.request, sink);
    {
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
    }
    cv_work.notify_all();
    for (auto& w : workers) w.join();
    if (consume && st) drain();
    if (!st) return Err(st.error());
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.rows_scanned += st->rows_scanned;
      stats_.segments_total += st->segments_total;
      stats_.segments_skipped += st->segments_skipped;
    }
    if (!error.ok()) return Err(error);
    if (consume) return EmptyTable(out_schema);
    std::vector<Table> parts;
    for (auto& [s, t] : done) {
      if (t.rows > 0 || parts.empty()) parts.push_back(std::move(t));
    }
    if (parts.empty()) return EmptyTable(out_schema);
    Table all = Concat(parts, &out_schema);
    if (stop_after && all.rows > *stop_after) all = Take(std::move(all), *stop_after);
    return all;
  }

  // ---- per-batch operators

  // A per-batch operator over a whole table (range, datatable, a join's output): slice by slice, as
  // a scan would feed it, so that memory stays bounded by the slice and cancellation and the
  // timeout are seen between slices instead of after the whole table.
  static constexpr size_t kSliceRows = 1 << 16;
  Result<Table> ApplySliced(const Plan& p, Table in) {
    if (in.rows <= kSliceRows) return Apply(p, std::move(in));
    std::vector<Table> parts;
    std::vector<uint32_t> idx;
    for (size_t begin = 0; begin < in.rows; begin += kSliceRows) {
      WARD_RETURN_IF_ERROR(CheckLimits());
      const size_t end = std::min(in.rows, begin + kSliceRows);
      idx.resize(end - begin);
      for (size_t i = begin; i < end; ++i) idx[i - begin] = static_cast<uint32_t>(i);
      WARD_ASSIGN_OR_RETURN(Table part, Apply(p, GatherTable(in, idx)));
      if (part.rows > 0 || parts.empty()) parts.push_back(std::move(part));
    }
    return Concat(parts, &p.schema);
  }

  Result<Table> Apply(const Plan& p, Table in) {
    switch (p.kind) {
      case Plan::Kind::kFilter: {
        if (!p.predicate) return in;
        WARD_ASSIGN_OR_RETURN(ColumnPtr m, EvalExpr(*p.predicate, in, ctx_));
        std::vector<uint32_t> idx;
        idx.reserve(in.rows);
        for (size_t i = 0; i < in.rows; ++i) {
          if (Truthy(*m, i)) idx.push_back(static_cast<uint32_t>(i));
        }
        if (idx.size() == in.rows) return in;
        return GatherTable(in, idx);
      }
      case Plan::Kind::kProject: {
        Table out;
        out.rows = in.rows;
        for (const auto& [n, e] : p.exprs) {
          WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*e, in, ctx_));
          out.names.push_back(n);
          out.cols.push_back(Materialize(std::move(c), in.rows));
        }
        return out;
      }
      case Plan::Kind::kExtend: {
        for (const auto& [n, e] : p.exprs) {
          WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*e, in, ctx_));
          in.Add(n, Materialize(std::move(c), in.rows));
        }
        return in;
      }
      case Plan::Kind::kMvExpand: return MvExpand(p, in);
      case Plan::Kind::kParse: return Parse(p, in);
      default: return Err(Internal("not a per-batch operator"));
    }
  }

  Result<Table> MvExpand(const Plan& p, const Table& in) {
    std::vector<ColumnPtr> srcs;
    for (const auto& [n, e] : p.exprs) {
      WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*e, in, ctx_));
      srcs.push_back(Materialize(std::move(c), in.rows));
    }
    std::vector<uint32_t> rows;
    std::vector<Column> outs;
    for (size_t k = 0; k < srcs.size(); ++k) outs.push_back(NewColumn(p.expand_types[k] ? *p.expand_types[k] : Type::kDynamic));
    Column index = NewColumn(Type::kLong);
    std::vector<std::vector<std::string>> elems(srcs.size());
    for (size_t i = 0; i < in.rows; ++i) {
      size_t len = 0;
      for (size_t k = 0; k < srcs.size(); ++k) {
        elems[k].clear();
        const Column& c = *srcs[k];
        if (IsNull(c, i)) continue;
        std::string text = c.type == Type::kDynamic ? c.strings[i] : CellToJson(c, i);
        auto v = json::Value::Parse(text);
        if (!v) {
          elems[k].push_back(json::Quote(text));
        } else if (v->is_array()) {
          for (const auto& e : v->items()) elems[k].push_back(e.Serialize());
        } else if (v->is_object()) {
          for (const auto& m : v->members()) {
            if (p.bag_expansion == "array") elems[k].push_back("[" + json::Quote(m.key) + "," + m.value.Serialize() + "]");
            else elems[k].push_back("{" + json::Quote(m.key) + ":" + m.value.Serialize() + "}");
          }
        } else {
          elems[k].push_back(v->Serialize());
        }
        len = std::max(len, elems[k].size());
      }
      if (p.expand_limit >= 0) len = std::min(len, static_cast<size_t>(p.expand_limit));
      for (size_t j = 0; j < len; ++j) {
        rows.push_back(static_cast<uint32_t>(i));
        for (size_t k = 0; k < srcs.size(); ++k) {
          Column& o = outs[k];
          if (j >= elems[k].size() || elems[k][j] == "null") {
            AppendNull(o);
            continue;
          }
          if (o.type == Type::kDynamic) {
            o.strings.push_back(elems[k][j]);
            o.nulls.push_back(0);
          } else {
            Column one = Broadcast(Scalar::Dynamic(elems[k][j]));
            AppendScalar(o, ConvertCell(one, 0, o.type));
          }
        }
        AppendScalar(index, Scalar::Long(static_cast<int64_t>(j)));
      }
    }
    Table out = GatherTable(in, rows);
    for (size_t k = 0; k < srcs.size(); ++k) out.Add(p.exprs[k].first, std::make_shared<const Column>(std::move(outs[k])));
    if (!p.item_index.empty()) out.Add(p.item_index, std::make_shared<const Column>(std::move(index)));
    return out;
  }

  Result<Table> Parse(const Plan& p, Table in) {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_dot_nl(true);
    RE2 re(p.parse_regex, o);
    if (!re.ok()) return Err(InvalidArgument("'parse' operator: invalid pattern: " + re.error()));
    WARD_ASSIGN_OR_RETURN(ColumnPtr src, EvalExpr(*p.parse_source, in, ctx_));
    const size_t groups = p.exprs.size();
    if (static_cast<size_t>(re.NumberOfCapturingGroups()) < groups) return Err(InvalidArgument("'parse' operator: pattern has too few groups"));
    std::vector<Column> outs;
    for (size_t k = 0; k < groups; ++k) outs.push_back(NewColumn(p.parse_types[k], in.rows));
    std::vector<re2::StringPiece> m(static_cast<size_t>(re.NumberOfCapturingGroups()) + 1);
    for (size_t i = 0; i < in.rows; ++i) {
      std::string text = CellToString(*src, i);
      bool ok = re.Match(text, 0, text.size(), RE2::UNANCHORED, m.data(), static_cast<int>(m.size()));
      for (size_t k = 0; k < groups; ++k) {
        if (!ok || m[k + 1].data() == nullptr) {
          AppendNull(outs[k]);
          continue;
        }
        Column one = Broadcast(Scalar::Str(std::string(m[k + 1].data(), m[k + 1].size())));
        AppendScalar(outs[k], p.parse_types[k] == Type::kString ? CellScalar(one, 0) : ConvertCell(one, 0, p.parse_types[k]));
      }
    }
    for (size_t k = 0; k < groups; ++k) in.Add(p.exprs[k].first, std::make_shared<const Column>(std::move(outs[k])));
    return in;
  }

  // ---- whole-table operators

  // Aggregates whose accumulator may be fed batch after batch and whose result does not depend on
  // how rows were split (integer sums only: a real sum would vary in its last bits). The others
  // (arg_max, any, min/max, make_*, percentile, ...) keep row references and get the whole input.
  static bool StreamableAggregate(const AggSpec& a) {
    static const std::set<std::string_view> kCounts = {"count", "countif", "dcount", "dcountif", "count_distinct"};
    static const std::set<std::string_view> kSums = {"sum", "sumif", "avg", "avgif"};
    if (kCounts.count(a.def->name)) return true;
    return kSums.count(a.def->name) && !a.args.empty() && IntRep(a.args[0]->type);
  }

  // summarize state: group ids by key (first appearance order, so output order does not depend on
  // batch boundaries), the keys' values per group, one accumulator per aggregate.
  class Grouper {
   public:
    Grouper(Executor& ex, const Plan& p) : ex_(ex), p_(p) {}

    Status Add(const Table& in) {
      std::vector<ColumnPtr> keys;
      for (const auto& [n, e] : p_.keys) {
        WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*e, in, ex_.ctx_));
        keys.push_back(Materialize(std::move(c), in.rows));
      }
      if (key_values_.empty()) {
        for (const ColumnPtr& k : keys) key_values_.push_back(NewColumn(k->type));
      }
      group_.resize(in.rows);
      if (keys.empty()) {
        std::fill(group_.begin(), group_.end(), 0);
      } else {
        for (size_t i = 0; i < in.rows; ++i) {
          if (i % kCheckEvery == 0) WARD_RETURN_IF_ERROR(ex_.CheckLimits());
          key_.clear();
          for (const ColumnPtr& k : keys) AppendKey(key_, *k, i);
          bool fresh;
          group_[i] = ids_.Insert(key_, &fresh);
          if (fresh) {
            for (size_t k = 0; k < keys.size(); ++k) AppendFrom(key_values_[k], *keys[k], i);
          }
        }
      }
      const size_t groups = keys.empty() ? 1 : ids_.size();
      for (size_t ai = 0; ai < p_.aggs.size(); ++ai) {
        WARD_RETURN_IF_ERROR(ex_.CheckLimits());
        const AggSpec& a = p_.aggs[ai];
        std::vector<ColumnPtr> owned;
        std::vector<const Column*> args;
        std::vector<Type> types;
        std::vector<uint8_t> mask;
        for (size_t k = 0; k < a.args.size(); ++k) {
          WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*a.args[k], in, ex_.ctx_));
          if (static_cast<int>(k) == a.def->predicate_arg) {
            mask.resize(in.rows);
            for (size_t i = 0; i < in.rows; ++i) mask[i] = Truthy(*c, i);
            continue;
          }
          // Constant parameters (percentages, make_set limits) stay one entry; values are materialised.
          bool param = k > 0 && a.args[k]->kind == BoundExpr::Kind::kConst && a.def->name != "arg_max" && a.def->name != "arg_min" &&
                       a.def->name != "argmax" && a.def->name != "argmin" && a.def->name != "any" && a.def->name != "take_any";
          if (!param) c = Materialize(std::move(c), in.rows);
          types.push_back(c->type);
          args.push_back(c.get());
          owned.push_back(std::move(c));
        }
        if (args.empty()) {
          owned.push_back(std::make_shared<const Column>(NullColumn(Type::kLong, in.rows)));
          args.push_back(owned.back().get());
        }
        if (accs_.size() <= ai) accs_.push_back(a.def->make(types, a.types));
        accs_[ai]->Add(args, group_, mask.empty() ? nullptr : mask.data(), groups);
        // Accumulators that point into the batch (arg_max, any, ...) see one batch only.
        if (!StreamableAggregate(a)) inputs_.push_back(std::move(owned));
      }
      return Status::Ok();
    }

    // No rows with keys gives no group; without keys, one group (count() of nothing is 0).
    Result<Table> Finish(const Schema& input_schema) {
      if (accs_.size() < p_.aggs.size()) WARD_RETURN_IF_ERROR(Add(EmptyTable(input_schema)));
      const size_t groups = p_.keys.empty() ? 1 : ids_.size();
      Table out;
      out.rows = groups;
      for (size_t k = 0; k < p_.keys.size(); ++k) {
        out.Add(p_.keys[k].first, std::make_shared<const Column>(k < key_values_.size() ? std::move(key_values_[k]) : NewColumn(p_.keys[k].second->type)));
      }
      for (size_t ai = 0; ai < p_.aggs.size(); ++ai) {
        const AggSpec& a = p_.aggs[ai];
        std::vector<Column> res;
        accs_[ai]->Finish(groups, res);
        for (size_t k = 0; k < a.names.size() && k < res.size(); ++k) {
          if (res[k].type != a.types[k]) {
            Column conv = NewColumn(a.types[k], groups);
            for (size_t i = 0; i < groups; ++i) AppendFrom(conv, res[k], i);
            res[k] = std::move(conv);
          }
          out.Add(a.names[k], std::make_shared<const Column>(std::move(res[k])));
        }
      }
      return out;
    }

   private:
    Executor& ex_;
    const Plan& p_;
    KeyIndex ids_;
    std::string key_;
    std::vector<uint32_t> group_;
    std::vector<Column> key_values_;
    std::vector<std::unique_ptr<Accumulator>> accs_;
    std::vector<std::vector<ColumnPtr>> inputs_;  // kept alive for accumulators that reference rows
  };

  Result<Table> Summarize(const Plan& p, const Table& in) {
    Grouper g(*this, p);
    WARD_RETURN_IF_ERROR(g.Add(in));
    return g.Finish(p.inputs[0]->schema);
  }

  // summarize straight over a scan (and per-batch operators): batches are aggregated as they
  // arrive, in scan order, instead of concatenating the whole input first.
  bool CanStreamSummarize(const Plan& p) {
    for (const AggSpec& a : p.aggs) {
      if (!StreamableAggregate(a)) return false;
    }
    return true;
  }

  static int SortCmp(const Column& c, size_t i, size_t j) {
    if (IntRep(c.type)) return c.ints[At(c, i)] < c.ints[At(c, j)] ? -1 : c.ints[At(c, i)] > c.ints[At(c, j)];
    if (RealRep(c.type)) {
      double x = c.reals[At(c, i)], y = c.reals[At(c, j)];
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) - std::isnan(y);
      return x < y ? -1 : x > y;
    }
    int r = c.strings[At(c, i)].compare(c.strings[At(c, j)]);
    return r < 0 ? -1 : r > 0;
  }

  Result<Table> Sort(const Plan& p, const Table& in) {
    std::vector<ColumnPtr> keys;
    for (const SortKey& k : p.sort) {
      WARD_ASSIGN_OR_RETURN(ColumnPtr c, EvalExpr(*k.expr, in, ctx_));
      keys.push_back(Materialize(std::move(c), in.rows));
    }
    std::vector<uint32_t> idx(in.rows);
    for (size_t i = 0; i < in.rows; ++i) idx[i] = static_cast<uint32_t>(i);
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
      for (size_t k = 0; k < keys.size(); ++k) {
        const Column& c = *keys[k];
        bool na = c.nulls[a] != 0, nb = c.nulls[b] != 0;
        if (na || nb) {
          if (na == nb) continue;
          return p.sort[k].nulls_first ? na : nb;
        }
        int r = SortCmp(c, a, b);
        if (r != 0) return p.sort[k].asc ? r < 0 : r > 0;
      }
      return false;
    });
    return GatherTable(in, idx);
  }

  Result<std::vector<ColumnPtr>> KeyColumns(const Table& t, const std::vector<std::string>& names) {
    std::vector<ColumnPtr> out;
    for (const std::string& n : names) {
      int k = t.Find(n);
      if (k < 0) out.push_back(std::make_shared<const Column>(NullColumn(Type::kString, t.rows)));
      else out.push_back(Materialize(t.cols[k], t.rows));
    }
    return out;
  }

  static bool RowKey(const std::vector<ColumnPtr>& keys, size_t i, std::string* key) {
    key->clear();
    for (const ColumnPtr& c : keys) {
      if (IsNull(*c, i)) return false;  // null keys never match
      AppendKey(*key, *c, i);
    }
    return true;
  }

  Result<Table> Join(const Plan& p, const Table& left, const Table& right) {
    WARD_ASSIGN_OR_RETURN(auto lk, KeyColumns(left, p.left_keys));
    WARD_ASSIGN_OR_RETURN(auto rk, KeyColumns(right, p.right_keys));
    // Numeric keys of different widths compare by value: AppendKey encodes them alike.
    const JoinKind kind = p.join_kind;
    // Right rows by key: per key id the rows in ascending order, as linked lists over row numbers.
    KeyIndex rindex;
    std::vector<int64_t> head, tail, next(right.rows, -1);
    std::string key;
    for (size_t i = 0; i < right.rows; ++i) {
      if (i % kCheckEvery == 0) WARD_RETURN_IF_ERROR(CheckLimits());
      if (!RowKey(rk, i, &key)) continue;
      bool fresh;
      const uint32_t id = rindex.Insert(key, &fresh);
      if (fresh) head.push_back(static_cast<int64_t>(i)), tail.push_back(static_cast<int64_t>(i));
      else next[static_cast<size_t>(tail[id])] = static_cast<int64_t>(i), tail[id] = static_cast<int64_t>(i);
    }
    auto rows_of = [&](int64_t id, auto f) {
      for (int64_t r = head[static_cast<size_t>(id)]; r >= 0; r = next[static_cast<size_t>(r)]) f(static_cast<uint32_t>(r));
    };
    std::vector<int64_t> lrows, rrows;  // -1 = no row on that side
    std::vector<uint8_t> rmatched(right.rows, 0);
    KeyIndex seen_left;
    size_t next_check = kCheckEvery;
    for (size_t i = 0; i < left.rows; ++i) {
      if (i % kCheckEvery == 0 || lrows.size() >= next_check) {
        WARD_RETURN_IF_ERROR(CheckLimits());
        if (lrows.size() > opt_.max_join_rows) return Err(ResourceExhausted("Query stopped due to excessive resource consumption."));
        next_check = lrows.size() + kCheckEvery;
      }
      bool has_key = RowKey(lk, i, &key);
      bool fresh = true;
      if (kind == JoinKind::kInnerUnique && has_key && (seen_left.Insert(key, &fresh), !fresh)) continue;  // one left row per key
      const int64_t id = has_key ? rindex.Find(key) : -1;
      const bool match = id >= 0;
      switch (kind) {
        case JoinKind::kLeftSemi:
          if (match) lrows.push_back(static_cast<int64_t>(i)), rrows.push_back(-1);
          break;
        case JoinKind::kLeftAnti:
          if (!match) lrows.push_back(static_cast<int64_t>(i)), rrows.push_back(-1);
          break;
        case JoinKind::kRightSemi:
        case JoinKind::kRightAnti:
          if (match) rows_of(id, [&](uint32_t r) { rmatched[r] = 1; });
          break;
        default:
          if (match) {
            rows_of(id, [&](uint32_t r) {
              lrows.push_back(static_cast<int64_t>(i)), rrows.push_back(r);
              rmatched[r] = 1;
            });
          } else if (kind == JoinKind::kLeftOuter || kind == JoinKind::kFullOuter) {
            lrows.push_back(static_cast<int64_t>(i)), rrows.push_back(-1);
          }
      }
    }
    if (kind == JoinKind::kRightOuter || kind == JoinKind::kFullOuter || kind == JoinKind::kRightSemi || kind == JoinKind::kRightAnti) {
      for (size_t r = 0; r < right.rows; ++r) {
        bool want = kind == JoinKind::kRightSemi ? rmatched[r] != 0 : !rmatched[r];
        if (want) lrows.push_back(-1), rrows.push_back(static_cast<int64_t>(r));
      }
    }
    Table out;
    out.rows = lrows.size();
    auto side = [&](const Table& t, const std::vector<int64_t>& rows, const Schema& s, const std::vector<std::string>* rename) -> Status {
      for (size_t k = 0; k < s.names.size(); ++k) {
        std::string name = rename ? (*rename)[k] : s.names[k];
        if (name.empty()) continue;
        int ci = t.Find(s.names[k]);
        Column c = NewColumn(s.types[k], rows.size());
        for (int64_t r : rows) {
          if (r < 0 || ci < 0) AppendNull(c);
          else AppendFrom(c, *t.cols[ci], static_cast<size_t>(r));
        }
        if (Status st = CheckLimits(); !st.ok()) return st;
        out.Add(name, std::make_shared<const Column>(std::move(c)));
      }
      return Status::Ok();
    };
    const bool left_cols = kind != JoinKind::kRightSemi && kind != JoinKind::kRightAnti;
    const bool right_cols = kind != JoinKind::kLeftSemi && kind != JoinKind::kLeftAnti;
    if (left_cols) WARD_RETURN_IF_ERROR(side(left, lrows, p.inputs[0]->schema, nullptr));
    if (right_cols) WARD_RETURN_IF_ERROR(side(right, rrows, p.inputs[1]->schema, &p.right_names));
    // Open (bag_unpack) inputs: columns beyond the bound schema pass through by name.
    if (left_cols && p.inputs[0]->schema.open) {
      for (size_t k = 0; k < left.names.size(); ++k) {
        if (out.Find(left.names[k]) >= 0) continue;
        Column c = NewColumn(left.cols[k]->type, lrows.size());
        for (int64_t r : lrows) {
          if (r < 0) AppendNull(c);
          else AppendFrom(c, *left.cols[k], static_cast<size_t>(r));
        }
        out.Add(left.names[k], std::make_shared<const Column>(std::move(c)));
      }
    }
    return out;
  }

  Result<Table> Union(const Plan& p) {
    std::vector<Table> parts;
    for (size_t i = 0; i < p.inputs.size(); ++i) {
      WARD_ASSIGN_OR_RETURN(Table t, RunPlan(*p.inputs[i]));
      Table aligned;
      aligned.rows = t.rows;
      for (size_t k = 0; k < p.schema.names.size(); ++k) {
        const std::string& n = p.schema.names[k];
        if (n == p.union_source && !n.empty()) {
          aligned.Add(n, Materialize(std::make_shared<const Column>(Broadcast(Scalar::Str(p.union_labels[i]))), t.rows));
          continue;
        }
        int ci = t.Find(n);
        if (ci < 0) {
          aligned.Add(n, std::make_shared<const Column>(NullColumn(p.schema.types[k], t.rows)));
        } else if (t.cols[ci]->type != p.schema.types[k]) {
          Column c = NewColumn(p.schema.types[k], t.rows);
          for (size_t r = 0; r < t.rows; ++r) AppendFrom(c, *t.cols[ci], r);
          aligned.Add(n, std::make_shared<const Column>(std::move(c)));
        } else {
          aligned.Add(n, t.cols[ci]);
        }
      }
      if (p.schema.open) {
        for (size_t k = 0; k < t.names.size(); ++k) {
          if (aligned.Find(t.names[k]) < 0) aligned.Add(t.names[k], t.cols[k]);
        }
      }
      parts.push_back(std::move(aligned));
    }
    if (parts.empty()) return EmptyTable(p.schema);
    return Concat(parts, &p.schema);
  }

  Result<Table> BagUnpack(const Plan& p, const Table& in) {
    int bc = in.Find(p.bag_column);
    Table out;
    out.rows = in.rows;
    for (size_t k = 0; k < in.names.size(); ++k) {
      if (static_cast<int>(k) != bc) out.Add(in.names[k], in.cols[k]);
    }
    if (bc < 0) return out;
    std::vector<std::string> keys;
    std::unordered_map<std::string, size_t> key_index;
    std::vector<std::optional<json::Value>> bags(in.rows);
    for (size_t i = 0; i < in.rows; ++i) {
      const Column& c = *in.cols[bc];
      if (IsNull(c, i)) continue;
      auto v = json::Value::Parse(c.strings[At(c, i)]);
      if (!v || !v->is_object()) continue;
      for (const auto& m : v->members()) {
        if (key_index.emplace(m.key, keys.size()).second) keys.push_back(m.key);
      }
      bags[i] = std::move(*v);
    }
    for (const std::string& key : keys) {
      Column c = NewColumn(Type::kDynamic, in.rows);
      for (size_t i = 0; i < in.rows; ++i) {
        const json::Value* v = bags[i] ? bags[i]->Find(key) : nullptr;
        if (!v || v->is_null()) AppendNull(c);
        else c.strings.push_back(v->Serialize()), c.nulls.push_back(0);
      }
      std::string name = p.bag_prefix + key;
      if (out.Find(name) >= 0) name += "1";
      out.Add(name, std::make_shared<const Column>(std::move(c)));
    }
    return out;
  }

  const QueryOptions& opt_;
  events::EventStore& store_;
  const events::SchemaRegistry& reg_;
  EvalContext ctx_;
  std::chrono::steady_clock::time_point start_;
  std::unordered_map<const Plan*, int> refs_;
  std::set<const Plan*> prepared_;
  std::set<std::pair<const Plan*, std::string>> pruned_;
  std::mutex cache_mu_;
  std::unordered_map<const Plan*, Table> cache_;
  std::mutex stats_mu_;
  events::ScanStats stats_;
  std::atomic<uint64_t> bytes_read_{0};
};

}  // namespace

Result<QueryResult> Execute(const BoundQuery& query, const QueryOptions& options, int64_t now_ticks, events::EventStore& store,
                            const events::SchemaRegistry& registry) {
  Executor ex(options, now_ticks, store, registry);
  return ex.Run(query);
}

}  // namespace ward::kql
