#include "kql/binder.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "json/json.h"
#include "kql/executor.h"
#include "kql/functions.h"
#include "kql/parser.h"

namespace ward::kql {

extern const char kPreludeKql[];  // generated from prelude.kql

int Schema::Find(std::string_view n) const {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == n) return static_cast<int>(i);
  }
  return -1;
}

namespace {

// Functions Kusto has that this engine does not implement: named as not supported, never as unknown.
bool IsKnownUnsupportedFunction(std::string_view n) {
  static const std::set<std::string_view> k = {
      "parse_xml", "parse_path", "parse_user_agent", "parse_version", "bag_merge",
      "series_decompose", "make_series", "geo_info_from_ip_address", "ipv6_compare", "ipv6_is_match",
      "bin_at", "zip", "array_sort_asc", "array_sort_desc",
      "DeviceFromIP", "AssignedIPAddresses", "SeenBy", "todecimal", "treepath", "dcount_hll", "hll", "tdigest",
      "cursor_after", "ingestion_time", "current_principal", "estimate_data_size", "pack_all", "unixtime_seconds_todatetime",
      "unixtime_milliseconds_todatetime", "make_timespan", "make_datetime", "week_of_year", "arg_max_if", "dynamic_to_json",
      "bag_remove_keys", "has_any_index", "translate", "url_encode_component", "strrep", "split_string", "toarray"};
  return k.count(n) > 0;
}

std::string Loc(const Pos& p) { return " (line " + std::to_string(p.line) + ", column " + std::to_string(p.column) + ")"; }

struct Symbol {
  enum class Kind { kScalar, kTabular, kLambda };
  Kind kind = Kind::kScalar;
  BExpr scalar;
  PlanPtr plan;
  NodePtr lambda;
  // The scope the lambda was defined in. Weak: the symbol is stored in that very scope, so a
  // shared_ptr would be a cycle (every `let f = (...) {...}` leaked its scopes and AST).
  std::weak_ptr<struct Scope> closure;
};

struct Scope {
  std::unordered_map<std::string, Symbol> syms;
  std::shared_ptr<Scope> parent;
  const Symbol* Find(const std::string& n) const {
    for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
      auto it = s->syms.find(n);
      if (it != s->syms.end()) return &it->second;
    }
    return nullptr;
  }
};
using ScopePtr = std::shared_ptr<Scope>;

// Either a tabular plan or a scalar expression (let values, function bodies).
struct Bound {
  PlanPtr plan;
  BExpr expr;
};

BExpr Const(Scalar v, const Pos& p) {
  auto e = std::make_shared<BoundExpr>();
  e->kind = BoundExpr::Kind::kConst;
  e->type = v.type;
  e->value = std::move(v);
  e->pos = p;
  return e;
}
BExpr ColumnRef(std::string name, Type t, const Pos& p) {
  auto e = std::make_shared<BoundExpr>();
  e->kind = BoundExpr::Kind::kColumn;
  e->column = std::move(name);
  e->type = t;
  e->pos = p;
  return e;
}

