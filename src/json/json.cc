// The only translation unit that includes simdjson and RapidJSON.
#define RAPIDJSON_HAS_STDSTRING 1
#include "json/json.h"
#include "common/strings.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>

namespace ward::json {
namespace {

Status ConvertElement(simdjson::dom::element el, size_t depth, size_t max_depth, Value* out) {
  if (depth > max_depth) return InvalidArgument("JSON nesting too deep");
  using simdjson::dom::element_type;
  switch (el.type()) {
    case element_type::NULL_VALUE: *out = Value(); return Status::Ok();
    case element_type::BOOL: *out = Value(bool(el.get_bool().value_unsafe())); return Status::Ok();
    case element_type::INT64: *out = Value(int64_t(el.get_int64().value_unsafe())); return Status::Ok();
    case element_type::UINT64: {
      uint64_t u = el.get_uint64().value_unsafe();
      *out = Value(static_cast<double>(u));
      return Status::Ok();
    }
    case element_type::DOUBLE: *out = Value(el.get_double().value_unsafe()); return Status::Ok();
    case element_type::STRING: *out = Value(std::string_view(el.get_string().value_unsafe())); return Status::Ok();
    case element_type::ARRAY: {
      *out = Value::Array();
      simdjson::dom::array arr;
      if (el.get_array().get(arr)) return Internal("array expected");
      out->items().reserve(arr.size());
      for (simdjson::dom::element child : arr) {
        Value v;
        Status st = ConvertElement(child, depth + 1, max_depth, &v);
        if (!st.ok()) return st;
        out->Append(std::move(v));
      }
      return Status::Ok();
    }
    case element_type::OBJECT: {
      *out = Value::Object();
      simdjson::dom::object obj;
      if (el.get_object().get(obj)) return Internal("object expected");
      out->ReserveMembers(obj.size());
      for (auto field : obj) {
        if (out->Find(field.key) != nullptr) {
          return InvalidArgument("duplicate key '" + std::string(field.key) + "'");
        }
        Value v;
        Status st = ConvertElement(field.value, depth + 1, max_depth, &v);
        if (!st.ok()) return st;
        out->AppendMember(field.key, std::move(v));
      }
      return Status::Ok();
    }
  }
  return Internal("unknown JSON element type");
}

}  // namespace

Result<Value> Value::Parse(std::string_view text, size_t max_depth) {
  // One parser per thread: simdjson reuses its buffers across documents.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root);
  if (err) return Err(InvalidArgument(std::string("malformed JSON: ") + simdjson::error_message(err)));
  Value out;
  Status st = ConvertElement(root, 0, max_depth, &out);
  if (!st.ok()) return Err(st);
  return out;
}

const Value* Value::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const Member& m : object_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

const Value* Value::FindCaseInsensitive(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  if (const Value* exact = Find(key)) return exact;
  for (const Member& m : object_) {
    if (EqualsIgnoreCase(m.key, key)) return &m.value;
  }
  return nullptr;
}

Value& Value::Set(std::string_view key, Value v) {
  if (type_ == Type::kNull) type_ = Type::kObject;
  for (Member& m : object_) {
    if (m.key == key) {
      m.value = std::move(v);
      return m.value;
    }
  }
  object_.push_back(Member{std::string(key), std::move(v)});
  return object_.back().value;
}

void Value::ReserveMembers(size_t n) {
  if (type_ == Type::kNull) type_ = Type::kObject;
  object_.reserve(n);
}

void Value::AppendMember(std::string_view key, Value v) {
  if (type_ == Type::kNull) type_ = Type::kObject;
  object_.push_back(Member{std::string(key), std::move(v)});
}

bool Value::Erase(std::string_view key) {
  auto it = std::find_if(object_.begin(), object_.end(), [&](const Member& m) { return m.key == key; });
  if (it == object_.end()) return false;
  object_.erase(it);
  return true;
}

Value& Value::Append(Value v) {
  if (type_ == Type::kNull) type_ = Type::kArray;
  array_.push_back(std::move(v));
  return *this;
}

std::optional<std::string> Value::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->as_string();
}

