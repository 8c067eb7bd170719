#include "kql/parser.h"

#include <cmath>
#include <set>

#include "common/time.h"

#include "json/json.h"
#include "kql/lexer.h"

// Operator node layout (NodeKind::kOperator, name = operator):
//   where/filter        args[0] = predicate
//   project, extend, project-rename, summarize, distinct
//                       args = items (kAssign or expressions); summarize: by = keys
//   project-away/-keep/-reorder
//                       args = kName items whose name may hold `*` wildcards (text = "asc"/"desc")
//   take/limit          args[0] = count
//   top                 args[0] = count, by = kSortKey
//   sort/order          by = kSortKey list
//   count               -
//   join/lookup         options (kind=…, hint.*), extra = right side, by = `on` expressions
//   union               options, args = tables (kName may hold `*` wildcards, or tabular expressions)
//   top-nested          args = one kOperator "top-nested-level" per level: args {count or null, key item,
//                       aggregate item}, flag = asc, text = "with others" when given
//   find/search         options, by = tables of `in (…)` (as union; empty = every table), args[0] = predicate;
//                       find: text = "project" with names = columns, or "" for project-smart
//   mv-expand           options (with_itemindex, bagexpansion, kind), args = items, types = `to typeof` per item ("" = none),
//                       text = limit (digits) when given
//   parse               options (kind, flags), args[0] = source; by = pattern (kLiteral strings, kStar, kName with text = type)
//   evaluate            args[0] = kCall of the plugin
//   invoke              args[0] = kCall
//   render              text = chart type
//   print               args = items
//   range               names[0] = column, args = {from, to, step}
//   <anything else>     no fields: the binder rejects it as not supported

namespace ward::kql {
namespace {

constexpr int kMaxDepth = 200;

class Parser {
 public:
  Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Result<Query> Run(QueryError* err) {
    Query q;
    bool ok = ParseQuery(q);
    if (!ok) {
      if (err) *err = QueryError{error_.pos.line, error_.pos.column, error_.message};
      return Err(InvalidArgument("Syntax error: " + error_.message + " (line " + std::to_string(error_.pos.line) + ", column " +
                                 std::to_string(error_.pos.column) + ")"));
    }
    return q;
  }