bool HasWildcard(const std::string& s) { return s.find('*') != std::string::npos; }
// Glob match with '*' only. Greedy with one backtrack point (the last '*'), so it is O(|pat|·|s|)
// at worst; the naive recursion was exponential in the number of stars (a fuzzer found it).
bool WildMatch(std::string_view pat, std::string_view s) {
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pat.size() && pat[p] == s[i]) {
      ++p;
      ++i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

// The column name Kusto gives an unnamed expression: a column keeps its name, d.a → d_a,
// bin(X, …)/floor(X, …) → X; anything else has none (ColumnN).
std::string DeriveName(const Node& n) {
  switch (n.kind) {
    case NodeKind::kName: return n.name;
    case NodeKind::kMember: {
      std::string base = DeriveName(*n.args[0]);
      return base.empty() ? "" : base + "_" + n.name;
    }
    case NodeKind::kIndex: {
      std::string base = DeriveName(*n.args[0]);
      const Node& k = *n.args[1];
      if (base.empty() || k.kind != NodeKind::kLiteral) return "";
      if (k.literal.type == Type::kString) return base + "_" + k.literal.s;
      return base + "_" + std::to_string(k.literal.i);
    }
    case NodeKind::kCall: {
      // Kusto's ResultNameKind: bin-like and conversion functions take their first argument's
      // name; an aggregate inside an expression (tostring(make_set(X))) names it set_X.
      static const std::set<std::string_view> first_argument = {
          "bin", "floor", "bin_at", "tostring", "toint", "tolong", "toreal", "todouble", "tobool", "toboolean",
          "todatetime", "totimespan", "todecimal", "toguid", "todynamic", "toobject"};
      if (n.args.empty()) return n.name == "count" ? "count_" : "";
      if (first_argument.count(n.name)) return DeriveName(*n.args[0]);
      if (const AggregateDef* agg = FindAggregate(n.name); agg && !agg->prefix.empty() && n.args[0]->kind != NodeKind::kStar) {
        std::string base = DeriveName(*n.args[0]);
        return agg->predicate_arg == 0 ? std::string(agg->prefix) : base.empty() ? "" : std::string(agg->prefix) + base;
      }
      return "";
    }
    default: return "";
  }
}

// mv-expand names `parse_json(X)` after X.
std::string DeriveExpandName(const Node& n) {
  std::string d = DeriveName(n);
  if (d.empty() && n.kind == NodeKind::kCall && n.args.size() == 1) return DeriveExpandName(*n.args[0]);
  return d;
}

// The prelude's functions (prelude.kql), parsed once: the outermost scope of every query.
ScopePtr PreludeScope() {
  static const ScopePtr scope = [] {
    auto s = std::make_shared<Scope>();
    auto q = Parse(kPreludeKql);
    if (!q) return s;  // a broken prelude fails the golden tests, never a user's query
    for (const NodePtr& st : q->statements) {
      if (st->kind != NodeKind::kLet || st->args[0]->kind != NodeKind::kLambda) continue;
      Symbol sym;
      sym.kind = Symbol::Kind::kLambda;
      sym.lambda = st->args[0];
      sym.closure = s;
      s->syms[st->name] = std::move(sym);
    }
    return ScopePtr(s);
  }();
  return scope;
}

class Binder {
 public:
  Binder(const events::SchemaRegistry& reg, const BindOptions& opt, QueryError* err) : reg_(reg), opt_(opt), err_(err) {
    ctx_.now_ticks = opt.now_ticks;
  }

  Result<BoundQuery> Run(const Query& q) {
    auto scope = std::make_shared<Scope>();
    scope->parent = PreludeScope();
    WARD_ASSIGN_OR_RETURN(Bound b, BindBody(q.statements, scope, Schema{}));
    if (!b.plan) {
      return Err(Fail(q.statements.back()->pos, "A query must end with a tabular expression; use print for scalar values"));
    }
    BoundQuery out;
    out.plan = b.plan;
    out.render = render_;
    return out;
  }

 private:
  Status Fail(const Pos& p, const std::string& msg) {
    std::string full = (op_.empty() ? "" : "'" + op_ + "' operator: ") + msg;
    if (err_ && !failed_) *err_ = QueryError{p.line, p.column, full};
    failed_ = true;
    return InvalidArgument(full + Loc(p));
  }
  Status Unsupported(const Pos& p, const std::string& what) {
    std::string full = "'" + what + "' is not supported";
    if (err_ && !failed_) *err_ = QueryError{p.line, p.column, full};
    failed_ = true;
    return InvalidArgument(full + Loc(p));
  }

  Status UnsupportedOperator(const Pos& p, const std::string& name) {
    std::string full = "'" + name + "' operator is not supported";
    if (err_ && !failed_) *err_ = QueryError{p.line, p.column, full};
    failed_ = true;
    return InvalidArgument(full + Loc(p));
  }

  struct OpGuard {
    Binder& b;
    std::string saved;
    OpGuard(Binder& binder, std::string op) : b(binder), saved(std::move(binder.op_)) { b.op_ = std::move(op); }
    ~OpGuard() { b.op_ = std::move(saved); }
  };

  // ---- statements and lets

  Result<Bound> BindBody(const std::vector<NodePtr>& stmts, ScopePtr scope, const Schema& row) {
    Bound last;
    bool have = false;
    for (const NodePtr& st : stmts) {
      if (st->kind == NodeKind::kLet) {
        WARD_RETURN_IF_ERROR(BindLet(*st, scope, row));
        continue;
      }
      if (st->kind == NodeKind::kOperator && st->name == "set") continue;
      if (have) return Err(Unsupported(st->pos, "multiple result sets"));
      WARD_ASSIGN_OR_RETURN(last, BindAny(st, scope, row));
      have = true;
    }
    if (!have) return Err(Fail(stmts.empty() ? Pos{} : stmts.back()->pos, "Expected a tabular expression after the let statements"));
    return last;
  }

  Status BindLet(const Node& let, ScopePtr scope, const Schema& row) {
    const NodePtr& v = let.args[0];
    Symbol s;
    if (v->kind == NodeKind::kLambda) {
      s.kind = Symbol::Kind::kLambda;
      s.lambda = v;
      s.closure = scope;
    } else {
      WARD_ASSIGN_OR_RETURN(Bound b, BindAny(v, scope, row));
      if (b.plan) {
        s.kind = Symbol::Kind::kTabular;
        b.plan->cache = true;  // referenced possibly several times: run once
        s.plan = b.plan;
      } else {
        s.scalar = b.expr;
      }
    }
    scope->syms[let.name] = std::move(s);
    return Status::Ok();
  }

  bool IsTabularNode(const NodePtr& n, const ScopePtr& scope) {
    switch (n->kind) {
      case NodeKind::kPipe:
      case NodeKind::kOperator:
      case NodeKind::kDatatable: return true;
      case NodeKind::kName: {
        const Symbol* s = scope->Find(n->name);
        if (s) return s->kind == Symbol::Kind::kTabular || IsView(*s);
        return reg_.Find(n->name) != nullptr;
      }
      case NodeKind::kCall: {
        if (n->name == "materialize" || n->name == "view") return true;
        const Symbol* s = scope->Find(n->name);
        if (s && s->kind == Symbol::Kind::kLambda) {
          const Node& lam = *s->lambda;
          return !lam.args.empty() && IsTabularNode(lam.args.back(), s->closure.lock());
        }
        return false;
      }
      default: return false;
    }
  }

  Result<Bound> BindAny(const NodePtr& n, ScopePtr scope, const Schema& row) {
    Bound b;
    if (n->kind == NodeKind::kCall) {
      const Symbol* s = scope->Find(n->name);
      if (s && s->kind == Symbol::Kind::kLambda) return BindLambdaCall(*s, *n, nullptr, scope, row);
    }
    if (IsTabularNode(n, scope)) {
      WARD_ASSIGN_OR_RETURN(b.plan, BindTabular(n, scope));
    } else {
      WARD_ASSIGN_OR_RETURN(b.expr, BindScalar(n, row, scope));
    }
    return b;
  }

  static bool IsView(const Symbol& s) { return s.kind == Symbol::Kind::kLambda && s.lambda->flag && s.lambda->names.empty(); }

  Result<Bound> BindLambdaCall(const Symbol& sym, const Node& call, PlanPtr invoke_input, ScopePtr caller, const Schema& row) {
    if (++lambda_depth_ > 64) return Err(Fail(call.pos, "Function calls are nested too deeply (recursion is not supported)"));
    struct DepthRestore {
      int& d;
      ~DepthRestore() { --d; }
    } restore{lambda_depth_};
    const Node& lam = *sym.lambda;
    auto scope = std::make_shared<Scope>();
    scope->parent = sym.closure.lock();
    size_t argi = 0;
    const size_t nparams = lam.names.size();
    size_t given = call.args.size() + (invoke_input ? 1 : 0);
    if (given > nparams) return Err(Fail(call.pos, "Function '" + call.name + "' expects " + std::to_string(nparams) + " arguments"));
    for (size_t p = 0; p < nparams; ++p) {
      Symbol ps;
      const bool tabular = !lam.types[p].empty() && lam.types[p][0] == '(';
      NodePtr arg;
      if (p == 0 && invoke_input) {
        ps.kind = Symbol::Kind::kTabular;
        ps.plan = invoke_input;
        scope->syms[lam.names[p]] = std::move(ps);
        continue;
      }
      bool given_here = false;
      if (const NodePtr* named = NamedArgument(call, lam.names[p])) {
        arg = (*named)->args[0], given_here = true;
      } else if (argi < call.args.size() && call.args[argi]->kind != NodeKind::kAssign) {
        arg = call.args[argi++], given_here = true;
      } else if (lam.defaults[p]) {
        arg = lam.defaults[p];
      }
      else return Err(Fail(call.pos, "Function '" + call.name + "': no value for parameter '" + lam.names[p] + "'"));
      if (tabular) {
        ps.kind = Symbol::Kind::kTabular;
        WARD_ASSIGN_OR_RETURN(ps.plan, BindTabular(arg, caller));
      } else {
        const ScopePtr& arg_scope = given_here ? caller : sym.closure.lock();
        WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(arg, row, arg_scope));
        // Declared parameter types convert their argument (f(x:string) called with a long).
        if (auto t = ParseTypeName(lam.types[p]); t && *t != e->type && *t != Type::kDynamic && e->type != Type::kDynamic) {
          WARD_ASSIGN_OR_RETURN(e, Convert(e, *t));
        }
        ps.scalar = e;
      }
      scope->syms[lam.names[p]] = std::move(ps);
    }
    for (const NodePtr& a : call.args) {
      if (a->kind == NodeKind::kAssign && std::find(lam.names.begin(), lam.names.end(), a->names[0]) == lam.names.end()) {
        return Err(Fail(a->pos, "Function '" + call.name + "' has no parameter named '" + a->names[0] + "'"));
      }
    }
    return BindBody(lam.args, scope, row);
  }

  // f(name=value): the argument given for a parameter by name, if any.
  static const NodePtr* NamedArgument(const Node& call, const std::string& param) {
    for (const NodePtr& a : call.args) {
      if (a->kind == NodeKind::kAssign && a->names.size() == 1 && a->names[0] == param) return &a;
    }
    return nullptr;
  }

  Result<BExpr> Convert(BExpr e, Type t) {
    const char* fn = t == Type::kString ? "tostring" : t == Type::kLong ? "tolong" : t == Type::kInt ? "toint" : t == Type::kReal ? "toreal"
                   : t == Type::kBool ? "tobool" : t == Type::kDateTime ? "todatetime" : t == Type::kTimespan ? "totimespan" : nullptr;
    if (!fn) return e;
    return Call(FindFunction(fn), {e}, e->pos);
  }

  Result<BExpr> Call(const FunctionDef* fn, std::vector<BExpr> args, const Pos& p) {
    std::vector<Type> types;
    for (const BExpr& a : args) types.push_back(a->type);
    auto t = fn->result(types);
    if (!t) return Err(Fail(p, t.error().message()));
    auto e = std::make_shared<BoundExpr>();
    e->kind = BoundExpr::Kind::kCall;
    e->fn = fn;
    e->args = std::move(args);
    e->type = *t;
    e->pos = p;
    return BExpr(e);
  }

  // ---- tabular expressions

  PlanPtr ScanOf(const events::TableDef& t) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::kScan;
    p->table = t.name;
    p->request.table = t.name;
    for (const auto& c : t.columns) p->schema.Add(c.name, FromColumnType(c.type));
    return p;
  }

  Result<PlanPtr> BindTabular(const NodePtr& n, ScopePtr scope) {
    switch (n->kind) {
      case NodeKind::kPipe: {
        WARD_ASSIGN_OR_RETURN(PlanPtr in, BindTabular(n->args[0], scope));
        return BindOperator(*n->args[1], in, scope);
      }
      case NodeKind::kName: {
        if (const Symbol* s = scope->Find(n->name)) {
          if (s->kind == Symbol::Kind::kTabular) return s->plan;
          if (IsView(*s)) {
            // A view is referenced by its bare name, like a table.
            auto call = std::make_shared<Node>(*n);
            call->kind = NodeKind::kCall;
            WARD_ASSIGN_OR_RETURN(Bound b, BindLambdaCall(*s, *call, nullptr, scope, Schema{}));
            if (b.plan) return b.plan;
          }
          return Err(Fail(n->pos, "'" + n->name + "' is not a tabular expression"));
        }
        if (const events::TableDef* t = reg_.Find(n->name)) return ScanOf(*t);
        return Err(Fail(n->pos, "Failed to resolve table or column expression named '" + n->name + "'"));
      }
      case NodeKind::kCall: {
        if (n->name == "materialize" || n->name == "view") {
          if (n->args.size() != 1) return Err(Fail(n->pos, n->name + "() expects one tabular argument"));
          WARD_ASSIGN_OR_RETURN(PlanPtr p, BindTabular(n->args[0], scope));
          p->cache = true;
          return p;
        }
        if (const Symbol* s = scope->Find(n->name); s && s->kind == Symbol::Kind::kLambda) {
          WARD_ASSIGN_OR_RETURN(Bound b, BindLambdaCall(*s, *n, nullptr, scope, Schema{}));
          if (!b.plan) return Err(Fail(n->pos, "Function '" + n->name + "' does not return a table"));
          return b.plan;
        }
        if (IsKnownUnsupportedFunction(n->name)) return Err(Unsupported(n->pos, n->name));
        return Err(Fail(n->pos, "Failed to resolve table or column expression named '" + n->name + "'"));
      }
      case NodeKind::kOperator: return BindOperator(*n, nullptr, scope);
      case NodeKind::kDatatable: return BindDatatable(*n, scope);
      default: return Err(Fail(n->pos, "Expected a tabular expression"));
    }
  }

  Result<PlanPtr> BindDatatable(const Node& n, ScopePtr scope) {
    OpGuard g(*this, "datatable");
    Table t;
    std::vector<Column> cols;
    Schema schema;
    for (size_t k = 0; k < n.names.size(); ++k) {
      auto ty = ParseTypeName(n.types[k]);
      if (!ty) return Err(Fail(n.pos, "Unknown type '" + n.types[k] + "'"));
      cols.push_back(NewColumn(*ty));
      schema.Add(n.names[k], *ty);
    }
    if (cols.empty()) return Err(Fail(n.pos, "datatable needs at least one column"));
    if (n.args.size() % cols.size() != 0) return Err(Fail(n.pos, "The number of values is not a multiple of the number of columns"));
    for (size_t k = 0; k < n.args.size(); ++k) {
      WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(n.args[k], Schema{}, scope));
      auto v = EvalConstant(e, ctx_);
      if (!v) return Err(Fail(n.args[k]->pos, "datatable values must be constants"));
      AppendScalar(cols[k % cols.size()], *v);
    }
    for (size_t k = 0; k < cols.size(); ++k) t.Add(schema.names[k], std::make_shared<const Column>(std::move(cols[k])));
    t.rows = n.args.size() / schema.names.size();
    return Values(std::move(t), std::move(schema));
  }

  PlanPtr Values(Table t, Schema s) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::kValues;
    p->values = std::make_shared<const Table>(std::move(t));
    p->schema = std::move(s);
    return p;
  }

  PlanPtr Unary(Plan::Kind k, PlanPtr in, Schema s) {
    auto p = std::make_shared<Plan>();
    p->kind = k;
    p->inputs.push_back(std::move(in));
    p->schema = std::move(s);
    return p;
  }

  // A unique output name: `base`, or base1, base2 … when taken.
  static std::string Unique(const Schema& s, const std::string& base) {
    if (s.Find(base) < 0) return base;
    for (int k = 1;; ++k) {
      std::string c = base + std::to_string(k);
      if (s.Find(c) < 0) return c;
    }
  }
  static std::string NextColumnName(const Schema& s, int* counter) {
    while (true) {
      std::string c = "Column" + std::to_string(++*counter);
      if (s.Find(c) < 0) return c;
    }
  }

  Result<PlanPtr> BindOperator(const Node& op, PlanPtr in, ScopePtr scope) {
    OpGuard g(*this, op.name);
    const std::string& name = op.name;
    auto need_input = [&]() -> Status {
      if (!in) return Fail(op.pos, "The operator needs a tabular input");
      return Status::Ok();
    };
    if (name == "where" || name == "filter") {
      WARD_RETURN_IF_ERROR(need_input());
      WARD_ASSIGN_OR_RETURN(BExpr pred, BindScalar(op.args[0], in->schema, scope));
      if (pred->type != Type::kBool && pred->type != Type::kDynamic) {
        return Err(Fail(op.args[0]->pos, std::string("The predicate must be of type bool, not ") + TypeName(pred->type)));
      }
      auto p = Unary(Plan::Kind::kFilter, in, in->schema);
      p->predicate = pred;
      return p;
    }
    if (name == "project") return BindProject(op, in, scope);
    if (name == "extend" || name == "serialize") {
      WARD_RETURN_IF_ERROR(need_input());
      WARD_ASSIGN_OR_RETURN(PlanPtr p, BindExtend(op.args, in, scope));
      if (name == "serialize") p->serialized = true;
      return p;
    }
    if (name == "project-away" || name == "project-keep" || name == "project-reorder") return BindProjectPatterns(op, in);
    if (name == "project-rename") return BindRename(op, in);
    if (name == "summarize") return BindSummarize(op, in, scope);
    if (name == "count") {
      WARD_RETURN_IF_ERROR(need_input());
      AggSpec a;
      a.def = FindAggregate("count");
      a.names = {op.text.empty() ? "Count" : op.text};
      a.types = {Type::kLong};
      auto p = Unary(Plan::Kind::kSummarize, in, Schema{});
      p->schema.Add(a.names[0], Type::kLong);
      p->aggs.push_back(std::move(a));
      return p;
    }
    if (name == "distinct") return BindDistinct(op, in, scope);
    if (name == "take" || name == "limit") {
      WARD_RETURN_IF_ERROR(need_input());
      WARD_ASSIGN_OR_RETURN(int64_t n, ConstLong(op.args[0], scope));
      auto p = Unary(Plan::Kind::kTake, in, in->schema);
      p->limit = std::max<int64_t>(0, n);
      return p;
    }
    if (name == "sort" || name == "order" || name == "top") {
      WARD_RETURN_IF_ERROR(need_input());
      auto p = Unary(Plan::Kind::kSort, in, in->schema);
      for (const NodePtr& k : op.by) {
        SortKey sk;
        WARD_ASSIGN_OR_RETURN(sk.expr, BindScalar(k->args[0], in->schema, scope));
        sk.asc = k->flag;
        sk.nulls_first = k->nulls == 0 ? sk.asc : k->nulls == 1;
        p->sort.push_back(std::move(sk));
      }
      if (name != "top") return p;
      WARD_ASSIGN_OR_RETURN(int64_t n, ConstLong(op.args[0], scope));
      auto t = Unary(Plan::Kind::kTake, p, in->schema);
      t->limit = std::max<int64_t>(0, n);
      return t;
    }
    if (name == "join" || name == "lookup") return BindJoin(op, in, scope);
    if (name == "union") return BindUnion(op, in, scope);
    if (name == "find" || name == "search") return BindFindOrSearch(op, in, scope);
    if (name == "top-nested") return BindTopNested(op, in, scope);
    if (name == "mv-expand" || name == "mvexpand") return BindMvExpand(op, in, scope);
    if (name == "parse") return BindParse(op, in, scope);
    if (name == "evaluate") {
      WARD_RETURN_IF_ERROR(need_input());
      const Node& call = *op.args[0];
      if (call.kind != NodeKind::kCall) return Err(Fail(call.pos, "Expected a plugin call"));
      if (call.name != "bag_unpack") return Err(Unsupported(call.pos, "evaluate " + call.name));
      if (call.args.empty() || call.args[0]->kind != NodeKind::kName) return Err(Fail(call.pos, "bag_unpack() expects a column"));
      const std::string& col = call.args[0]->name;
      if (in->schema.Find(col) < 0 && !in->schema.open) return Err(Fail(call.args[0]->pos, "Failed to resolve scalar expression named '" + col + "'"));
      Schema s;
      for (size_t k = 0; k < in->schema.names.size(); ++k) {
        if (in->schema.names[k] != col) s.Add(in->schema.names[k], in->schema.types[k]);
      }
      s.open = true;
      auto p = Unary(Plan::Kind::kBagUnpack, in, s);
      p->bag_column = col;
      if (call.args.size() > 1) {
        WARD_ASSIGN_OR_RETURN(BExpr pre, BindScalar(call.args[1], Schema{}, scope));
        auto v = EvalConstant(pre, ctx_);
        if (!v) return Err(Fail(call.args[1]->pos, "bag_unpack(): the prefix must be a constant string"));
        p->bag_prefix = v->s;
      }
      return p;
    }
    if (name == "invoke") {
      WARD_RETURN_IF_ERROR(need_input());
      const Node& call = *op.args[0];
      const Symbol* s = call.kind == NodeKind::kCall ? scope->Find(call.name) : nullptr;
      if (!s || s->kind != Symbol::Kind::kLambda) {
        if (call.kind == NodeKind::kCall && IsKnownUnsupportedFunction(call.name)) return Err(Unsupported(call.pos, call.name));
        return Err(Fail(call.pos, "Failed to resolve function '" + call.name + "'"));
      }
      WARD_ASSIGN_OR_RETURN(Bound b, BindLambdaCall(*s, call, in, scope, Schema{}));
      if (!b.plan) return Err(Fail(call.pos, "Function '" + call.name + "' does not return a table"));
      return b.plan;
    }
    if (name == "render") {
      WARD_RETURN_IF_ERROR(need_input());
      render_ = op.text;
      return in;
    }
    if (name == "as") {
      WARD_RETURN_IF_ERROR(need_input());
      return in;
    }
    if (name == "getschema") {
      WARD_RETURN_IF_ERROR(need_input());
      Column n = NewColumn(Type::kString), ord = NewColumn(Type::kInt), dt = NewColumn(Type::kString), ct = NewColumn(Type::kString);
      for (size_t k = 0; k < in->schema.names.size(); ++k) {
        AppendScalar(n, Scalar::Str(in->schema.names[k]));
        AppendScalar(ord, Scalar::Int(static_cast<int64_t>(k)));
        AppendScalar(dt, Scalar::Str(std::string("System.") + MdeTypeName(in->schema.types[k])));
        AppendScalar(ct, Scalar::Str(TypeName(in->schema.types[k])));
      }
      Table t;
      Schema s;
      size_t rows = n.nulls.size();
      for (auto&& [nm, col, ty] : {std::tuple{"ColumnName", &n, Type::kString}, std::tuple{"ColumnOrdinal", &ord, Type::kInt},
                                   std::tuple{"DataType", &dt, Type::kString}, std::tuple{"ColumnType", &ct, Type::kString}}) {
        t.Add(nm, std::make_shared<const Column>(std::move(*col)));
        s.Add(nm, ty);
      }
      t.rows = rows;
      return Values(std::move(t), std::move(s));
    }
    if (name == "print") {
      Table one;
      one.rows = 1;
      PlanPtr base = Values(std::move(one), Schema{});
      auto p = Unary(Plan::Kind::kProject, base, Schema{});
      int k = 0;
      for (const NodePtr& item : op.args) {
        std::string out;
        NodePtr e = item;
        if (item->kind == NodeKind::kAssign) out = item->names[0], e = item->args[0];
        if (out.empty()) out = "print_" + std::to_string(k);
        ++k;
        WARD_ASSIGN_OR_RETURN(BExpr be, BindScalar(e, Schema{}, scope));
        p->schema.Add(out, be->type);
        p->exprs.emplace_back(out, be);
      }
      return p;
    }
    if (name == "range") {
      // A source, not a pipe operator (`T | range …` parses as an unknown operator named range).
      if (in || op.args.size() != 3) return Err(Fail(op.pos, "range expects: range Column from Start to Stop step Step"));
      std::vector<Scalar> v;
      for (const NodePtr& a : op.args) {
        WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(a, Schema{}, scope));
        auto c = EvalConstant(e, ctx_);
        if (!c || c->null) return Err(Fail(a->pos, "range bounds must be constants"));
        v.push_back(*c);
      }
      const bool real = v[0].type == Type::kReal || v[2].type == Type::kReal;
      Column c = NewColumn(real ? Type::kReal : v[0].type == Type::kInt ? Type::kLong : v[0].type);
      if (real) {
        double a = v[0].type == Type::kReal ? v[0].r : static_cast<double>(v[0].i), b = v[1].type == Type::kReal ? v[1].r : static_cast<double>(v[1].i);
        double s = v[2].type == Type::kReal ? v[2].r : static_cast<double>(v[2].i);
        if (!(s > 0) && !(s < 0)) return Err(Fail(op.pos, "range step must not be 0"));
        for (double x = a; (s > 0 ? x <= b : x >= b); x += s) {
          if (c.nulls.size() >= opt_.max_range_rows) return Err(Fail(op.pos, "range produces too many rows"));
          AppendScalar(c, Scalar::Real(x));
        }
      } else {
        int64_t a = v[0].i, b = v[1].i, s = v[2].i;
        if (s == 0) return Err(Fail(op.pos, "range step must not be 0"));
        for (int64_t x = a; (s > 0 ? x <= b : x >= b); x += s) {
          if (c.nulls.size() >= opt_.max_range_rows) return Err(Fail(op.pos, "range produces too many rows"));
          Scalar sc = v[0];
          sc.i = x;
          sc.type = c.type;
          AppendScalar(c, sc);
          if ((s > 0 && x > INT64_MAX - s) || (s < 0 && x < INT64_MIN - s)) break;
        }
      }
      Table t;
      Schema s;
      Type ty = c.type;
      t.rows = c.nulls.size();
      t.Add(op.names[0], std::make_shared<const Column>(std::move(c)));
      s.Add(op.names[0], ty);
      return Values(std::move(t), std::move(s));
    }
    return Err(UnsupportedOperator(op.pos, name));
  }

  Result<int64_t> ConstLong(const NodePtr& n, ScopePtr scope) {
    WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(n, Schema{}, scope));
    auto v = EvalConstant(e, ctx_);
    if (!v || v->null || !(IntRep(v->type) || RealRep(v->type))) return Err(Fail(n->pos, "Expected a constant number"));
    return RealRep(v->type) ? static_cast<int64_t>(v->r) : v->i;
  }

  // `Name = expr` → (Name, expr); a bare expression gets its derived name ("" = ColumnN).
  Status SplitItem(const NodePtr& item, std::string* out, NodePtr* e) {
    *e = item;
    if (item->kind != NodeKind::kAssign) {
      *out = DeriveName(*item);
      return Status::Ok();
    }
    if (item->names.size() != 1) return Unsupported(item->pos, "tuple assignment");
    *out = item->names[0];
    *e = item->args[0];
    return Status::Ok();
  }

  Result<PlanPtr> BindProject(const Node& op, PlanPtr in, ScopePtr scope) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    auto p = Unary(Plan::Kind::kProject, in, Schema{});
    int counter = 0;
    for (const NodePtr& item : op.args) {
      if (item->kind == NodeKind::kStar) {
        for (size_t k = 0; k < in->schema.names.size(); ++k) {
          if (p->schema.Find(in->schema.names[k]) >= 0) continue;
          p->schema.Add(in->schema.names[k], in->schema.types[k]);
          p->exprs.emplace_back(in->schema.names[k], ColumnRef(in->schema.names[k], in->schema.types[k], item->pos));
        }
        continue;
      }
      std::string out;
      NodePtr e;
      WARD_RETURN_IF_ERROR(SplitItem(item, &out, &e));
      WARD_ASSIGN_OR_RETURN(BExpr be, BindScalar(e, in->schema, scope));
      if (out.empty()) out = NextColumnName(p->schema, &counter);
      if (p->schema.Find(out) >= 0) {
        if (item->kind == NodeKind::kAssign) return Err(Fail(item->pos, "Duplicate column name '" + out + "'"));
        out = Unique(p->schema, out);
      }
      p->schema.Add(out, be->type);
      p->exprs.emplace_back(out, be);
    }
    WARD_RETURN_IF_ERROR(CheckWindow(*p));
    return p;
  }

  // Window functions need the rows in a fixed order: after serialize, sort, top, range … and the
  // operators that keep order. The plan then evaluates over its whole input at once.
  static bool IsSerialized(const Plan& p) {
    if (p.serialized) return true;
    switch (p.kind) {
      case Plan::Kind::kSort:
      case Plan::Kind::kValues: return true;
      case Plan::Kind::kFilter:
      case Plan::Kind::kProject:
      case Plan::Kind::kExtend:
      case Plan::Kind::kTake:
      case Plan::Kind::kMvExpand:
      case Plan::Kind::kParse: return IsSerialized(*p.inputs[0]);
      default: return false;
    }
  }
  static const BoundExpr* FindWindowCall(const BoundExpr& e) {
    if (e.kind == BoundExpr::Kind::kCall && e.fn && IsWindowFunction(e.fn->name)) return &e;
    for (const BExpr& a : e.args) {
      if (const BoundExpr* w = FindWindowCall(*a)) return w;
    }
    return nullptr;
  }
  Status CheckWindow(Plan& p) {
    for (const auto& [n, e] : p.exprs) {
      const BoundExpr* w = FindWindowCall(*e);
      if (!w) continue;
      if (!IsSerialized(*p.inputs[0])) {
        return Fail(w->pos, "Function '" + std::string(w->fn->name) + "' cannot be invoked in current context. The row set must be serialized");
      }
      p.whole_input = true;
    }
    return Status::Ok();
  }

  Result<PlanPtr> BindExtend(const std::vector<NodePtr>& items, PlanPtr in, ScopePtr scope) {
    auto p = Unary(Plan::Kind::kExtend, in, in->schema);
    int counter = 0;
    for (const NodePtr& item : items) {
      std::string out;
      NodePtr e;
      WARD_RETURN_IF_ERROR(SplitItem(item, &out, &e));
      WARD_ASSIGN_OR_RETURN(BExpr be, BindScalar(e, p->schema, scope));
      if (out.empty()) out = NextColumnName(p->schema, &counter);
      // An unnamed expression whose derived name is taken (extend tostring(X)) gets a new column.
      if (item->kind != NodeKind::kAssign && item->kind != NodeKind::kName && p->schema.Find(out) >= 0) out = Unique(p->schema, out);
      int k = p->schema.Find(out);
      if (k >= 0) p->schema.types[k] = be->type;
      else p->schema.Add(out, be->type);
      p->exprs.emplace_back(out, be);
    }
    WARD_RETURN_IF_ERROR(CheckWindow(*p));
    return p;
  }

  Result<PlanPtr> BindProjectPatterns(const Node& op, PlanPtr in) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    std::vector<uint8_t> hit(in->schema.names.size(), 0);
    std::vector<size_t> order;  // project-reorder: listed columns first
    for (const NodePtr& pat : op.args) {
      bool any = false;
      for (size_t k = 0; k < in->schema.names.size(); ++k) {
        if (HasWildcard(pat->name) ? WildMatch(pat->name, in->schema.names[k]) : pat->name == in->schema.names[k]) {
          any = true;
          if (!hit[k]) order.push_back(k);
          hit[k] = 1;
        }
      }
      if (!any && !HasWildcard(pat->name) && !in->schema.open) {
        return Err(Fail(pat->pos, "Failed to resolve scalar expression named '" + pat->name + "'"));
      }
    }
    auto p = Unary(Plan::Kind::kProject, in, Schema{});
    auto add = [&](size_t k) {
      p->schema.Add(in->schema.names[k], in->schema.types[k]);
      p->exprs.emplace_back(in->schema.names[k], ColumnRef(in->schema.names[k], in->schema.types[k], op.pos));
    };
    if (op.name == "project-reorder") {
      for (size_t k : order) add(k);
      for (size_t k = 0; k < hit.size(); ++k) {
        if (!hit[k]) add(k);
      }
    } else {
      const bool keep = op.name == "project-keep";
      for (size_t k = 0; k < hit.size(); ++k) {
        if (static_cast<bool>(hit[k]) == keep) add(k);
      }
    }
    return p;
  }

  Result<PlanPtr> BindRename(const Node& op, PlanPtr in) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    std::vector<std::string> names = in->schema.names;
    for (const NodePtr& item : op.args) {
      if (item->kind != NodeKind::kAssign || item->args[0]->kind != NodeKind::kName) {
        return Err(Fail(item->pos, "Expected NewName = ExistingName"));
      }
      int k = in->schema.Find(item->args[0]->name);
      if (k < 0) return Err(Fail(item->args[0]->pos, "Failed to resolve scalar expression named '" + item->args[0]->name + "'"));
      names[k] = item->names[0];
    }
    auto p = Unary(Plan::Kind::kProject, in, Schema{});
    for (size_t k = 0; k < names.size(); ++k) {
      if (p->schema.Find(names[k]) >= 0) return Err(Fail(op.pos, "Duplicate column name '" + names[k] + "'"));
      p->schema.Add(names[k], in->schema.types[k]);
      p->exprs.emplace_back(names[k], ColumnRef(in->schema.names[k], in->schema.types[k], op.pos));
    }
    return p;
  }

  Result<PlanPtr> BindDistinct(const Node& op, PlanPtr in, ScopePtr scope) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    auto p = Unary(Plan::Kind::kSummarize, in, Schema{});
    int counter = 0;
    for (const NodePtr& item : op.args) {
      if (item->kind == NodeKind::kStar) {
        for (size_t k = 0; k < in->schema.names.size(); ++k) {
          p->schema.Add(in->schema.names[k], in->schema.types[k]);
          p->keys.emplace_back(in->schema.names[k], ColumnRef(in->schema.names[k], in->schema.types[k], item->pos));
        }
        continue;
      }
      WARD_RETURN_IF_ERROR(AddKey(*p, item, in->schema, scope, &counter));
    }
    return p;
  }

  Status AddKey(Plan& p, const NodePtr& item, const Schema& in, ScopePtr scope, int* counter) {
    std::string out;
    NodePtr e;
    WARD_RETURN_IF_ERROR(SplitItem(item, &out, &e));
    WARD_ASSIGN_OR_RETURN(BExpr be, BindScalar(e, in, scope));
    if (out.empty()) out = NextColumnName(p.schema, counter);
    if (p.schema.Find(out) >= 0) out = Unique(p.schema, out);
    p.schema.Add(out, be->type);
    p.keys.emplace_back(out, be);
    return Status::Ok();
  }

  Result<PlanPtr> BindSummarize(const Node& op, PlanPtr in, ScopePtr scope) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    auto p = Unary(Plan::Kind::kSummarize, in, Schema{});
    int counter = 0;
    for (const NodePtr& k : op.by) WARD_RETURN_IF_ERROR(AddKey(*p, k, in->schema, scope, &counter));
    // Expressions over aggregates (x = count() * 2, round(avg(X), 2)): every aggregate call inside
    // becomes a hidden column of the summarize and the expression an extend over its output; a
    // final project drops the hidden columns and restores the order the items were written in.
    struct Item {
      std::vector<std::string> outputs;  // aggregate item: its output columns
      std::string post_name;             // expression item: its name ("" = ColumnN)
      NodePtr post;                      // expression item: rewritten over the hidden columns
    };
    std::vector<Item> items;
    std::set<std::string> hidden;
    for (const NodePtr& item : op.args) {
      std::vector<std::string> names;
      NodePtr e = item;
      if (item->kind == NodeKind::kAssign) names = item->names, e = item->args[0];
      const AggregateDef* def = e->kind == NodeKind::kCall ? FindAggregate(e->name) : nullptr;
      Item it;
      if (def) {
        WARD_RETURN_IF_ERROR(AddAggregate(*p, *def, *e, names, in->schema, scope));
        it.outputs = p->aggs.back().names;
        items.push_back(std::move(it));
        continue;
      }
      if (e->kind == NodeKind::kCall && IsKnownUnsupportedFunction(e->name)) return Err(Unsupported(e->pos, e->name));
      if (e->kind == NodeKind::kCall && !FindFunction(e->name)) {
        return Err(Fail(e->pos, "Failed to resolve aggregate function '" + e->name + "'"));
      }
      if (names.size() > 1) return Err(Unsupported(item->pos, "tuple assignment"));
      int found = 0;
      WARD_ASSIGN_OR_RETURN(NodePtr lifted, LiftAggregates(e, *p, in->schema, scope, &hidden, &found));
      if (found == 0) return Err(Fail(e->pos, "Summarize expression must contain an aggregate function"));
      it.post_name = names.empty() ? DeriveName(*e) : names[0];
      it.post = std::move(lifted);
      items.push_back(std::move(it));
    }
    if (hidden.empty()) return p;
    auto ext = Unary(Plan::Kind::kExtend, p, p->schema);
    for (Item& it : items) {
      if (!it.post) continue;
      WARD_ASSIGN_OR_RETURN(BExpr be, BindScalar(it.post, ext->schema, scope));
      std::string out = it.post_name.empty() ? NextColumnName(ext->schema, &counter) : it.post_name;
      if (ext->schema.Find(out) >= 0) out = Unique(ext->schema, out);
      ext->schema.Add(out, be->type);
      ext->exprs.emplace_back(out, be);
      it.outputs = {out};
    }
    auto proj = Unary(Plan::Kind::kProject, ext, Schema{});
    auto keep = [&](const std::string& nm) {
      int k = ext->schema.Find(nm);
      proj->schema.Add(nm, ext->schema.types[k]);
      proj->exprs.emplace_back(nm, ColumnRef(nm, ext->schema.types[k], op.pos));
    };
    for (const auto& [nm, e] : p->keys) keep(nm);
    for (const Item& it : items) {
      for (const std::string& nm : it.outputs) keep(nm);
    }
    return proj;
  }

  // Replaces each aggregate call in `e` by a reference to a hidden output column of `p`.
  Result<NodePtr> LiftAggregates(const NodePtr& e, Plan& p, const Schema& in, ScopePtr scope, std::set<std::string>* hidden,
                                 int* found) {
    if (e->kind == NodeKind::kCall) {
      if (const AggregateDef* def = FindAggregate(e->name)) {
        std::string nm = Unique(p.schema, "__agg" + std::to_string(hidden->size() + 1));
        WARD_RETURN_IF_ERROR(AddAggregate(p, *def, *e, {nm}, in, scope));
        if (p.aggs.back().names.size() != 1) return Err(Unsupported(e->pos, e->name + "() inside an expression"));
        hidden->insert(p.aggs.back().names[0]);
        ++*found;
        auto ref = std::make_shared<Node>();
        ref->kind = NodeKind::kName;
        ref->pos = e->pos;
        ref->name = p.aggs.back().names[0];
        return NodePtr(ref);
      }
    }
    if (e->args.empty()) return e;
    auto copy = std::make_shared<Node>(*e);
    for (NodePtr& a : copy->args) {
      if (!a) continue;
      WARD_ASSIGN_OR_RETURN(a, LiftAggregates(a, p, in, scope, hidden, found));
    }
    return NodePtr(copy);
  }

  Status AddAggregate(Plan& p, const AggregateDef& def, const Node& call, const std::vector<std::string>& names, const Schema& in,
                      ScopePtr scope) {
    const int nargs = static_cast<int>(call.args.size());
    if (nargs < def.min_args || (def.max_args >= 0 && nargs > def.max_args)) {
      return Fail(call.pos, "Function '" + call.name + "' expects " + std::to_string(def.min_args) +
                                (def.max_args != def.min_args ? (def.max_args < 0 ? " or more" : " to " + std::to_string(def.max_args)) : "") +
                                " arguments");
    }
    AggSpec a;
    a.def = &def;
    std::vector<std::string> derived;  // per output
    const std::string_view n = def.name;
    const bool multi = n == "arg_max" || n == "argmax" || n == "arg_min" || n == "argmin" || n == "any" || n == "take_any";
    if (n == "count" && nargs == 1 && call.args[0]->kind != NodeKind::kStar) {
      return Fail(call.pos, "count() takes no argument; use countif() or dcount()");
    }
    for (int k = 0; k < nargs; ++k) {
      const NodePtr& arg = call.args[k];
      if (arg->kind == NodeKind::kStar) {
        if (n == "count") continue;
        if (!multi) return Fail(arg->pos, "'*' is not allowed here");
        for (size_t c = 0; c < in.names.size(); ++c) {
          a.args.push_back(ColumnRef(in.names[c], in.types[c], arg->pos));
          derived.push_back(in.names[c]);
        }
        continue;
      }
      WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(arg, in, scope));
      a.args.push_back(e);
      derived.push_back(DeriveName(*arg));
    }
    if (def.predicate_arg >= 0 && static_cast<size_t>(def.predicate_arg) < a.args.size() &&
        a.args[def.predicate_arg]->type != Type::kBool && a.args[def.predicate_arg]->type != Type::kDynamic) {
      return Fail(call.args[def.predicate_arg]->pos, std::string("The predicate of ") + std::string(n) + "() must be of type bool");
    }
    std::vector<Type> types;
    for (const BExpr& e : a.args) types.push_back(e->type);
    std::vector<std::string> outs;
    std::vector<Type> out_types;
    if (multi) {
      // Output every argument; `*` columns keep their names and skip ones already output.
      for (size_t k = 0; k < a.args.size(); ++k) {
        std::string nm = k < names.size() ? names[k] : derived[k];
        bool from_star = nargs > 0 && k >= static_cast<size_t>(nargs - 1) && call.args.back()->kind == NodeKind::kStar;
        if (from_star && (p.schema.Find(nm) >= 0 || std::find(outs.begin(), outs.end(), nm) != outs.end())) {
          a.args.erase(a.args.begin() + static_cast<long>(k));
          derived.erase(derived.begin() + static_cast<long>(k));
          --k;
          continue;
        }
        if (nm.empty()) nm = std::string(n) + "_";
        outs.push_back(nm);
        out_types.push_back(a.args[k]->type);
      }
    } else if (n == "percentiles" || n == "percentile") {
      WARD_ASSIGN_OR_RETURN(Type t, def.result(types));
      for (size_t k = 1; k < a.args.size(); ++k) {
        auto v = EvalConstant(a.args[k], ctx_);
        if (!v) return Fail(call.args[k]->pos, "percentile(): the percentage must be a constant");
        std::string pct = RealRep(v->type) ? FormatReal(v->r) : std::to_string(v->i);
        std::replace(pct.begin(), pct.end(), '.', '_');
        outs.push_back(k - 1 < names.size() ? names[k - 1] : "percentile_" + derived[0] + "_" + pct);
        out_types.push_back(t);
      }
    } else {
      if (types.empty()) types.push_back(Type::kLong);
      auto t = def.result(types);
      if (!t) return Fail(call.pos, t.error().message());
      std::string nm = names.empty() ? std::string(def.prefix) + (derived.empty() ? "" : derived[0]) : names[0];
      outs.push_back(nm);
      out_types.push_back(*t);
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      std::string nm = p.schema.Find(outs[k]) >= 0 ? Unique(p.schema, outs[k]) : outs[k];
      p.schema.Add(nm, out_types[k]);
      a.names.push_back(nm);
      a.types.push_back(out_types[k]);
    }
    p.aggs.push_back(std::move(a));
    return Status::Ok();
  }

  // on Col | on $left.A == $right.B (several with `,` or `and`).
  Status JoinKeys(const NodePtr& e, const Schema& l, const Schema& r, Plan& p) {
    if (e->kind == NodeKind::kBinary && e->name == "and") {
      WARD_RETURN_IF_ERROR(JoinKeys(e->args[0], l, r, p));
      return JoinKeys(e->args[1], l, r, p);
    }
    auto check = [&](const Schema& s, const std::string& c, const Pos& pos) -> Status {
      if (s.Find(c) < 0 && !s.open) return Fail(pos, "Failed to resolve column named '" + c + "'");
      return Status::Ok();
    };
    if (e->kind == NodeKind::kName) {
      WARD_RETURN_IF_ERROR(check(l, e->name, e->pos));
      WARD_RETURN_IF_ERROR(check(r, e->name, e->pos));
      p.left_keys.push_back(e->name);
      p.right_keys.push_back(e->name);
      return Status::Ok();
    }
    if (e->kind == NodeKind::kBinary && e->name == "==") {
      auto side = [](const NodePtr& m, std::string* col) -> int {
        if (m->kind != NodeKind::kMember || m->args[0]->kind != NodeKind::kName) return 0;
        *col = m->name;
        return m->args[0]->name == "$left" ? 1 : m->args[0]->name == "$right" ? 2 : 0;
      };
      std::string a, b;
      int sa = side(e->args[0], &a), sb = side(e->args[1], &b);
      if (sa == 2 && sb == 1) std::swap(a, b), std::swap(sa, sb);
      if (sa == 1 && sb == 2) {
        WARD_RETURN_IF_ERROR(check(l, a, e->args[0]->pos));
        WARD_RETURN_IF_ERROR(check(r, b, e->args[1]->pos));
        p.left_keys.push_back(a);
        p.right_keys.push_back(b);
        return Status::Ok();
      }
    }
    return Unsupported(e->pos, "join condition other than equality of $left and $right columns");
  }

  Result<PlanPtr> BindJoin(const Node& op, PlanPtr in, ScopePtr scope) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    const bool lookup = op.name == "lookup";
    std::string kind = lookup ? "leftouter" : "innerunique";
    for (const auto& [k, v] : op.options) {
      if (k == "kind") kind = v;
    }
    static const std::unordered_map<std::string, JoinKind> kinds = {
        {"innerunique", JoinKind::kInnerUnique}, {"inner", JoinKind::kInner},         {"leftouter", JoinKind::kLeftOuter},
        {"rightouter", JoinKind::kRightOuter},   {"fullouter", JoinKind::kFullOuter}, {"leftanti", JoinKind::kLeftAnti},
        {"anti", JoinKind::kLeftAnti},           {"leftantisemi", JoinKind::kLeftAnti}, {"rightanti", JoinKind::kRightAnti},
        {"rightantisemi", JoinKind::kRightAnti}, {"leftsemi", JoinKind::kLeftSemi},   {"semi", JoinKind::kLeftSemi},
        {"rightsemi", JoinKind::kRightSemi}};
    auto it = kinds.find(kind);
    if (it == kinds.end()) return Err(Fail(op.pos, "Unknown join kind '" + kind + "'"));
    WARD_ASSIGN_OR_RETURN(PlanPtr right, BindTabular(op.extra, scope));
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::kJoin;
    p->join_kind = it->second;
    p->inputs = {in, right};
    for (const NodePtr& k : op.by) WARD_RETURN_IF_ERROR(JoinKeys(k, in->schema, right->schema, *p));
    const JoinKind jk = p->join_kind;
    const bool left_only = jk == JoinKind::kLeftAnti || jk == JoinKind::kLeftSemi;
    const bool right_only = jk == JoinKind::kRightAnti || jk == JoinKind::kRightSemi;
    if (!right_only) p->schema = in->schema;
    for (size_t k = 0; k < right->schema.names.size(); ++k) {
      const std::string& rn = right->schema.names[k];
      if (left_only) {
        p->right_names.push_back("");
        continue;
      }
      if (right_only) {
        p->right_names.push_back(rn);
        p->schema.Add(rn, right->schema.types[k]);
        continue;
      }
      // lookup drops the right key columns; join renames clashes with a numeric suffix.
      bool is_key = std::find(p->right_keys.begin(), p->right_keys.end(), rn) != p->right_keys.end();
      if (lookup && is_key) {
        p->right_names.push_back("");
        continue;
      }
      std::string out = Unique(p->schema, rn);
      p->right_names.push_back(out);
      p->schema.Add(out, right->schema.types[k]);
    }
    if (in->schema.open || right->schema.open) p->schema.open = true;
    return p;
  }

  Result<PlanPtr> BindUnion(const Node& op, PlanPtr in, ScopePtr scope) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::kUnion;
    for (const auto& [k, v] : op.options) {
      if (k == "withsource") p->union_source = v;
      if (k == "kind") p->union_inner = v == "inner";
    }
    if (in) {
      p->inputs.push_back(in);
      p->union_labels.push_back("union_arg0");
    }
    for (const NodePtr& a : op.args) {
      if (a->kind == NodeKind::kName && HasWildcard(a->name)) {
        bool any = false;
        for (const auto& t : reg_.tables()) {
          if (WildMatch(a->name, t.name)) {
            p->inputs.push_back(ScanOf(t));
            p->union_labels.push_back(t.name);
            any = true;
          }
        }
        if (!any) return Err(Fail(a->pos, "Failed to resolve table expression named '" + a->name + "'"));
        continue;
      }
      WARD_ASSIGN_OR_RETURN(PlanPtr t, BindTabular(a, scope));
      p->inputs.push_back(t);
      p->union_labels.push_back(a->kind == NodeKind::kName ? a->name : "union_arg" + std::to_string(p->inputs.size() - 1));
    }
    if (!p->union_source.empty()) p->schema.Add(p->union_source, Type::kString);
    for (size_t i = 0; i < p->inputs.size(); ++i) {
      const Schema& s = p->inputs[i]->schema;
      if (s.open) p->schema.open = true;
      for (size_t k = 0; k < s.names.size(); ++k) {
        if (p->schema.Find(s.names[k]) < 0) p->schema.Add(s.names[k], s.types[k]);
      }
    }
    if (p->union_inner) {
      Schema inner;
      for (size_t k = 0; k < p->schema.names.size(); ++k) {
        bool all = p->schema.names[k] == p->union_source;
        if (!all) {
          all = true;
          for (const auto& i : p->inputs) all &= i->schema.Find(p->schema.names[k]) >= 0;
        }
        if (all) inner.Add(p->schema.names[k], p->schema.types[k]);
      }
      p->schema = std::move(inner);
    }
    return p;
  }

  // find and search: an outer union of the named tables (every table when none is named) with a
  // column naming each row's table, filtered by the predicate; a column a table lacks is null in
  // its rows. search's bare string literals are term searches over every string column.
  Result<PlanPtr> BindFindOrSearch(const Node& op, PlanPtr in, ScopePtr scope) {
    const bool find = op.name == "find";
    // find is a source (`T | find …` parses as an operator without arguments); search may follow a pipe.
    if (op.args.empty() || (find && in)) return Err(Fail(op.pos, "find starts a query: find [in (Table, ...)] where Predicate"));
    auto u = std::make_shared<Node>();
    u->kind = NodeKind::kOperator;
    u->name = "union";
    u->pos = op.pos;
    std::string source = find ? "source_" : "$table";
    bool case_sensitive = false;
    for (const auto& [k, v] : op.options) {
      if (k == "withsource") source = v;
      if (k == "kind") case_sensitive = v == "case_sensitive";
    }
    u->options.emplace_back("withsource", source);
    u->args = op.by;
    if (u->args.empty() && !in) {
      for (const auto& t : reg_.tables()) {
        auto n = std::make_shared<Node>();
        n->kind = NodeKind::kName;
        n->name = t.name;
        n->pos = op.pos;
        u->args.push_back(n);
      }
    }
    WARD_ASSIGN_OR_RETURN(PlanPtr un, BindUnion(*u, in, scope));
    NodePtr pred = op.args[0];
    if (!find) pred = ExpandSearchTerms(pred, un->schema, case_sensitive);
    WARD_ASSIGN_OR_RETURN(BExpr be, BindScalar(pred, un->schema, scope));
    if (be->type != Type::kBool && be->type != Type::kDynamic) {
      return Err(Fail(op.args[0]->pos, std::string("The predicate must be of type bool, not ") + TypeName(be->type)));
    }
    auto f = Unary(Plan::Kind::kFilter, un, un->schema);
    f->predicate = be;
    if (!find) return f;
    // find's output: the source column, then the `project` list; or by default (project-smart) the
    // columns the predicate names, the columns every table has, and the others packed into pack_.
    auto p = Unary(Plan::Kind::kProject, f, Schema{});
    auto keep = [&](const std::string& c) {
      int k = f->schema.Find(c);
      if (k < 0 || p->schema.Find(c) >= 0) return;
      p->schema.Add(c, f->schema.types[k]);
      p->exprs.emplace_back(c, ColumnRef(c, f->schema.types[k], op.pos));
    };
    keep(source);
    if (op.text == "project") {
      for (const std::string& c : op.names) {
        if (f->schema.Find(c) < 0) return Err(Fail(op.pos, "Failed to resolve scalar expression named '" + c + "'"));
        keep(c);
      }
      return p;
    }
    std::vector<std::string> named;
    CollectNames(op.args[0], &named);
    for (const std::string& c : named) keep(c);
    for (size_t k = 0; k < f->schema.names.size(); ++k) {
      bool everywhere = true;
      for (const PlanPtr& i : un->inputs) everywhere &= i->schema.Find(f->schema.names[k]) >= 0;
      if (everywhere) keep(f->schema.names[k]);
    }
    std::vector<BExpr> pack;
    for (size_t k = 0; k < f->schema.names.size(); ++k) {
      if (p->schema.Find(f->schema.names[k]) >= 0) continue;
      pack.push_back(Const(Scalar::Str(f->schema.names[k]), op.pos));
      pack.push_back(ColumnRef(f->schema.names[k], f->schema.types[k], op.pos));
    }
    WARD_ASSIGN_OR_RETURN(BExpr bag, Call(FindFunction("pack"), std::move(pack), op.pos));
    p->schema.Add("pack_", Type::kDynamic);
    p->exprs.emplace_back("pack_", bag);
    return p;
  }

  static std::shared_ptr<Node> Syn(NodeKind k, const Pos& pos, std::string name = "", std::vector<NodePtr> args = {}) {
    auto n = std::make_shared<Node>();
    n->kind = k;
    n->pos = pos;
    n->name = std::move(name);
    n->args = std::move(args);
    return n;
  }
  static NodePtr SynAssign(const Pos& pos, const std::string& name, NodePtr e) {
    auto n = std::make_shared<Node>();
    n->kind = NodeKind::kAssign;
    n->pos = pos;
    n->names = {name};
    n->args = {std::move(e)};
    return n;
  }
  static NodePtr SynSortKey(NodePtr e, bool asc) {
    auto n = std::make_shared<Node>();
    n->kind = NodeKind::kSortKey;
    n->pos = e->pos;
    n->args = {std::move(e)};
    n->flag = asc;
    return n;
  }
  static NodePtr SynPipe(NodePtr in, NodePtr op) {
    const Pos pos = op->pos;
    return Syn(NodeKind::kPipe, pos, "", {std::move(in), std::move(op)});
  }

  // top-nested, level by level: summarize the level's aggregate by the keys so far, keep the top N
  // per parent group (row_number over the parent keys), and carry the parents' aggregates along.
  // Output: key and aggregate column of every level, in level order.
  Result<PlanPtr> BindTopNested(const Node& op, PlanPtr in, ScopePtr scope) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    auto local = std::make_shared<Scope>();
    local->parent = scope;
    Symbol input;
    input.kind = Symbol::Kind::kTabular;
    input.plan = in;
    local->syms["__tn_in"] = input;
    std::vector<std::string> keys, aggs;
    std::vector<NodePtr> key_exprs;
    PlanPtr prev;
    for (size_t i = 0; i < op.args.size(); ++i) {
      const Node& level = *op.args[i];
      const Pos& pos = level.pos;
      if (!level.text.empty()) return Err(Unsupported(pos, "top-nested with others"));
      std::string key;
      NodePtr key_expr;
      WARD_RETURN_IF_ERROR(SplitItem(level.args[1], &key, &key_expr));
      if (key.empty()) key = "Column" + std::to_string(i + 1);
      std::string agg;
      NodePtr agg_expr;
      WARD_RETURN_IF_ERROR(SplitItem(level.args[2], &agg, &agg_expr));
      if (level.args[2]->kind != NodeKind::kAssign) agg = "aggregated_" + key;
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) return Err(Fail(pos, "Duplicate column name '" + key + "'"));
      keys.push_back(key);
      aggs.push_back(agg);
      key_exprs.push_back(key_expr);
      std::vector<NodePtr> assigns, key_names, parent_names;
      for (size_t j = 0; j <= i; ++j) {
        assigns.push_back(SynAssign(pos, keys[j], key_exprs[j]));
        key_names.push_back(Syn(NodeKind::kName, pos, keys[j]));
        if (j < i) parent_names.push_back(Syn(NodeKind::kName, pos, keys[j]));
      }
      NodePtr q = SynPipe(Syn(NodeKind::kName, pos, "__tn_in"), Syn(NodeKind::kOperator, pos, "extend", assigns));
      if (prev) {
        Symbol ps;
        ps.kind = Symbol::Kind::kTabular;
        ps.plan = prev;
        local->syms["__tn_prev"] = ps;
        auto lookup = Syn(NodeKind::kOperator, pos, "lookup");
        lookup->options = {{"kind", "inner"}};
        lookup->extra = SynPipe(Syn(NodeKind::kName, pos, "__tn_prev"), Syn(NodeKind::kOperator, pos, "project", parent_names));
        lookup->by = parent_names;
        q = SynPipe(q, lookup);
      }
      auto summarize = Syn(NodeKind::kOperator, pos, "summarize", {SynAssign(pos, agg, agg_expr)});
      summarize->by = key_names;
      q = SynPipe(q, summarize);
      const NodePtr& count = level.args[0];
      if (!prev && count) {
        auto top = Syn(NodeKind::kOperator, pos, "top", {count});
        top->by = {SynSortKey(Syn(NodeKind::kName, pos, agg), level.flag)};
        q = SynPipe(q, top);
      } else if (prev) {
        auto sort = Syn(NodeKind::kOperator, pos, "sort");
        NodePtr restart;
        for (const NodePtr& k : parent_names) {
          sort->by.push_back(SynSortKey(k, true));
          NodePtr changed = Syn(NodeKind::kBinary, pos, "!=", {Syn(NodeKind::kCall, pos, "prev", {k}), k});
          restart = restart ? Syn(NodeKind::kBinary, pos, "or", {restart, changed}) : changed;
        }
        sort->by.push_back(SynSortKey(Syn(NodeKind::kName, pos, agg), level.flag));
        q = SynPipe(q, sort);
        if (count) {
          auto one = Syn(NodeKind::kLiteral, pos);
          one->literal = Scalar::Long(1);
          NodePtr rank = Syn(NodeKind::kCall, pos, "row_number", {one, restart});
          q = SynPipe(q, Syn(NodeKind::kOperator, pos, "extend", {SynAssign(pos, "__tn_rank", rank)}));
          q = SynPipe(q, Syn(NodeKind::kOperator, pos, "where", {Syn(NodeKind::kBinary, pos, "<=", {Syn(NodeKind::kName, pos, "__tn_rank"), count})}));
          q = SynPipe(q, Syn(NodeKind::kOperator, pos, "project-away", {Syn(NodeKind::kName, pos, "__tn_rank")}));
        }
        auto back = Syn(NodeKind::kOperator, pos, "lookup");
        back->options = {{"kind", "inner"}};
        back->extra = Syn(NodeKind::kName, pos, "__tn_prev");
        back->by = parent_names;
        q = SynPipe(q, back);
      }
      WARD_ASSIGN_OR_RETURN(prev, BindTabular(q, local));
    }
    std::vector<NodePtr> out;
    for (size_t i = 0; i < keys.size(); ++i) {
      out.push_back(Syn(NodeKind::kName, op.pos, keys[i]));
      out.push_back(Syn(NodeKind::kName, op.pos, aggs[i]));
    }
    Symbol last;
    last.kind = Symbol::Kind::kTabular;
    last.plan = prev;
    local->syms["__tn_prev"] = last;
    return BindTabular(SynPipe(Syn(NodeKind::kName, op.pos, "__tn_prev"), Syn(NodeKind::kOperator, op.pos, "project", out)), local);
  }

  static void CollectNames(const NodePtr& n, std::vector<std::string>* out) {
    if (!n) return;
    if (n->kind == NodeKind::kName) out->push_back(n->name);
    for (const NodePtr& a : n->args) CollectNames(a, out);
  }

  // search "term": a bare string where a predicate is expected means `has` (has_cs with
  // kind=case_sensitive) on any string column.
  static NodePtr ExpandSearchTerms(const NodePtr& n, const Schema& schema, bool case_sensitive) {
    if (n->kind == NodeKind::kLiteral && n->literal.type == Type::kString) {
      NodePtr any;
      for (size_t k = 0; k < schema.names.size(); ++k) {
        if (schema.types[k] != Type::kString) continue;
        auto col = std::make_shared<Node>();
        col->kind = NodeKind::kName;
        col->name = schema.names[k];
        col->pos = n->pos;
        auto has = std::make_shared<Node>();
        has->kind = NodeKind::kBinary;
        has->name = case_sensitive ? "has_cs" : "has";
        has->pos = n->pos;
        has->args = {col, n};
        if (!any) {
          any = has;
          continue;
        }
        auto either = std::make_shared<Node>();
        either->kind = NodeKind::kBinary;
        either->name = "or";
        either->pos = n->pos;
        either->args = {any, has};
        any = either;
      }
      if (any) return any;
      auto no = std::make_shared<Node>();
      no->kind = NodeKind::kLiteral;
      no->literal = Scalar::Bool(false);
      no->pos = n->pos;
      return no;
    }
    const bool logical = (n->kind == NodeKind::kBinary && (n->name == "and" || n->name == "or")) ||
                         (n->kind == NodeKind::kCall && n->name == "not");
    if (!logical) return n;
    auto copy = std::make_shared<Node>(*n);
    for (NodePtr& a : copy->args) a = ExpandSearchTerms(a, schema, case_sensitive);
    return copy;
  }

  Result<PlanPtr> BindMvExpand(const Node& op, PlanPtr in, ScopePtr scope) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    auto p = Unary(Plan::Kind::kMvExpand, in, in->schema);
    for (const auto& [k, v] : op.options) {
      if (k == "with_itemindex" || k == "itemindex") p->item_index = v;
      if (k == "bagexpansion" || k == "kind") p->bag_expansion = v;
    }
    for (size_t i = 0; i < op.args.size(); ++i) {
      const NodePtr& item = op.args[i];
      std::string out;
      NodePtr e = item;
      if (item->kind == NodeKind::kAssign) out = item->names[0], e = item->args[0];
      else out = DeriveExpandName(*item);
      WARD_ASSIGN_OR_RETURN(BExpr be, BindScalar(e, in->schema, scope));
      if (out.empty()) out = "Column" + std::to_string(i + 1);
      std::optional<Type> to;
      if (!op.types[i].empty()) {
        to = ParseTypeName(op.types[i]);
        if (!to) return Err(Fail(item->pos, "Unknown type '" + op.types[i] + "'"));
      }
      Type t = to ? *to : Type::kDynamic;
      int k = p->schema.Find(out);
      if (k >= 0) p->schema.types[k] = t;
      else p->schema.Add(out, t);
      p->exprs.emplace_back(out, be);
      p->expand_types.push_back(to);
    }
    if (!op.text.empty()) p->expand_limit = std::stoll(op.text);
    if (!p->item_index.empty()) p->schema.Add(p->item_index, Type::kLong);
    return p;
  }

  static std::string QuoteMeta(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && !(static_cast<unsigned char>(c) & 0x80)) out += '\\';
      out += c;
    }
    return out;
  }

  Result<PlanPtr> BindParse(const Node& op, PlanPtr in, ScopePtr scope) {
    if (!in) return Err(Fail(op.pos, "The operator needs a tabular input"));
    std::string kind = "simple", flags;
    for (const auto& [k, v] : op.options) {
      if (k == "kind") kind = v;
      if (k == "flags") flags = v;
    }
    if (kind != "simple" && kind != "regex" && kind != "relaxed") return Err(Unsupported(op.pos, "parse kind=" + kind));
    auto p = Unary(Plan::Kind::kParse, in, in->schema);
    WARD_ASSIGN_OR_RETURN(p->parse_source, BindScalar(op.args[0], in->schema, scope));
    std::string re;
    for (char f : flags) {
      if (f == 'i' || f == 's' || f == 'm' || f == 'U') re += std::string("(?") + f + ")";
    }
    if (kind != "regex") re += "^";
    for (size_t k = 0; k < op.by.size(); ++k) {
      const Node& el = *op.by[k];
      const bool last = k + 1 == op.by.size();
      if (el.kind == NodeKind::kLiteral) {
        re += kind == "regex" ? el.literal.s : QuoteMeta(el.literal.s);
      } else if (el.kind == NodeKind::kStar) {
        re += last ? "(?:.*)" : "(?:.*?)";
      } else {
        Type t = Type::kString;
        if (!el.text.empty()) {
          auto pt = ParseTypeName(el.text);
          if (!pt) return Err(Fail(el.pos, "Unknown type '" + el.text + "'"));
          t = *pt;
        }
        re += last ? "(.*)" : "(.*?)";
        int idx = p->schema.Find(el.name);
        if (idx >= 0) p->schema.types[idx] = t;
        else p->schema.Add(el.name, t);
        p->exprs.emplace_back(el.name, nullptr);
        p->parse_types.push_back(t);
      }
    }
    if (kind != "regex") re = re + "";
    p->parse_regex = re;
    return p;
  }

  // ---- scalar expressions

  Status BindList(const NodePtr& n, const Schema& row, ScopePtr scope, std::vector<BExpr>* out) {
    auto add = [&](const NodePtr& item) -> Status {
      if (IsTabularNode(item, scope)) {
        WARD_ASSIGN_OR_RETURN(PlanPtr plan, BindTabular(item, scope));
        if (plan->schema.names.empty()) return Fail(item->pos, "The subquery returns no column");
        auto e = std::make_shared<BoundExpr>();
        e->kind = BoundExpr::Kind::kSubquery;
        e->plan = plan;
        e->scalar_subquery = false;
        e->type = Type::kDynamic;
        e->pos = item->pos;
        out->push_back(e);
        return Status::Ok();
      }
      WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(item, row, scope));
      out->push_back(e);
      return Status::Ok();
    };
    if (n->kind == NodeKind::kList) {
      for (const NodePtr& item : n->args) {
        Status st = add(item);
        if (!st.ok()) return st;
      }
      return Status::Ok();
    }
    return add(n);
  }

  Result<BExpr> BindScalar(const NodePtr& n, const Schema& row, ScopePtr scope) {
    if (++depth_ > 400) {
      --depth_;
      return Err(Fail(n->pos, "Expression nested too deeply"));
    }
    auto r = BindScalarInner(n, row, scope);
    --depth_;
    return r;
  }

  Result<BExpr> BindScalarInner(const NodePtr& n, const Schema& row, ScopePtr scope) {
    switch (n->kind) {
      case NodeKind::kLiteral: return Const(n->literal, n->pos);
      case NodeKind::kName: {
        int k = row.Find(n->name);
        if (k >= 0) return ColumnRef(n->name, row.types[k], n->pos);
        if (const Symbol* s = scope->Find(n->name)) {
          if (s->kind == Symbol::Kind::kScalar) return s->scalar;
          if (s->kind == Symbol::Kind::kTabular) {
            return Err(Fail(n->pos, "'" + n->name + "' is a tabular expression; use toscalar() for a scalar value"));
          }
          return Err(Fail(n->pos, "'" + n->name + "' is a function; call it with ()"));
        }
        if (row.open) return ColumnRef(n->name, Type::kDynamic, n->pos);
        return Err(Fail(n->pos, "Failed to resolve scalar expression named '" + n->name + "'"));
      }
      case NodeKind::kStar: return Err(Fail(n->pos, "'*' is not allowed here"));
      case NodeKind::kCall: return BindCall(*n, row, scope);
      case NodeKind::kUnary: {
        WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(n->args[0], row, scope));
        if (n->name == "+") return e;
        if (!Numeric(e->type) && e->type != Type::kTimespan && e->type != Type::kDynamic) {
          return Err(Fail(n->pos, std::string("Unary '-' cannot be applied to ") + TypeName(e->type)));
        }
        return Call(FindFunction("neg"), {e}, n->pos);
      }
      case NodeKind::kMember: {
        WARD_ASSIGN_OR_RETURN(BExpr base, BindScalar(n->args[0], row, scope));
        return Call(FindFunction("[]"), {base, Const(Scalar::Str(n->name), n->pos)}, n->pos);
      }
      case NodeKind::kIndex: {
        WARD_ASSIGN_OR_RETURN(BExpr base, BindScalar(n->args[0], row, scope));
        WARD_ASSIGN_OR_RETURN(BExpr key, BindScalar(n->args[1], row, scope));
        return Call(FindFunction("[]"), {base, key}, n->pos);
      }
      case NodeKind::kBetween: {
        WARD_ASSIGN_OR_RETURN(BExpr x, BindScalar(n->args[0], row, scope));
        WARD_ASSIGN_OR_RETURN(BExpr lo, BindScalar(n->args[1], row, scope));
        WARD_ASSIGN_OR_RETURN(BExpr hi, BindScalar(n->args[2], row, scope));
        // datetime between (start .. 1h): the upper bound is start + 1h.
        if (x->type == Type::kDateTime && hi->type == Type::kTimespan) {
          WARD_ASSIGN_OR_RETURN(hi, Call(FindFunction("+"), {lo, hi}, n->pos));
        }
        return Call(FindFunction(n->flag ? "!between" : "between"), {x, lo, hi}, n->pos);
      }
      case NodeKind::kBinary: {
        const std::string& op = n->name;
        const FunctionDef* fn = FindFunction(op == "notcontains" ? "!contains" : op);
        if (!fn) return Err(Unsupported(n->pos, op));
        WARD_ASSIGN_OR_RETURN(BExpr l, BindScalar(n->args[0], row, scope));
        std::vector<BExpr> args{l};
        if (fn->max_args < 0) {
          WARD_RETURN_IF_ERROR(BindList(n->args[1], row, scope, &args));
        } else {
          WARD_ASSIGN_OR_RETURN(BExpr r, BindScalar(n->args[1], row, scope));
          args.push_back(r);
        }
        return Call(fn, std::move(args), n->pos);
      }
      case NodeKind::kList: return Err(Fail(n->pos, "A list is only allowed after in, has_any and has_all"));
      case NodeKind::kTypeof: return Err(Fail(n->pos, "typeof() is only allowed in a type position"));
      case NodeKind::kPipe:
      case NodeKind::kOperator:
      case NodeKind::kDatatable: return Err(Fail(n->pos, "A tabular expression cannot be used as a scalar; use toscalar()"));
      default: return Err(Fail(n->pos, "Unexpected expression"));
    }
  }

  Result<BExpr> BindCall(const Node& n, const Schema& row, ScopePtr scope) {
    const std::string& name = n.name;
    if (const Symbol* s = scope->Find(name); s && s->kind == Symbol::Kind::kLambda) {
      WARD_ASSIGN_OR_RETURN(Bound b, BindLambdaCall(*s, n, nullptr, scope, row));
      if (!b.expr) return Err(Fail(n.pos, "Function '" + name + "' returns a table; use toscalar() for a scalar value"));
      return b.expr;
    }
    if (name == "toscalar") {
      if (n.args.size() != 1) return Err(Fail(n.pos, "toscalar() expects one argument"));
      if (!IsTabularNode(n.args[0], scope)) return BindScalar(n.args[0], row, scope);
      WARD_ASSIGN_OR_RETURN(PlanPtr plan, BindTabular(n.args[0], scope));
      if (plan->schema.names.empty()) return Err(Fail(n.pos, "toscalar(): the subquery returns no column"));
      auto e = std::make_shared<BoundExpr>();
      e->kind = BoundExpr::Kind::kSubquery;
      e->plan = plan;
      e->scalar_subquery = true;
      e->type = plan->schema.types[0];
      e->pos = n.pos;
      return BExpr(e);
    }
    if (name == "column_ifexists") {
      // The name is a constant string: a literal, or an expression of constants (a function parameter).
      std::optional<Scalar> col;
      if (n.args.size() == 2) {
        WARD_ASSIGN_OR_RETURN(BExpr ne, BindScalar(n.args[0], Schema{}, scope));
        if (ne->type == Type::kString) {
          auto v = EvalConstant(ne, ctx_);
          if (v) col = *v;
        }
      }
      if (!col) return Err(Fail(n.pos, "column_ifexists() expects a constant column name string and a default value"));
      int k = row.Find(col->s);
      if (k >= 0) return ColumnRef(col->s, row.types[k], n.pos);
      return BindScalar(n.args[1], row, scope);
    }
    if ((name == "extract" || name == "extractjson") && !n.args.empty() && n.args.back()->kind == NodeKind::kTypeof) {
      // extract(regex, group, text, typeof(T)) / extractjson(path, json, typeof(T)): convert the result.
      auto t = ParseTypeName(n.args.back()->text);
      if (!t) return Err(Fail(n.args.back()->pos, "Unknown type '" + n.args.back()->text + "'"));
      std::vector<BExpr> args;
      for (size_t k = 0; k + 1 < n.args.size(); ++k) {
        WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(n.args[k], row, scope));
        args.push_back(e);
      }
      WARD_ASSIGN_OR_RETURN(BExpr ex, Call(FindFunction(name), std::move(args), n.pos));
      return Convert(ex, *t);
    }
    if (FindAggregate(name) && !FindFunction(name)) {
      return Err(Fail(n.pos, "'" + name + "' is an aggregate function and can only be used in summarize"));
    }
    const FunctionDef* fn = FindFunction(name);
    if (!fn) {
      if (IsKnownUnsupportedFunction(name)) return Err(Unsupported(n.pos, name));
      return Err(Unsupported(n.pos, name));
    }
    const int nargs = static_cast<int>(n.args.size());
    if (nargs < fn->min_args || (fn->max_args >= 0 && nargs > fn->max_args)) {
      return Err(Fail(n.pos, "Function '" + name + "': wrong number of arguments (" + std::to_string(nargs) + ")"));
    }
    std::vector<BExpr> args;
    for (const NodePtr& a : n.args) {
      if (a->kind == NodeKind::kAssign) return Err(Unsupported(a->pos, "named arguments"));
      WARD_ASSIGN_OR_RETURN(BExpr e, BindScalar(a, row, scope));
      args.push_back(e);
    }
    return Call(fn, std::move(args), n.pos);
  }

  const events::SchemaRegistry& reg_;
  BindOptions opt_;
  QueryError* err_;
  EvalContext ctx_;
  std::string op_;
  std::string render_;
  bool failed_ = false;
  int depth_ = 0;
  int lambda_depth_ = 0;
};

}  // namespace

Result<BoundQuery> Bind(const Query& query, const events::SchemaRegistry& registry, const BindOptions& options, QueryError* error) {
  return Binder(registry, options, error).Run(query);
}

}  // namespace ward::kql
