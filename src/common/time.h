#pragma once
// Calendar arithmetic without locale, TZ or timegm: ISO-8601 parsing and formatting.
// Two resolutions: milliseconds (API entities) and KQL's 100-nanosecond ticks (telemetry), both
// counted from the Unix epoch.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ward {

inline constexpr int64_t kTicksPerSecond = 10'000'000;
inline constexpr int64_t kTicksPerMillisecond = 10'000;

// Accepts "YYYY-MM-DD[THH:MM[:SS[.fffffff…]]][Z|±HH[:]MM]"; fractions of any length (extra digits
// beyond 7 are dropped).
std::optional<int64_t> ParseIsoTicks(std::string_view text);
std::optional<int64_t> ParseIsoMs(std::string_view text);
// "2024-01-02T03:04:05.6789012Z" (7 digits, as MDE writes) and "2024-01-02T03:04:05.678Z".
std::string FormatIsoTicks(int64_t ticks);
// An ISO-8601 duration "PnDTnHnMnS" (weeks too, fractions allowed; years and months have no fixed
// length and are refused), up to 3650 days, as ticks; nullopt when malformed.
std::optional<int64_t> ParseIsoDurationTicks(std::string_view text);
std::string FormatIsoMs(int64_t epoch_ms);

int64_t NowTicks();
int64_t NowMs();

}  // namespace ward