 private:
  // ---- token helpers
  const Token& Peek(size_t k = 0) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  bool AtEnd() const { return Peek().kind == TokenKind::kEnd; }
  bool IsPunct(std::string_view p, size_t k = 0) const { return Peek(k).kind == TokenKind::kPunct && Peek(k).text == p; }
  bool IsIdent(std::string_view id, size_t k = 0) const { return Peek(k).kind == TokenKind::kIdent && Peek(k).text == id; }
  bool Adjacent(size_t k) const { return Peek(k).pos.offset == Peek(k - 1).end; }
  const Token& Take() { const Token& t = t_[i_]; if (i_ + 1 < t_.size()) ++i_; return t; }
  bool Accept(std::string_view p) {
    if (IsPunct(p)) return Take(), true;
    return false;
  }
  bool AcceptIdent(std::string_view id) {
    if (IsIdent(id)) return Take(), true;
    return false;
  }
  bool Fail(const Token& at, std::string msg) {
    if (!failed_) {
      error_.pos = at.pos;
      error_.message = std::move(msg);
      failed_ = true;
    }
    return false;
  }
  bool FailHere(std::string expected) {
    const Token& t = Peek();
    std::string what = t.kind == TokenKind::kEnd ? "end of query" : "'" + t.text + "'";
    if (t.kind == TokenKind::kString) what = "string literal";
    return Fail(t, "Query could not be parsed at " + what + (expected.empty() ? "" : ": expected " + expected));
  }
  bool Expect(std::string_view p) {
    if (Accept(p)) return true;
    return FailHere("'" + std::string(p) + "'");
  }
  bool ExpectIdent(std::string* out) {
    if (Peek().kind != TokenKind::kIdent) return FailHere("a name");
    *out = Take().text;
    return true;
  }
  std::shared_ptr<Node> Make(NodeKind k, const Pos& p) {
    auto n = std::make_shared<Node>();
    n->kind = k;
    n->pos = p;
    return n;
  }
  struct DepthGuard {
    Parser& p;
    bool ok;
    explicit DepthGuard(Parser& parser) : p(parser), ok(++parser.depth_ <= kMaxDepth) {
      if (!ok) p.FailHere("(query nested too deeply)");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // ---- statements
  bool ParseQuery(Query& q) {
    while (!AtEnd()) {
      if (Accept(";")) continue;
      NodePtr st;
      if (!ParseStatement(&st)) return false;
      q.statements.push_back(st);
      if (!AtEnd() && !IsPunct(";")) return FailHere("';' or end of query");
    }
    if (q.statements.empty()) return FailHere("a query");
    return true;
  }

  bool ParseStatement(NodePtr* out) {
    if (IsIdent("let")) {
      auto let = Make(NodeKind::kLet, Take().pos);
      if (Peek().kind != TokenKind::kIdent && !IsPunct("[")) return FailHere("a name");
      if (Accept("[")) {
        if (Peek().kind != TokenKind::kString) return FailHere("a name");
        let->name = Take().text;
        if (!Expect("]")) return false;
      } else {
        let->name = Take().text;
      }
      if (!Expect("=")) return false;
      NodePtr value;
      if (LooksLikeLambda()) {
        if (!ParseLambda(&value)) return false;
      } else if (!ParsePipeExpr(&value)) {
        return false;
      }
      let->args.push_back(value);
      *out = let;
      return true;
    }
    if (IsIdent("set") && Peek(1).kind == TokenKind::kIdent) {
      // Query options (`set x = y;`): accepted and ignored, like request properties.
      auto n = Make(NodeKind::kOperator, Take().pos);
      n->name = "set";
      while (!AtEnd() && !IsPunct(";")) Take();
      *out = n;
      return true;
    }
    return ParsePipeExpr(out);
  }

  bool LooksLikeLambda() {
    size_t k = 0;
    if (IsIdent("view")) k = 1;
    if (!IsPunct("(", k)) return false;
    if (IsPunct(")", k + 1)) return IsPunct("{", k + 2);
    return Peek(k + 1).kind == TokenKind::kIdent && IsPunct(":", k + 2);
  }

  bool ParseLambda(NodePtr* out) {
    auto lam = Make(NodeKind::kLambda, Peek().pos);
    if (AcceptIdent("view")) lam->flag = true;
    if (!Expect("(")) return false;
    while (!IsPunct(")")) {
      std::string name;
      if (!ExpectIdent(&name)) return false;
      if (!Expect(":")) return false;
      std::string type;
      if (IsPunct("(")) {
        // Tabular parameter: (Col:type, ...) or (*).
        Take();
        int depth = 1;
        type = "(";
        while (depth > 0 && !AtEnd()) {
          const Token& t = Take();
          if (t.kind == TokenKind::kPunct && t.text == "(") ++depth;
          if (t.kind == TokenKind::kPunct && t.text == ")") --depth;
          if (depth > 0) type += t.text;
        }
        type += ")";
      } else if (!ExpectIdent(&type)) {
        return false;
      }
      NodePtr def;
      if (Accept("=")) {
        if (!ParseExpr(&def)) return false;
      }
      lam->names.push_back(name);
      lam->types.push_back(type);
      lam->defaults.push_back(def);
      if (!Accept(",")) break;
    }
    if (!Expect(")")) return false;
    if (!Expect("{")) return false;
    while (!IsPunct("}")) {
      if (AtEnd()) return FailHere("'}'");
      if (Accept(";")) continue;
      NodePtr st;
      if (!ParseStatement(&st)) return false;
      lam->args.push_back(st);
    }
    Take();
    if (lam->args.empty()) return FailHere("a function body");
    *out = lam;
    return true;
  }

  // ---- tabular pipes
  bool ParsePipeExpr(NodePtr* out) {
    DepthGuard g(*this);
    if (!g.ok) return false;
    NodePtr left;
    if (!ParseExpr(&left)) return false;
    while (IsPunct("|")) {
      Take();
      NodePtr op;
      if (!ParseOperator(&op)) return false;
      auto pipe = Make(NodeKind::kPipe, op->pos);
      pipe->args = {left, op};
      left = pipe;
    }
    *out = left;
    return true;
  }

  // An operator name, joining hyphenated names (project-away, mv-expand, top-nested …).
  std::string OperatorName() {
    std::string name = Take().text;
    while (IsPunct("-") && Adjacent(0) && Peek(1).kind == TokenKind::kIdent && Adjacent(1)) {
      Take();
      name += "-" + Take().text;
    }
    return name;
  }

  // name=value pairs before the operator's arguments (kind=inner, hint.strategy=shuffle ...); only
  // `hint.*` and the operator's own option names, so that `summarize n=count()` stays an item.
  bool ParseOptions(Node& n, std::initializer_list<std::string_view> allowed = {}) {
    auto is_option = [&] {
      if (Peek().kind != TokenKind::kIdent) return false;
      if (Peek().text == "hint" && IsPunct(".", 1)) return true;
      if (!IsPunct("=", 1)) return false;
      for (std::string_view a : allowed) {
        if (Peek().text == a) return true;
      }
      return false;
    };
    while (is_option()) {
      size_t save = i_;
      std::string key = Take().text;
      while (Accept(".")) {
        if (Peek().kind != TokenKind::kIdent) return FailHere("a name");
        key += "." + Take().text;
      }
      if (!Accept("=")) {
        i_ = save;
        return true;
      }
      const Token& v = Take();
      std::string val = v.kind == TokenKind::kLong ? std::to_string(v.i) : v.text;
      n.options.emplace_back(key, val);
    }
    return true;
  }

  bool ParseOperator(NodePtr* out) {
    if (Peek().kind != TokenKind::kIdent) return FailHere("an operator");
    auto op = Make(NodeKind::kOperator, Peek().pos);
    op->name = OperatorName();
    const std::string& name = op->name;
    *out = op;
    if (name == "where" || name == "filter") {
      NodePtr e;
      if (!ParseExpr(&e)) return false;
      op->args.push_back(e);
      return true;
    }
    if (name == "project" || name == "extend" || name == "project-rename") return ParseItems(*op, false);
    if (name == "project-away" || name == "project-keep" || name == "project-reorder") return ParseNamePatterns(*op);
    if (name == "summarize") {
      if (!ParseOptions(*op)) return false;
      if (!IsIdent("by")) {
        if (!ParseItems(*op, true)) return false;
      }
      if (AcceptIdent("by")) return ParseList(op->by, true);
      return true;
    }
    if (name == "distinct") {
      if (IsPunct("*")) {
        op->args.push_back(Make(NodeKind::kStar, Take().pos));
        return true;
      }
      return ParseItems(*op, false);
    }
    if (name == "take" || name == "limit") {
      NodePtr e;
      if (!ParseOptions(*op) || !ParseExpr(&e)) return false;
      op->args.push_back(e);
      return true;
    }
    if (name == "top") {
      NodePtr e;
      if (!ParseExpr(&e)) return false;
      op->args.push_back(e);
      if (!IsIdent("by")) return FailHere("'by'");
      Take();
      return ParseSortKeys(*op);
    }
    if (name == "sort" || name == "order") {
      if (!ParseOptions(*op)) return false;
      if (!IsIdent("by")) return FailHere("'by'");
      Take();
      return ParseSortKeys(*op);
    }
    if (name == "count") {
      if (AcceptIdent("as")) {
        std::string n;
        if (!ExpectIdent(&n)) return false;
        op->text = n;
      }
      return true;
    }
    if (name == "join" || name == "lookup") {
      if (!ParseOptions(*op, {"kind", "withsource"})) return false;
      NodePtr right;
      if (IsPunct("(")) {
        Take();
        if (!ParsePipeExpr(&right) || !Expect(")")) return false;
      } else if (!ParseExpr(&right)) {
        return false;
      }
      op->extra = right;
      if (!IsIdent("on")) return FailHere("'on'");
      Take();
      return ParseList(op->by, false);
    }
    if (name == "union") return ParseUnionArgs(*op);
    if (name == "search") return ParseFindOrSearch(*op);
    if (name == "mv-expand" || name == "mvexpand") return ParseMvExpand(*op);
    if (name == "parse" || name == "parse-where") return ParseParse(*op);
    if (name == "evaluate" || name == "invoke") {
      if (!ParseOptions(*op)) return false;
      NodePtr call;
      if (!ParseExpr(&call)) return false;
      op->args.push_back(call);
      return true;
    }
    if (name == "render") {
      if (Peek().kind == TokenKind::kIdent) op->text = Take().text;
      SkipToPipe();
      return true;
    }
    if (name == "as" || name == "serialize") {
      // `as` names a result for later reference; `serialize` only fixes row order: both are no-ops here
      // but `serialize X = expr` extends.
      if (name == "serialize") return ParseItems(*op, false);
      SkipToPipe();
      return true;
    }
    if (name == "top-nested") return ParseTopNested(*op);
    if (name == "getschema") return true;
    // Not in the supported subset: keep the name and position, skip the arguments.
    SkipToPipe();
    return true;
  }

  void SkipToPipe() {
    int depth = 0;
    while (!AtEnd()) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kPunct) {
        if (depth == 0 && (t.text == "|" || t.text == ";" || t.text == ")" || t.text == "}")) return;
        if (t.text == "(" || t.text == "[" || t.text == "{") ++depth;
        if (t.text == ")" || t.text == "]" || t.text == "}") --depth;
      }
      Take();
    }
  }

