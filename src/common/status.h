#pragma once
// Status and Result<T>: errors as values across module boundaries.
// Codes are canonical and map onto HTTP statuses and MDE error codes in src/api.
#include <expected>
#include <string>
#include <utility>

namespace ward {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // 400
  kUnauthenticated,     // 401
  kPermissionDenied,    // 403
  kNotFound,            // 404
  kAlreadyExists,       // 409
  kFailedPrecondition,  // 400 (state does not allow the operation)
  kResourceExhausted,   // 429 / 413
  kUnavailable,         // 503
  kInternal,            // 500
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // Lets WARD_ASSIGN_OR_RETURN / Err() work in functions that return a plain Status.
  Status(std::unexpected<Status> e) : Status(std::move(e.error())) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

const char* StatusCodeName(StatusCode code);

// Result<T> holds a value or a non-OK Status.
template <typename T>
using Result = std::expected<T, Status>;

inline std::unexpected<Status> Err(Status s) { return std::unexpected<Status>(std::move(s)); }

}  // namespace ward

// Propagates a non-OK Status (or the error of a Result) to the caller.
#define WARD_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::ward::Status _st = (expr);                 \
    if (!_st.ok()) return ::ward::Err(std::move(_st)); \
  } while (0)

#define WARD_CONCAT_INNER(a, b) a##b
#define WARD_CONCAT(a, b) WARD_CONCAT_INNER(a, b)
// Assigns the value of a Result to lhs or returns its error.
#define WARD_ASSIGN_OR_RETURN(lhs, expr) WARD_ASSIGN_OR_RETURN_IMPL(WARD_CONCAT(_res_, __LINE__), lhs, expr)
#define WARD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp) return ::ward::Err(std::move(tmp).error()); \
  lhs = std::move(*tmp)
