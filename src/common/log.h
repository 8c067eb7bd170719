#pragma once
// Structured logs: one JSON object per line on stderr, {"ts","level","msg",...fields}.
// Thread-safe (one write(2) per line). The level threshold is process-wide.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace ward::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
bool Enabled(Level level);

using Field = std::pair<std::string_view, std::string_view>;
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kError, msg, f); }

}  // namespace ward::log