  bool ParseSortKeys(Node& op) {
    while (true) {
      auto key = Make(NodeKind::kSortKey, Peek().pos);
      NodePtr e;
      if (!ParseExpr(&e)) return false;
      key->args.push_back(e);
      key->flag = false;  // desc by default
      if (AcceptIdent("asc")) key->flag = true;
      else AcceptIdent("desc");
      if (AcceptIdent("nulls")) {
        if (AcceptIdent("first")) key->nulls = 1;
        else if (AcceptIdent("last")) key->nulls = 2;
        else return FailHere("'first' or 'last'");
      }
      op.by.push_back(key);
      if (!Accept(",")) return true;
    }
  }

  // Comma list of `Name = expr`, `(A, B) = expr` or expressions.
  bool ParseItems(Node& op, bool stop_at_by) {
    return ParseList(op.args, true);
  }

  bool ParseList(std::vector<NodePtr>& out, bool assignments) {
    while (true) {
      NodePtr item;
      if (!ParseItem(&item, assignments)) return false;
      out.push_back(item);
      if (!Accept(",")) return true;
    }
  }

  bool ParseItem(NodePtr* out, bool assignments) {
    if (assignments) {
      // Name = expr ; ['Name'] = expr ; (A, B) = expr
      size_t save = i_;
      auto as = Make(NodeKind::kAssign, Peek().pos);
      if (Peek().kind == TokenKind::kIdent && IsPunct("=", 1)) {
        as->names.push_back(Take().text);
      } else if (IsPunct("[") && Peek(1).kind == TokenKind::kString && IsPunct("]", 2) && IsPunct("=", 3)) {
        Take();
        as->names.push_back(Take().text);
        Take();
      } else if (IsPunct("(") && Peek(1).kind == TokenKind::kIdent && (IsPunct(",", 2) || IsPunct(")", 2))) {
        Take();
        bool ok = true;
        while (Peek().kind == TokenKind::kIdent) {
          as->names.push_back(Take().text);
          if (!Accept(",")) break;
        }
        if (!Accept(")") || !IsPunct("=")) ok = false;
        if (!ok) {
          i_ = save;
          as->names.clear();
        }
      }
      if (!as->names.empty()) {
        if (!Expect("=")) return false;
        NodePtr e;
        if (!ParseExpr(&e)) return false;
        as->args.push_back(e);
        *out = as;
        return true;
      }
    }
    return ParseExpr(out);
  }