std::optional<int64_t> Value::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr || !v->is_int()) return std::nullopt;
  return v->as_int();
}

std::optional<bool> Value::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}

bool operator==(const Value& a, const Value& b) {
  if (a.type_ != b.type_) {
    return a.is_number() && b.is_number() && a.as_double() == b.as_double();
  }
  switch (a.type_) {
    case Type::kNull: return true;
    case Type::kBool: return a.bool_ == b.bool_;
    case Type::kInt: return a.int_ == b.int_;
    case Type::kDouble: return a.double_ == b.double_;
    case Type::kString: return a.string_ == b.string_;
    case Type::kArray: return a.array_ == b.array_;
    case Type::kObject:
      if (a.object_.size() != b.object_.size()) return false;
      for (size_t i = 0; i < a.object_.size(); ++i) {
        if (a.object_[i].key != b.object_[i].key || !(a.object_[i].value == b.object_[i].value)) return false;
      }
      return true;
  }
  return false;
}

std::string Value::Serialize() const {
  Writer w;
  w.Val(*this);
  return w.Take();
}

struct Writer::Impl {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  std::string out;
  bool taken = false;
};

Writer::Writer() : impl_(std::make_unique<Impl>()) {}
Writer::~Writer() = default;
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;

Writer& Writer::StartObject() { impl_->writer.StartObject(); return *this; }
Writer& Writer::EndObject() { impl_->writer.EndObject(); return *this; }
Writer& Writer::StartArray() { impl_->writer.StartArray(); return *this; }
Writer& Writer::EndArray() { impl_->writer.EndArray(); return *this; }
Writer& Writer::Key(std::string_view k) {
  impl_->writer.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  return *this;
}
Writer& Writer::String(std::string_view s) {
  impl_->writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return *this;
}
Writer& Writer::Int(int64_t v) { impl_->writer.Int64(v); return *this; }
Writer& Writer::Double(double v) {
  // RapidJSON refuses NaN/Inf; JSON has no spelling for them, so they become null.
  if (v != v || v == 1.0 / 0.0 || v == -1.0 / 0.0) {
    impl_->writer.Null();
  } else {
    impl_->writer.Double(v);
  }
  return *this;
}
Writer& Writer::Bool(bool b) { impl_->writer.Bool(b); return *this; }
Writer& Writer::Null() { impl_->writer.Null(); return *this; }
Writer& Writer::Raw(std::string_view text) {
  impl_->writer.RawValue(text.data(), text.size(), rapidjson::kObjectType);
  return *this;
}

bool IsValidJson(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  return !parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root);
}

Writer& Writer::Val(const Value& v) {
  switch (v.type()) {
    case Type::kNull: return Null();
    case Type::kBool: return Bool(v.as_bool());
    case Type::kInt: return Int(v.as_int());
    case Type::kDouble: return Double(v.as_double());
    case Type::kString: return String(v.as_string());
    case Type::kArray:
      StartArray();
      for (const Value& item : v.items()) Val(item);
      return EndArray();
    case Type::kObject:
      StartObject();
      for (const Member& m : v.members()) {
        Key(m.key);
        Val(m.value);
      }
      return EndObject();
  }
  return *this;
}

Writer& Writer::KVOrNull(std::string_view k, const std::optional<std::string>& v) {
  Key(k);
  if (v && !v->empty()) return String(*v);
  return Null();
}

const std::string& Writer::str() const {
  impl_->out.assign(impl_->buffer.GetString(), impl_->buffer.GetSize());
  return impl_->out;
}

std::string Writer::Take() {
  return std::string(impl_->buffer.GetString(), impl_->buffer.GetSize());
}

std::string Quote(std::string_view s) {
  Writer w;
  w.String(s);
  return w.Take();
}

