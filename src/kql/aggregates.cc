// Aggregate functions of `summarize` (hunting-schema.md §2), registered as data in kAggregates.
// Nulls are ignored; count/dcount/sum default to 0, make_set/make_list to [], make_bag to {}, the others to null.
#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "json/json.h"
#include "kql/functions.h"

namespace ward::kql {
namespace {

bool Counted(const uint8_t* mask, size_t i) { return mask == nullptr || mask[i]; }

// A long per group, never null (count, dcount): the shared result side.
class CountingAcc : public Accumulator {
 public:
  void Finish(size_t groups, std::vector<Column>& out) override {
    n_.resize(groups);
    Column c = NewColumn(Type::kLong, groups);
    c.ints = n_;
    c.nulls.assign(groups, 0);
    out.push_back(std::move(c));
  }

 protected:
  std::vector<int64_t> n_;
};

class CountAcc : public CountingAcc {
 public:
  void Add(const std::vector<const Column*>&, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    n_.resize(groups);
    for (size_t i = 0; i < g.size(); ++i) n_[g[i]] += Counted(mask, i);
  }
};

class DCountAcc : public CountingAcc {
 public:
  // One KeyIndex over (group, value) pairs rather than a hash set per group.
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    n_.resize(groups);
    std::string key;
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i) || IsNull(*a[0], i)) continue;
      key.assign(reinterpret_cast<const char*>(&g[i]), sizeof g[i]);
      AppendKey(key, *a[0], i);
      bool fresh;
      seen_.Insert(key, &fresh);
      n_[g[i]] += fresh;
    }
  }

 private:
  KeyIndex seen_;
};

double Real(const Column& c, size_t i) { return RealRep(c.type) ? c.reals[At(c, i)] : static_cast<double>(c.ints[At(c, i)]); }

class SumAcc : public Accumulator {
 public:
  SumAcc(Type out, bool avg) : out_(out), avg_(avg) {}
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    isum_.resize(groups), rsum_.resize(groups), n_.resize(groups);
    const Column& c = *a[0];
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i) || IsNull(c, i)) continue;
      if (c.type == Type::kDynamic) {
        Scalar s = ConvertCell(c, i, Type::kReal);
        if (s.null) continue;
        rsum_[g[i]] += s.r;
      } else if (IntRep(c.type)) {
        isum_[g[i]] = static_cast<int64_t>(static_cast<uint64_t>(isum_[g[i]]) + static_cast<uint64_t>(c.ints[At(c, i)]));
        rsum_[g[i]] += static_cast<double>(c.ints[At(c, i)]);
      } else {
        rsum_[g[i]] += c.reals[At(c, i)];
      }
      ++n_[g[i]];
    }
  }
  void Finish(size_t groups, std::vector<Column>& out) override {
    isum_.resize(groups), rsum_.resize(groups), n_.resize(groups);
    Column c = NewColumn(out_, groups);
    for (size_t k = 0; k < groups; ++k) {
      if (avg_) {
        if (n_[k] == 0) AppendNull(c);
        else c.reals.push_back(rsum_[k] / static_cast<double>(n_[k])), c.nulls.push_back(0);
      } else if (IntRep(out_)) {
        c.ints.push_back(isum_[k]), c.nulls.push_back(0);
      } else {
        c.reals.push_back(rsum_[k]), c.nulls.push_back(0);
      }
    }
    out.push_back(std::move(c));
  }

 private:
  Type out_;
  bool avg_;
  std::vector<int64_t> isum_;
  std::vector<double> rsum_;
  std::vector<int64_t> n_;
};

// Compares two cells of one column (same type): -1/0/1.
int CellCmp(const Column& c, size_t i, size_t j) {
  if (IntRep(c.type)) return c.ints[At(c, i)] < c.ints[At(c, j)] ? -1 : c.ints[At(c, i)] > c.ints[At(c, j)];
  if (RealRep(c.type)) return c.reals[At(c, i)] < c.reals[At(c, j)] ? -1 : c.reals[At(c, i)] > c.reals[At(c, j)];
  int r = c.strings[At(c, i)].compare(c.strings[At(c, j)]);
  return r < 0 ? -1 : r > 0;
}