  bool ParseNamePatterns(Node& op) {
    while (true) {
      auto n = Make(NodeKind::kName, Peek().pos);
      std::string pat;
      size_t start = i_;
      if (IsPunct("[") && Peek(1).kind == TokenKind::kString) {
        Take();
        pat = Take().text;
        if (!Expect("]")) return false;
      } else {
        while ((Peek().kind == TokenKind::kIdent || IsPunct("*")) && (i_ == start || Adjacent(0))) pat += Take().text;
      }
      if (pat.empty()) return FailHere("a column name");
      n->name = pat;
      if (op.name == "project-reorder") {
        if (AcceptIdent("asc")) n->text = "asc";
        else if (AcceptIdent("desc")) n->text = "desc";
      }
      op.args.push_back(n);
      if (!Accept(",")) return true;
    }
  }

  bool ParseUnionArgs(Node& op) {
    if (!ParseOptions(op, {"kind", "withsource", "isfuzzy"})) return false;
    return ParseTableItems(op.args);
  }

  // find [withsource=C] [in (T, …)] where P [project-smart | project C, …]
  // search [kind=case_sensitive|case_insensitive] [in (T, …)] P
  bool ParseFindOrSearch(Node& op) {
    if (!ParseOptions(op, {"withsource", "kind"})) return false;
    if (AcceptIdent("in")) {
      if (!Expect("(") || !ParseTableItems(op.by) || !Expect(")")) return false;
    }
    if (op.name == "find" && !AcceptIdent("where")) return FailHere("'where'");
    NodePtr pred;
    if (!ParseExpr(&pred)) return false;
    op.args.push_back(pred);
    if (op.name != "find") return true;
    if (IsIdent("project") && IsPunct("-", 1) && IsIdent("smart", 2)) {
      Take(), Take(), Take();
      return true;
    }
    if (IsIdent("project") && !IsPunct("-", 1)) {
      Take();
      op.text = "project";
      while (true) {
        std::string c;
        if (!ExpectIdent(&c)) return false;
        op.names.push_back(c);
        if (!Accept(",")) return true;
      }
    }
    return true;
  }

  // top-nested [N] of [Name =] Expr [with others = Expr] by [Name =] Aggregate [asc|desc], top-nested …
  bool ParseTopNested(Node& op) {
    while (true) {
      auto level = Make(NodeKind::kOperator, Peek().pos);
      level->name = "top-nested-level";
      NodePtr n, key, agg;
      if (!IsIdent("of")) {
        if (!ParseExpr(&n)) return false;
      }
      if (!AcceptIdent("of")) return FailHere("'of'");
      if (!ParseItem(&key, true)) return false;
      if (IsIdent("with")) {
        level->text = "with others";
        Take();
        if (!AcceptIdent("others") || !Expect("=")) return FailHere("'others ='");
        NodePtr others;
        if (!ParseExpr(&others)) return false;
      }
      if (!AcceptIdent("by")) return FailHere("'by'");
      if (!ParseItem(&agg, true)) return false;
      level->flag = AcceptIdent("asc");
      if (!level->flag) AcceptIdent("desc");
      level->args = {n, key, agg};
      op.args.push_back(level);
      if (!(IsPunct(",") && IsIdent("top", 1) && IsPunct("-", 2) && IsIdent("nested", 3))) return true;
      Take(), Take(), Take(), Take();
    }
  }

  bool ParseTableItems(std::vector<NodePtr>& out) {
    while (true) {
      if (IsPunct("(")) {
        Take();
        NodePtr e;
        if (!ParsePipeExpr(&e) || !Expect(")")) return false;
        out.push_back(e);
      } else if (Peek().kind == TokenKind::kIdent || IsPunct("*")) {
        auto n = Make(NodeKind::kName, Peek().pos);
        size_t start = i_;
        std::string pat;
        while ((Peek().kind == TokenKind::kIdent || IsPunct("*")) && (i_ == start || Adjacent(0))) pat += Take().text;
        n->name = pat;
        // A function call as a union leg: f(args).
        if (IsPunct("(") && pat.find('*') == std::string::npos) {
          i_ = start;
          NodePtr e;
          if (!ParsePostfix(&e)) return false;
          out.push_back(e);
        } else {
          out.push_back(n);
        }
      } else {
        return FailHere("a table");
      }
      if (!Accept(",")) return true;
    }
  }

  bool ParseMvExpand(Node& op) {
    if (!ParseOptions(op, {"kind", "bagexpansion", "with_itemindex", "itemindex"})) return false;
    while (true) {
      NodePtr item;
      if (!ParseItem(&item, true)) return false;
      op.args.push_back(item);
      std::string type;
      if (AcceptIdent("to")) {
        if (!AcceptIdent("typeof")) return FailHere("'typeof'");
        if (!Expect("(")) return false;
        if (!ExpectIdent(&type)) return false;
        if (!Expect(")")) return false;
      }
      op.types.push_back(type);
      if (!Accept(",")) break;
    }
    if (AcceptIdent("limit")) {
      if (Peek().kind != TokenKind::kLong) return FailHere("a number");
      op.text = std::to_string(Take().i);
    }
    return true;
  }

  bool ParseParse(Node& op) {
    if (!ParseOptions(op, {"kind", "flags"})) return false;
    NodePtr src;
    if (!ParseExpr(&src)) return false;
    op.args.push_back(src);
    if (!AcceptIdent("with")) return FailHere("'with'");
    while (!AtEnd() && !IsPunct("|") && !IsPunct(";") && !IsPunct(")")) {
      if (Peek().kind == TokenKind::kString) {
        auto lit = Make(NodeKind::kLiteral, Peek().pos);
        lit->literal = Scalar::Str(Take().text);
        op.by.push_back(lit);
      } else if (IsPunct("*")) {
        op.by.push_back(Make(NodeKind::kStar, Take().pos));
      } else if (Peek().kind == TokenKind::kIdent) {
        auto n = Make(NodeKind::kName, Peek().pos);
        n->name = Take().text;
        if (Accept(":")) {
          if (!ExpectIdent(&n->text)) return false;
        }
        op.by.push_back(n);
      } else if (IsPunct(",")) {
        Take();
      } else {
        return FailHere("a string, '*' or a column name");
      }
    }
    return true;
  }