struct FlatObjectReader::Impl {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array array;
  bool is_array = false;
  size_t max_depth = 64;
  std::vector<Field> fields;
  std::vector<std::string> nested;  // compact JSON of nested values, for this object
};

namespace {
// Depth of a nested value, bounded (so a hostile document cannot recurse deeply).
bool WithinDepth(simdjson::dom::element el, size_t depth, size_t max_depth) {
  if (depth > max_depth) return false;
  simdjson::dom::array arr;
  simdjson::dom::object obj;
  if (!el.get_array().get(arr)) {
    for (simdjson::dom::element child : arr) {
      if (!WithinDepth(child, depth + 1, max_depth)) return false;
    }
  } else if (!el.get_object().get(obj)) {
    for (auto field : obj) {
      if (!WithinDepth(field.value, depth + 1, max_depth)) return false;
    }
  }
  return true;
}
}  // namespace

FlatObjectReader::FlatObjectReader() : impl_(std::make_unique<Impl>()) {}
FlatObjectReader::~FlatObjectReader() = default;

Status FlatObjectReader::Read(std::string_view text, size_t max_depth) {
  Impl& im = *impl_;
  im.max_depth = max_depth;
  auto err = im.parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(im.root);
  if (err) return InvalidArgument(std::string("malformed JSON: ") + simdjson::error_message(err));
  im.is_array = !im.root.get_array().get(im.array);
  if (!im.is_array && im.root.type() != simdjson::dom::element_type::OBJECT) {
    return InvalidArgument("a JSON object or an array of objects is expected");
  }
  return Status::Ok();
}

bool FlatObjectReader::is_array() const { return impl_->is_array; }
size_t FlatObjectReader::size() const { return impl_->is_array ? impl_->array.size() : 1; }

Result<const std::vector<Field>*> FlatObjectReader::Object(size_t i) {
  Impl& im = *impl_;
  simdjson::dom::element el = im.root;
  if (im.is_array) {
    if (im.array.at(i).get(el)) return Err(InvalidArgument("no element " + std::to_string(i)));
  }
  simdjson::dom::object obj;
  if (el.get_object().get(obj)) return Err(InvalidArgument("event is not a JSON object"));
  im.fields.clear();
  im.nested.clear();
  im.nested.reserve(obj.size());  // views into it must not move
  for (auto member : obj) {
    Field f;
    f.key = member.key;
    for (const Field& seen : im.fields) {
      if (seen.key == f.key) return Err(InvalidArgument("duplicate key '" + std::string(f.key) + "'"));
    }
    using simdjson::dom::element_type;
    simdjson::dom::element v = member.value;
    switch (v.type()) {
      case element_type::NULL_VALUE: f.value.type = Type::kNull; break;
      case element_type::BOOL: f.value.type = Type::kBool; f.value.b = v.get_bool().value_unsafe(); break;
      case element_type::INT64: f.value.type = Type::kInt; f.value.i = v.get_int64().value_unsafe(); break;
      case element_type::UINT64:  // beyond int64: a double, as Value::Parse does
        f.value.type = Type::kDouble;
        f.value.d = static_cast<double>(v.get_uint64().value_unsafe());
        break;
      case element_type::DOUBLE: f.value.type = Type::kDouble; f.value.d = v.get_double().value_unsafe(); break;
      case element_type::STRING: f.value.type = Type::kString; f.value.text = v.get_string().value_unsafe(); break;
      case element_type::ARRAY:
      case element_type::OBJECT:
        if (!WithinDepth(v, 2, im.max_depth)) return Err(InvalidArgument("JSON nesting too deep"));
        f.value.type = v.type() == element_type::ARRAY ? Type::kArray : Type::kObject;
        im.nested.push_back(simdjson::minify(v));
        f.value.text = im.nested.back();
        break;
    }
    im.fields.push_back(f);
  }
  return &im.fields;
}

}  // namespace ward::json