// min/max and arg_min/arg_max: the row holding the extreme value of args[0] per group; outputs
// args[0] (min/max) or every argument (arg_*) from that row.
class ExtremeAcc : public Accumulator {
 public:
  ExtremeAcc(bool max, bool all_args, std::vector<Type> out_types) : max_(max), all_(all_args), types_(std::move(out_types)) {}
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    best_.resize(groups, -1);
    const Column& c = *a[0];
    args_ = a;
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i) || IsNull(c, i)) continue;
      if (RealRep(c.type) && std::isnan(c.reals[At(c, i)])) continue;
      int64_t& b = best_[g[i]];
      if (b < 0) {
        b = static_cast<int64_t>(i);
        continue;
      }
      int r = CellCmp(c, i, static_cast<size_t>(b));
      if ((max_ && r > 0) || (!max_ && r < 0)) b = static_cast<int64_t>(i);
    }
  }
  void Finish(size_t groups, std::vector<Column>& out) override {
    best_.resize(groups, -1);
    size_t outs = all_ ? args_.size() : 1;
    for (size_t k = 0; k < outs; ++k) {
      Column c = NewColumn(k < types_.size() ? types_[k] : args_[k]->type, groups);
      for (size_t grp = 0; grp < groups; ++grp) {
        if (best_[grp] < 0 || args_.empty()) AppendNull(c);
        else AppendFrom(c, *args_[k], static_cast<size_t>(best_[grp]));
      }
      out.push_back(std::move(c));
    }
  }

 private:
  bool max_, all_;
  std::vector<Type> types_;
  std::vector<int64_t> best_;
  std::vector<const Column*> args_;
};

// any(): the first row of each group (non-null first argument preferred).
class AnyAcc : public Accumulator {
 public:
  explicit AnyAcc(std::vector<Type> types) : types_(std::move(types)) {}
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    row_.resize(groups, -1);
    args_ = a;
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i)) continue;
      int64_t& r = row_[g[i]];
      if (r < 0 || (IsNull(*a[0], static_cast<size_t>(r)) && !IsNull(*a[0], i))) r = static_cast<int64_t>(i);
    }
  }
  void Finish(size_t groups, std::vector<Column>& out) override {
    row_.resize(groups, -1);
    for (size_t k = 0; k < args_.size(); ++k) {
      Column c = NewColumn(types_[k], groups);
      for (size_t grp = 0; grp < groups; ++grp) {
        if (row_[grp] < 0) AppendNull(c);
        else AppendFrom(c, *args_[k], static_cast<size_t>(row_[grp]));
      }
      out.push_back(std::move(c));
    }
  }

 private:
  std::vector<Type> types_;
  std::vector<int64_t> row_;
  std::vector<const Column*> args_;
};

// make_set / make_list: JSON arrays; make_set flattens array inputs (set union) and dedupes.
class MakeAcc : public Accumulator {
 public:
  explicit MakeAcc(bool set) : set_(set) {}
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    items_.resize(groups), seen_.resize(groups);
    const Column& c = *a[0];
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i) || IsNull(c, i)) continue;
      size_t max = a.size() > 1 && !IsNull(*a[1], i) ? static_cast<size_t>(std::max<int64_t>(0, a[1]->ints.empty() ? 0 : a[1]->ints[At(*a[1], i)])) : 1048576;
      if (max == 0) max = 1048576;
      auto& list = items_[g[i]];
      auto push = [&](std::string v) {
        if (list.size() >= max) return;
        if (set_ && !seen_[g[i]].insert(v).second) return;
        list.push_back(std::move(v));
      };
      if (set_ && c.type == Type::kDynamic) {
        auto v = json::Value::Parse(c.strings[At(c, i)]);
        if (v && v->is_array()) {
          for (const auto& e : v->items()) push(e.Serialize());
          continue;
        }
      }
      push(CellToJson(c, i));
    }
  }
  void Finish(size_t groups, std::vector<Column>& out) override {
    items_.resize(groups);
    Column c = NewColumn(Type::kDynamic, groups);
    for (auto& list : items_) {
      std::string s = "[";
      for (size_t k = 0; k < list.size(); ++k) s += (k ? "," : "") + list[k];
      s += "]";
      c.strings.push_back(std::move(s));
      c.nulls.push_back(0);
    }
    out.push_back(std::move(c));
  }

 private:
  bool set_;
  std::vector<std::vector<std::string>> items_;
  std::vector<std::unordered_set<std::string>> seen_;
};

// make_bag(X [, max]): the union of the group's property bags; a key seen again keeps its first
// value (Kusto picks an arbitrary one); values that are not bags are ignored.
class MakeBagAcc : public Accumulator {
 public:
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    bags_.resize(groups);
    const Column& c = *a[0];
    if (c.type != Type::kDynamic) return;
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i) || IsNull(c, i)) continue;
      size_t max = a.size() > 1 && !IsNull(*a[1], i) && !a[1]->ints.empty() ? static_cast<size_t>(std::max<int64_t>(0, a[1]->ints[At(*a[1], i)])) : 0;
      if (max == 0) max = 1048576;
      auto v = json::Value::Parse(c.strings[At(c, i)]);
      if (!v || !v->is_object()) continue;
      json::Value& bag = bags_[g[i]];
      for (const auto& m : v->members()) {
        if (bag.is_object() && (bag.members().size() >= max || bag.Find(m.key))) continue;
        bag.Set(m.key, m.value);
      }
    }
  }
  void Finish(size_t groups, std::vector<Column>& out) override {
    bags_.resize(groups);
    Column c = NewColumn(Type::kDynamic, groups);
    for (const json::Value& b : bags_) {
      c.strings.push_back(b.is_object() ? b.Serialize() : "{}");
      c.nulls.push_back(0);
    }
    out.push_back(std::move(c));
  }

 private:
  std::vector<json::Value> bags_;
};