  // ---- scalar expressions
  bool ParseExpr(NodePtr* out) {
    DepthGuard g(*this);
    if (!g.ok) return false;
    return ParseOr(out);
  }

  bool Binary(NodePtr* out, const std::string& op, NodePtr l, NodePtr r, const Pos& p) {
    auto n = Make(NodeKind::kBinary, p);
    n->name = op;
    n->args = {std::move(l), std::move(r)};
    *out = n;
    return true;
  }

  // One left-associative precedence level: operand (op operand)*, where `op` is a word (and/or)
  // or punctuation (+ - * / %) accepted by `is_op`.
  template <typename IsOp>
  bool ParseLevel(NodePtr* out, bool (Parser::*operand)(NodePtr*), IsOp is_op) {
    NodePtr l;
    if (!(this->*operand)(&l)) return false;
    while (is_op()) {
      const Token& t = Take();
      Pos p = t.pos;
      std::string op = t.text;
      NodePtr r;
      if (!(this->*operand)(&r)) return false;
      Binary(&l, op, l, r, p);
    }
    *out = l;
    return true;
  }
  bool ParseOr(NodePtr* out) { return ParseLevel(out, &Parser::ParseAnd, [&] { return IsIdent("or"); }); }
  bool ParseAnd(NodePtr* out) { return ParseLevel(out, &Parser::ParseComparison, [&] { return IsIdent("and"); }); }

  // The comparison or string operator at the cursor ("", when none), with its token count.
  std::string ComparisonOp(size_t* tokens) {
    static const std::set<std::string> kWordOps = {
        "has", "has_cs", "hasprefix", "hasprefix_cs", "hassuffix", "hassuffix_cs", "contains", "contains_cs",
        "startswith", "startswith_cs", "endswith", "endswith_cs", "in", "has_any", "has_all", "between", "like", "notlike",
        "matches", "notcontains", "notcontains_cs", "notbetween", "in~"};
    const Token& t = Peek();
    if (t.kind == TokenKind::kPunct) {
      static const std::set<std::string> kPunctOps = {"==", "!=", "<>", "=~", "!~", "<", "<=", ">", ">="};
      if (kPunctOps.count(t.text)) {
        *tokens = 1;
        return t.text == "<>" ? "!=" : t.text;
      }
      if (t.text == "!" && Peek(1).kind == TokenKind::kIdent && Adjacent(1)) {
        std::string w = Peek(1).text;
        if (kWordOps.count(w)) {
          *tokens = 2;
          if (w == "in" && IsPunct("~", 2) && Adjacent(2)) {
            *tokens = 3;
            return "!in~";
          }
          return "!" + w;
        }
      }
      return "";
    }
    if (t.kind == TokenKind::kIdent && kWordOps.count(t.text)) {
      if (t.text == "in" && IsPunct("~", 1) && Adjacent(1)) {
        *tokens = 2;
        return "in~";
      }
      if (t.text == "matches") {
        if (!IsIdent("regex", 1)) return "";
        *tokens = 2;
        return "matches regex";
      }
      *tokens = 1;
      return t.text;
    }
    return "";
  }

  bool ParseComparison(NodePtr* out) {
    NodePtr l;
    if (!ParseAdditive(&l)) return false;
    while (true) {
      size_t n = 0;
      std::string op = ComparisonOp(&n);
      if (op.empty()) break;
      Pos p = Peek().pos;
      for (size_t k = 0; k < n; ++k) Take();
      if (op == "between" || op == "!between" || op == "notbetween") {
        auto b = Make(NodeKind::kBetween, p);
        b->flag = op != "between";
        if (!Expect("(")) return false;
        NodePtr lo, hi;
        if (!ParseAdditive(&lo)) return false;
        if (!Expect("..")) return false;
        if (!ParseAdditive(&hi)) return false;
        if (!Expect(")")) return false;
        b->args = {l, lo, hi};
        l = b;
        continue;
      }
      NodePtr r;
      if (op == "in" || op == "!in" || op == "in~" || op == "!in~" || op == "has_any" || op == "has_all" || op == "!has_any") {
        if (!ParseListOperand(&r)) return false;
      } else if (!ParseAdditive(&r)) {
        return false;
      }
      Binary(&l, op, l, r, p);
    }
    *out = l;
    return true;
  }

  // ( a, b, c ) | ( tabular ) | expression
  bool ParseListOperand(NodePtr* out) {
    if (!IsPunct("(")) return ParseAdditive(out);
    auto list = Make(NodeKind::kList, Take().pos);
    while (!IsPunct(")")) {
      NodePtr e;
      if (!ParsePipeExpr(&e)) return false;
      list->args.push_back(e);
      if (!Accept(",")) break;
    }
    if (!Expect(")")) return false;
    *out = list;
    return true;
  }

  bool ParseAdditive(NodePtr* out) {
    return ParseLevel(out, &Parser::ParseMultiplicative, [&] { return IsPunct("+") || IsPunct("-"); });
  }
  bool ParseMultiplicative(NodePtr* out) {
    return ParseLevel(out, &Parser::ParseUnary, [&] { return IsPunct("*") || IsPunct("/") || IsPunct("%"); });
  }

