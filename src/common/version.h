#pragma once
namespace ward {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace ward
