#pragma once
// JSON for the whole code base. simdjson (parse) and RapidJSON (write) are included only in
// src/json/*.cc, so including this header is cheap.
//
// Value is a small owned DOM for request bodies, claims and config: objects keep insertion order
// and duplicate keys are rejected at parse time. Writer streams JSON without building a DOM; use it
// for responses. Neither is thread-safe; both are movable.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::json {

enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

class Value;
struct Member;

class Value {
 public:
  // Constructors are defined below `Member`: clang instantiates the constexpr std::vector<Member>
  // destructor they need where they are defined, and Member must be complete there.
  Value() = default;  // null
  Value(std::nullptr_t);
  Value(bool b);
  Value(int v);
  Value(int64_t v);
  Value(uint32_t v);
  Value(double v);
  Value(const char* s);
  Value(std::string s);
  Value(std::string_view s);

  static Value Array();
  static Value Object();

  // Parses one JSON document. Rejects invalid UTF-8, trailing garbage, nesting deeper than
  // max_depth and duplicate object keys. Errors are InvalidArgument with a short reason.
  static Result<Value> Parse(std::string_view text, size_t max_depth = 64);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kDouble; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return type_ == Type::kDouble ? static_cast<int64_t>(double_) : int_; }
  double as_double() const { return type_ == Type::kInt ? static_cast<double>(int_) : double_; }
  const std::string& as_string() const { return string_; }
  const std::vector<Value>& items() const { return array_; }
  std::vector<Value>& items() { return array_; }
  const std::vector<Member>& members() const { return object_; }

  // Object access. Find returns nullptr when absent (or when this is not an object).
  // Keys match exactly; FindCaseInsensitive is for MDE bodies whose casing varies by client.
  const Value* Find(std::string_view key) const;
  const Value* FindCaseInsensitive(std::string_view key) const;
  // Sets (replacing) a member; turns a null value into an object.
  Value& Set(std::string_view key, Value v);
  bool Erase(std::string_view key);
  // Appends without looking for an existing key: for builders that know keys are distinct.
  void AppendMember(std::string_view key, Value v);
  void ReserveMembers(size_t n);
  // Appends to an array (turning a null value into one) and returns this array, so that
  // Value::Array().Append("a").Append("b") builds ["a","b"]. The new item is items().back().
  Value& Append(Value v);

  // Typed getters for optional members: nullopt when absent or of another type.
  std::optional<std::string> GetString(std::string_view key) const;
  std::optional<int64_t> GetInt(std::string_view key) const;
  std::optional<bool> GetBool(std::string_view key) const;

  std::string Serialize() const;

  friend bool operator==(const Value& a, const Value& b);

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<Value> array_;
  std::vector<Member> object_;
};

struct Member {
  std::string key;
  Value value;
};

inline Value::Value(std::nullptr_t) {}
inline Value::Value(bool b) : type_(Type::kBool), bool_(b) {}
inline Value::Value(int v) : type_(Type::kInt), int_(v) {}
inline Value::Value(int64_t v) : type_(Type::kInt), int_(v) {}
inline Value::Value(uint32_t v) : type_(Type::kInt), int_(v) {}
inline Value::Value(double v) : type_(Type::kDouble), double_(v) {}
inline Value::Value(const char* s) : type_(Type::kString), string_(s) {}
inline Value::Value(std::string s) : type_(Type::kString), string_(std::move(s)) {}
inline Value::Value(std::string_view s) : type_(Type::kString), string_(s) {}
inline Value Value::Array() { Value v; v.type_ = Type::kArray; return v; }
inline Value Value::Object() { Value v; v.type_ = Type::kObject; return v; }


// Reads flat JSON objects without building a DOM (telemetry ingest's hot path): one document that is
// an object, or an array of objects. Field keys and string values are views into the reader's
// buffers, valid until its next Read; nested objects and arrays come as their compact JSON text.
// Parsing rules are those of Value::Parse (invalid UTF-8, trailing garbage, nesting deeper than
// max_depth are refused); duplicate keys make that object an error. Not thread-safe; reuse one per thread.
struct FieldValue {
  Type type = Type::kNull;  // kNull, kBool, kInt, kDouble, kString, or kArray/kObject (see text)
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string_view text;  // kString: the string; kArray/kObject: compact JSON text
  bool is_number() const { return type == Type::kInt || type == Type::kDouble; }
  double as_double() const { return type == Type::kInt ? static_cast<double>(i) : d; }
};
struct Field {
  std::string_view key;
  FieldValue value;
};

class FlatObjectReader {
 public:
  FlatObjectReader();
  ~FlatObjectReader();
  FlatObjectReader(const FlatObjectReader&) = delete;
  FlatObjectReader& operator=(const FlatObjectReader&) = delete;

  // Parses one document. InvalidArgument when it is not valid JSON or neither an object nor an array.
  Status Read(std::string_view text, size_t max_depth = 64);
  bool is_array() const;
  size_t size() const;  // objects (elements) in the document: 1 for an object
  // The fields of element i, in document order; InvalidArgument when it is not an object or repeats
  // a key. The vector is reused by the next call.
  Result<const std::vector<Field>*> Object(size_t i);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Streaming writer. Calls must form valid JSON (asserted in debug builds by RapidJSON).
class Writer {
 public:
  Writer();
  ~Writer();
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;

  Writer& StartObject();
  Writer& EndObject();
  Writer& StartArray();
  Writer& EndArray();
  Writer& Key(std::string_view k);
  Writer& String(std::string_view s);
  Writer& Int(int64_t v);
  Writer& Double(double v);
  Writer& Bool(bool b);
  Writer& Null();
  Writer& Val(const Value& v);  // writes a whole DOM value
  // Writes `text` as a value, unchanged: the caller guarantees it is one valid JSON value
  // (see IsValidJson). For JSON that is already text, such as stored dynamic columns.
  Writer& Raw(std::string_view text);
  // Key + value shorthands.
  Writer& KV(std::string_view k, std::string_view v) { return Key(k).String(v); }
  Writer& KV(std::string_view k, const char* v) { return Key(k).String(v); }
  Writer& KV(std::string_view k, const std::string& v) { return Key(k).String(v); }
  Writer& KV(std::string_view k, int64_t v) { return Key(k).Int(v); }
  Writer& KV(std::string_view k, int v) { return Key(k).Int(v); }
  Writer& KV(std::string_view k, bool v) { return Key(k).Bool(v); }
  Writer& KV(std::string_view k, const Value& v) { return Key(k).Val(v); }
  // A string, or null when empty/absent (MDE uses null for unknown values).
  Writer& KVOrNull(std::string_view k, const std::optional<std::string>& v);

  const std::string& str() const;
  std::string Take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether text is exactly one well-formed JSON value (duplicate keys are not checked).
bool IsValidJson(std::string_view text);

// Escapes s as a JSON string literal including the quotes.
std::string Quote(std::string_view s);

}  // namespace ward::json