// percentile(X, p) / percentiles(X, p1, p2 …): nearest-rank over the group's values.
class PercentileAcc : public Accumulator {
 public:
  explicit PercentileAcc(Type t) : type_(t) {}
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    vals_.resize(groups);
    for (size_t k = 1; k < a.size(); ++k) ps_.push_back(IsNull(*a[k], 0) ? 50 : Real(*a[k], 0));
    if (ps_.size() > a.size() - 1) ps_.resize(a.size() - 1);
    const Column& c = *a[0];
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i) || IsNull(c, i)) continue;
      vals_[g[i]].push_back(c.type == Type::kDynamic ? ConvertCell(c, i, Type::kReal).r : Real(c, i));
    }
  }
  void Finish(size_t groups, std::vector<Column>& out) override {
    vals_.resize(groups);
    for (auto& v : vals_) std::sort(v.begin(), v.end());
    for (double p : ps_) {
      Column c = NewColumn(type_, groups);
      for (auto& v : vals_) {
        if (v.empty()) {
          AppendNull(c);
          continue;
        }
        size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
        double x = v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
        if (IntRep(type_)) c.ints.push_back(static_cast<int64_t>(x));
        else c.reals.push_back(x);
        c.nulls.push_back(0);
      }
      out.push_back(std::move(c));
    }
  }

 private:
  Type type_;
  std::vector<double> ps_;
  std::vector<std::vector<double>> vals_;
};

class StdevAcc : public Accumulator {
 public:
  explicit StdevAcc(bool variance) : variance_(variance) {}
  void Add(const std::vector<const Column*>& a, const std::vector<uint32_t>& g, const uint8_t* mask, size_t groups) override {
    s_.resize(groups), s2_.resize(groups), n_.resize(groups);
    for (size_t i = 0; i < g.size(); ++i) {
      if (!Counted(mask, i) || IsNull(*a[0], i)) continue;
      double x = Real(*a[0], i);
      s_[g[i]] += x, s2_[g[i]] += x * x, ++n_[g[i]];
    }
  }
  void Finish(size_t groups, std::vector<Column>& out) override {
    s_.resize(groups), s2_.resize(groups), n_.resize(groups);
    Column c = NewColumn(Type::kReal, groups);
    for (size_t k = 0; k < groups; ++k) {
      if (n_[k] == 0) {
        AppendNull(c);
        continue;
      }
      double n = static_cast<double>(n_[k]);
      double var = n > 1 ? (s2_[k] - s_[k] * s_[k] / n) / (n - 1) : 0;  // sample variance, as Kusto
      c.reals.push_back(variance_ ? var : std::sqrt(std::max(0.0, var)));
      c.nulls.push_back(0);
    }
    out.push_back(std::move(c));
  }

 private:
  bool variance_;
  std::vector<double> s_, s2_;
  std::vector<int64_t> n_;
};

// ---- result types
template <Type T>
Result<Type> Fixed(const std::vector<Type>&) {
  return T;
}
Result<Type> SumType(const std::vector<Type>& a) {
  if (a[0] == Type::kInt || a[0] == Type::kLong || a[0] == Type::kBool) return Type::kLong;
  if (a[0] == Type::kTimespan) return Type::kTimespan;
  if (Numeric(a[0]) || a[0] == Type::kDynamic) return Type::kReal;
  return Err(InvalidArgument(std::string("sum(): argument of type ") + TypeName(a[0]) + " is not numeric"));
}
Result<Type> FirstType(const std::vector<Type>& a) { return a[0]; }
Result<Type> PercentileType(const std::vector<Type>& a) { return Numeric(a[0]) && !RealRep(a[0]) ? Type::kLong : a[0] == Type::kDynamic ? Type::kReal : a[0]; }