  bool ParseUnary(NodePtr* out) {
    if (IsPunct("-") || IsPunct("+")) {
      DepthGuard g(*this);
      if (!g.ok) return false;
      const Token& t = Take();
      auto n = Make(NodeKind::kUnary, t.pos);
      n->name = t.text;
      NodePtr e;
      if (!ParseUnary(&e)) return false;
      // Fold negative numeric literals so that datatable cells and limits stay literals.
      if (e->kind == NodeKind::kLiteral && !e->literal.null && n->name == "-") {
        auto lit = std::make_shared<Node>(*e);
        lit->pos = t.pos;
        if (lit->literal.type == Type::kReal) lit->literal.r = -lit->literal.r, *out = lit;
        else if (lit->literal.type == Type::kLong || lit->literal.type == Type::kTimespan || lit->literal.type == Type::kInt) lit->literal.i = static_cast<int64_t>(0ull - static_cast<uint64_t>(lit->literal.i)), *out = lit;  // wraps at INT64_MIN
        else n->args.push_back(e), *out = n;
        return true;
      }
      n->args.push_back(e);
      *out = n;
      return true;
    }
    return ParsePostfix(out);
  }

  bool ParsePostfix(NodePtr* out) {
    NodePtr e;
    if (!ParsePrimary(&e)) return false;
    while (true) {
      if (IsPunct(".") && (Peek(1).kind == TokenKind::kIdent)) {
        Pos p = Take().pos;
        auto m = Make(NodeKind::kMember, p);
        m->name = Take().text;
        m->args.push_back(e);
        e = m;
      } else if (IsPunct(".") && IsPunct("[", 1)) {
        Take();  // d.["key"] is the same as d["key"]
      } else if (IsPunct("[")) {
        Pos p = Take().pos;
        auto ix = Make(NodeKind::kIndex, p);
        NodePtr k;
        if (!ParseExpr(&k) || !Expect("]")) return false;
        ix->args = {e, k};
        e = ix;
      } else {
        break;
      }
    }
    *out = e;
    return true;
  }

  static bool IsTypeName(const std::string& s) {
    return s == "bool" || s == "boolean" || s == "int" || s == "long" || s == "real" || s == "double" || s == "decimal" ||
           s == "string" || s == "guid" || s == "dynamic";
  }

  bool ParsePrimary(NodePtr* out) {
    DepthGuard g(*this);
    if (!g.ok) return false;
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kString: {
        auto n = Make(NodeKind::kLiteral, t.pos);
        std::string s = Take().text;
        while (Peek().kind == TokenKind::kString) s += Take().text;  // "a" "b" == "ab"
        n->literal = Scalar::Str(std::move(s));
        *out = n;
        return true;
      }
      case TokenKind::kLong: {
        auto n = Make(NodeKind::kLiteral, t.pos);
        n->literal = Scalar::Long(Take().i);
        *out = n;
        return true;
      }
      case TokenKind::kReal: {
        auto n = Make(NodeKind::kLiteral, t.pos);
        n->literal = Scalar::Real(Take().r);
        *out = n;
        return true;
      }
      case TokenKind::kTimespan: {
        auto n = Make(NodeKind::kLiteral, t.pos);
        n->literal = Scalar::Timespan(Take().i);
        *out = n;
        return true;
      }
      case TokenKind::kPunct: {
        if (t.text == "(") {
          Pos p = Take().pos;
          NodePtr first;
          if (!ParsePipeExpr(&first)) return false;
          if (IsPunct(",")) {
            auto list = Make(NodeKind::kList, p);
            list->args.push_back(first);
            while (Accept(",")) {
              NodePtr e;
              if (!ParsePipeExpr(&e)) return false;
              list->args.push_back(e);
            }
            if (!Expect(")")) return false;
            *out = list;
            return true;
          }
          if (!Expect(")")) return false;
          *out = first;
          return true;
        }
        if (t.text == "[" && Peek(1).kind == TokenKind::kString && IsPunct("]", 2)) {
          auto n = Make(NodeKind::kName, Take().pos);
          n->name = Take().text;
          Take();
          *out = n;
          return true;
        }
        if (t.text == "*") {
          *out = Make(NodeKind::kStar, Take().pos);
          return true;
        }
        return FailHere("an expression");
      }
      case TokenKind::kIdent:
        return ParseIdentPrimary(out);
      default:
        return FailHere("an expression");
    }
  }

  bool ParseIdentPrimary(NodePtr* out) {
    const Token& t = Peek();
    const std::string word = t.text;
    const Pos pos = t.pos;
    if (word == "true" || word == "false") {
      Take();
      auto n = Make(NodeKind::kLiteral, pos);
      n->literal = Scalar::Bool(word == "true");
      *out = n;
      return true;
    }
    if ((word == "datetime" || word == "timespan" || word == "time") && Peek(1).kind == TokenKind::kRawParen) {
      Take();
      const Token& raw = Take();
      auto n = Make(NodeKind::kLiteral, pos);
      std::string text = raw.text;
      std::string trimmed = text;
      trimmed.erase(0, trimmed.find_first_not_of(" \t\r\n"));
      trimmed.erase(trimmed.find_last_not_of(" \t\r\n") + 1);
      int64_t ticks = 0;
      if (word == "datetime") {
        if (trimmed == "null") n->literal = Scalar::Null(Type::kDateTime);
        else if (ParseDateTimeText(trimmed, &ticks)) n->literal = Scalar::DateTime(ticks);
        else return Fail(raw, "Invalid datetime literal '" + trimmed + "'");
      } else {
        if (trimmed == "null") n->literal = Scalar::Null(Type::kTimespan);
        else if (ParseTimespanText(trimmed, &ticks)) n->literal = Scalar::Timespan(ticks);
        else return Fail(raw, "Invalid timespan literal '" + trimmed + "'");
      }
      *out = n;
      return true;
    }
    if (word == "dynamic" && IsPunct("(", 1)) {
      Take();
      Take();
      json::Value v;
      if (!ParseDynamicValue(&v)) return false;
      if (!Expect(")")) return false;
      auto n = Make(NodeKind::kLiteral, pos);
      n->literal = v.is_null() ? Scalar::Null(Type::kDynamic) : Scalar::Dynamic(v.Serialize());
      *out = n;
      return true;
    }
    if (word == "typeof" && IsPunct("(", 1)) {
      Take();
      Take();
      auto n = Make(NodeKind::kTypeof, pos);
      if (!ExpectIdent(&n->text) || !Expect(")")) return false;
      *out = n;
      return true;
    }
    if (IsTypeName(word) && word != "dynamic" && IsPunct("(", 1)) {
      // Typed literal: long(null), int(5), real(1.5), bool(true), guid(...).
      size_t save = i_;
      Take();
      Take();
      auto n = Make(NodeKind::kLiteral, pos);
      const Token& v = Peek();
      bool neg = false;
      if (IsPunct("-")) neg = true, Take();
      const Token& w = Peek();
      Type ty = word == "bool" || word == "boolean" ? Type::kBool : word == "int" ? Type::kInt : word == "long" ? Type::kLong
              : word == "string" ? Type::kString : word == "guid" ? Type::kGuid : Type::kReal;
      bool ok = true;
      if (w.kind == TokenKind::kIdent && w.text == "null" && !neg) {
        n->literal = Scalar::Null(ty);
      } else if (ty == Type::kBool && w.kind == TokenKind::kIdent && (w.text == "true" || w.text == "false")) {
        n->literal = Scalar::Bool(w.text == "true");
      } else if ((ty == Type::kInt || ty == Type::kLong) && w.kind == TokenKind::kLong) {
        n->literal = ty == Type::kInt ? Scalar::Int(neg ? -w.i : w.i) : Scalar::Long(neg ? -w.i : w.i);
      } else if (ty == Type::kReal && (w.kind == TokenKind::kLong || w.kind == TokenKind::kReal)) {
        double d = w.kind == TokenKind::kLong ? static_cast<double>(w.i) : w.r;
        n->literal = Scalar::Real(neg ? -d : d);
      } else if (ty == Type::kReal && w.kind == TokenKind::kIdent && (w.text == "nan" || w.text == "inf")) {
        n->literal = Scalar::Real(w.text == "nan" ? NAN : (neg ? -INFINITY : INFINITY));
      } else if ((ty == Type::kString || ty == Type::kGuid) && w.kind == TokenKind::kString) {
        n->literal = Scalar::Str(w.text);
        n->literal.type = ty;
      } else if (ty == Type::kGuid && (w.kind == TokenKind::kIdent || w.kind == TokenKind::kLong)) {
        // guid(74be27de-1e4e-49d9-b579-fe0b331d3642): raw token run up to ')'.
        std::string g;
        while (!AtEnd() && !IsPunct(")")) g += Take().kind == TokenKind::kLong ? std::to_string(t_[i_ - 1].i) : t_[i_ - 1].text;
        n->literal = Scalar::Str(g);
        n->literal.type = Type::kGuid;
        if (!Expect(")")) return false;
        *out = n;
        return true;
      } else {
        ok = false;
      }
      (void)v;
      if (ok) {
        Take();
        if (Accept(")")) {
          *out = n;
          return true;
        }
      }
      i_ = save;  // not a literal: a function call such as string(x)? Parse generically.
    }
    if (word == "datatable" && (IsPunct("(", 1))) return ParseDatatable(out);
    if (word == "union" && !IsPunct("=", 1)) {
      auto op = Make(NodeKind::kOperator, Take().pos);
      op->name = "union";
      if (!ParseUnionArgs(*op)) return false;
      *out = op;
      return true;
    }
    if (word == "print" && !IsPunct("(", 1)) {
      auto op = Make(NodeKind::kOperator, Take().pos);
      op->name = "print";
      if (!ParseList(op->args, true)) return false;
      *out = op;
      return true;
    }
    if (word == "range" && Peek(1).kind == TokenKind::kIdent && IsIdent("from", 2)) {
      auto op = Make(NodeKind::kOperator, Take().pos);
      op->name = "range";
      op->names.push_back(Take().text);
      Take();
      NodePtr a, b, c;
      if (!ParseExpr(&a)) return false;
      if (!AcceptIdent("to")) return FailHere("'to'");
      if (!ParseExpr(&b)) return false;
      if (!AcceptIdent("step")) return FailHere("'step'");
      if (!ParseExpr(&c)) return false;
      op->args = {a, b, c};
      *out = op;
      return true;
    }
    if ((word == "find" || word == "search") && !IsPunct("(", 1)) {
      auto op = Make(NodeKind::kOperator, Take().pos);
      op->name = word;
      if (!ParseFindOrSearch(*op)) return false;
      *out = op;
      return true;
    }
    if (word == "externaldata") {
      // Downloads from the internet: kept as an operator node so the binder names it as not supported.
      auto op = Make(NodeKind::kOperator, Take().pos);
      op->name = word;
      SkipToPipe();
      *out = op;
      return true;
    }
    Take();
    if (IsPunct("(")) {
      Take();
      auto call = Make(NodeKind::kCall, pos);
      call->name = word;
      while (!IsPunct(")")) {
        NodePtr a;
        if (IsPunct("*") && (IsPunct(",", 1) || IsPunct(")", 1))) {
          a = Make(NodeKind::kStar, Take().pos);
        } else if (Peek().kind == TokenKind::kIdent && IsPunct("=", 1)) {
          // Named argument (FileProfile(idCol="SHA1")): kept as kAssign.
          if (!ParseItem(&a, true)) return false;
        } else if (!ParsePipeExpr(&a)) {
          return false;
        }
        call->args.push_back(a);
        if (!Accept(",")) break;
      }
      if (!Expect(")")) return false;
      *out = call;
      return true;
    }
    auto n = Make(NodeKind::kName, pos);
    n->name = word;
    *out = n;
    return true;
  }