// ---- factories
std::unique_ptr<Accumulator> MakeCount(const std::vector<Type>&, const std::vector<Type>&) { return std::make_unique<CountAcc>(); }
std::unique_ptr<Accumulator> MakeDCount(const std::vector<Type>&, const std::vector<Type>&) { return std::make_unique<DCountAcc>(); }
std::unique_ptr<Accumulator> MakeSum(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<SumAcc>(o[0], false); }
std::unique_ptr<Accumulator> MakeAvg(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<SumAcc>(o[0], true); }
std::unique_ptr<Accumulator> MakeMin(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<ExtremeAcc>(false, false, o); }
std::unique_ptr<Accumulator> MakeMax(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<ExtremeAcc>(true, false, o); }
std::unique_ptr<Accumulator> MakeArgMin(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<ExtremeAcc>(false, true, o); }
std::unique_ptr<Accumulator> MakeArgMax(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<ExtremeAcc>(true, true, o); }
std::unique_ptr<Accumulator> MakeAny(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<AnyAcc>(o); }
std::unique_ptr<Accumulator> MakeSetAcc(const std::vector<Type>&, const std::vector<Type>&) { return std::make_unique<MakeAcc>(true); }
std::unique_ptr<Accumulator> MakeListAcc(const std::vector<Type>&, const std::vector<Type>&) { return std::make_unique<MakeAcc>(false); }
std::unique_ptr<Accumulator> MakeBag(const std::vector<Type>&, const std::vector<Type>&) { return std::make_unique<MakeBagAcc>(); }
std::unique_ptr<Accumulator> MakePercentile(const std::vector<Type>&, const std::vector<Type>& o) { return std::make_unique<PercentileAcc>(o[0]); }
std::unique_ptr<Accumulator> MakeStdev(const std::vector<Type>&, const std::vector<Type>&) { return std::make_unique<StdevAcc>(false); }
std::unique_ptr<Accumulator> MakeVariance(const std::vector<Type>&, const std::vector<Type>&) { return std::make_unique<StdevAcc>(true); }

// Multi-output aggregates (arg_max, any, percentiles) get their output list from the binder.
const AggregateDef kAggregates[] = {
    {"count", 0, 1, "count_", -1, Fixed<Type::kLong>, MakeCount},
    {"countif", 1, 1, "countif_", 0, Fixed<Type::kLong>, MakeCount},
    {"dcount", 1, 2, "dcount_", -1, Fixed<Type::kLong>, MakeDCount},
    {"dcountif", 2, 3, "dcountif_", 1, Fixed<Type::kLong>, MakeDCount},
    {"count_distinct", 1, 1, "count_distinct_", -1, Fixed<Type::kLong>, MakeDCount},
    {"sum", 1, 1, "sum_", -1, SumType, MakeSum},
    {"sumif", 2, 2, "sumif_", 1, SumType, MakeSum},
    {"avg", 1, 1, "avg_", -1, Fixed<Type::kReal>, MakeAvg},
    {"avgif", 2, 2, "avgif_", 1, Fixed<Type::kReal>, MakeAvg},
    {"min", 1, 1, "min_", -1, FirstType, MakeMin},
    {"max", 1, 1, "max_", -1, FirstType, MakeMax},
    {"minif", 2, 2, "minif_", 1, FirstType, MakeMin},
    {"maxif", 2, 2, "maxif_", 1, FirstType, MakeMax},
    {"arg_max", 1, -1, "", -1, FirstType, MakeArgMax},
    {"argmax", 1, -1, "", -1, FirstType, MakeArgMax},
    {"arg_min", 1, -1, "", -1, FirstType, MakeArgMin},
    {"argmin", 1, -1, "", -1, FirstType, MakeArgMin},
    {"any", 1, -1, "", -1, FirstType, MakeAny},
    {"take_any", 1, -1, "", -1, FirstType, MakeAny},
    {"make_set", 1, 2, "set_", -1, Fixed<Type::kDynamic>, MakeSetAcc},
    {"makeset", 1, 2, "set_", -1, Fixed<Type::kDynamic>, MakeSetAcc},
    {"make_set_if", 2, 3, "set_", 1, Fixed<Type::kDynamic>, MakeSetAcc},
    {"make_list", 1, 2, "list_", -1, Fixed<Type::kDynamic>, MakeListAcc},
    {"makelist", 1, 2, "list_", -1, Fixed<Type::kDynamic>, MakeListAcc},
    {"make_list_if", 2, 3, "list_", 1, Fixed<Type::kDynamic>, MakeListAcc},
    {"make_bag", 1, 2, "bag_", -1, Fixed<Type::kDynamic>, MakeBag},
    {"make_bag_if", 2, 3, "bag_", 1, Fixed<Type::kDynamic>, MakeBag},
    {"percentile", 2, 2, "percentile_", -1, PercentileType, MakePercentile},
    {"percentiles", 2, -1, "percentile_", -1, PercentileType, MakePercentile},
    {"stdev", 1, 1, "stdev_", -1, Fixed<Type::kReal>, MakeStdev},
    {"variance", 1, 1, "variance_", -1, Fixed<Type::kReal>, MakeVariance},
};

}  // namespace

const AggregateDef* FindAggregate(std::string_view name) {
  for (const AggregateDef& a : kAggregates) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace ward::kql