  bool ParseDatatable(NodePtr* out) {
    auto dt = Make(NodeKind::kDatatable, Take().pos);
    if (!Expect("(")) return false;
    while (!IsPunct(")")) {
      std::string name, type;
      if (IsPunct("[") && Peek(1).kind == TokenKind::kString) {
        Take();
        name = Take().text;
        if (!Expect("]")) return false;
      } else if (!ExpectIdent(&name)) {
        return false;
      }
      if (!Expect(":") || !ExpectIdent(&type)) return false;
      dt->names.push_back(name);
      dt->types.push_back(type);
      if (!Accept(",")) break;
    }
    if (!Expect(")") || !Expect("[")) return false;
    while (!IsPunct("]")) {
      NodePtr e;
      if (!ParseExpr(&e)) return false;
      dt->args.push_back(e);
      if (!Accept(",")) break;
    }
    if (!Expect("]")) return false;
    *out = dt;
    return true;
  }

  // dynamic(...) contents: JSON-like with KQL literals.
  bool ParseDynamicValue(json::Value* v) {
    DepthGuard g(*this);
    if (!g.ok) return false;
    if (Accept("[")) {
      *v = json::Value::Array();
      while (!IsPunct("]")) {
        json::Value item;
        if (!ParseDynamicValue(&item)) return false;
        v->Append(std::move(item));
        if (!Accept(",")) break;
      }
      return Expect("]");
    }
    if (Accept("{")) {
      *v = json::Value::Object();
      while (!IsPunct("}")) {
        std::string key;
        if (Peek().kind == TokenKind::kString || Peek().kind == TokenKind::kIdent) key = Take().text;
        else return FailHere("a property name");
        if (!Expect(":")) return false;
        json::Value item;
        if (!ParseDynamicValue(&item)) return false;
        v->Set(key, std::move(item));
        if (!Accept(",")) break;
      }
      return Expect("}");
    }
    bool neg = false;
    if (Accept("-")) neg = true;
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kString: *v = json::Value(Take().text); return true;
      case TokenKind::kLong: *v = json::Value(neg ? -Take().i : Take().i); return true;
      case TokenKind::kReal: *v = json::Value(neg ? -Take().r : Take().r); return true;
      case TokenKind::kTimespan: *v = json::Value(neg ? -Take().i : Take().i); return true;
      case TokenKind::kIdent:
        if (t.text == "null") return Take(), *v = json::Value(), true;
        if (t.text == "true" || t.text == "false") return *v = json::Value(Take().text == "true"), true;
        if (t.text == "datetime" && Peek(1).kind == TokenKind::kRawParen) {
          Take();
          int64_t ticks = 0;
          const Token& raw = Take();
          if (!ParseDateTimeText(raw.text, &ticks)) return Fail(raw, "Invalid datetime literal");
          *v = json::Value(FormatIsoTicks(ticks));
          return true;
        }
        return FailHere("a literal");
      default:
        return FailHere("a literal");
    }
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  SyntaxError error_;
};

}  // namespace

const char* NodeKindName(NodeKind k) {
  switch (k) {
    case NodeKind::kLiteral: return "literal";
    case NodeKind::kName: return "name";
    case NodeKind::kStar: return "*";
    case NodeKind::kCall: return "call";
    case NodeKind::kBinary: return "binary";
    case NodeKind::kUnary: return "unary";
    case NodeKind::kMember: return "member";
    case NodeKind::kIndex: return "index";
    case NodeKind::kBetween: return "between";
    case NodeKind::kList: return "list";
    case NodeKind::kAssign: return "assign";
    case NodeKind::kTypeof: return "typeof";
    case NodeKind::kSortKey: return "sortkey";
    case NodeKind::kPipe: return "pipe";
    case NodeKind::kOperator: return "operator";
    case NodeKind::kDatatable: return "datatable";
    case NodeKind::kLambda: return "lambda";
    case NodeKind::kLet: return "let";
  }
  return "?";
}

Result<Query> Parse(std::string_view text, QueryError* error) {
  if (text.size() > (4u << 20)) return Err(InvalidArgument("Syntax error: query text is too long"));
  SyntaxError lex_error;
  auto toks = Lex(text, &lex_error);
  if (!toks) {
    if (error) *error = QueryError{lex_error.pos.line, lex_error.pos.column, lex_error.message};
    return Err(toks.error());
  }
  return Parser(std::move(*toks)).Run(error);
}

}  // namespace ward::kql
