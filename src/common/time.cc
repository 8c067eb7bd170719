#include "common/time.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <string>

namespace ward {
namespace {

// Howard Hinnant's days-from-civil and its inverse.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2 ? 1 : 0;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ReadDigits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!IsDigit(s[pos + i])) return false;
    v = v * 10 + (s[pos + i] - '0');
  }
  pos += n;
  out = v;
  return true;
}

// Formats the date-time part "YYYY-MM-DDTHH:MM:SS" of whole seconds into buf (19 chars).
void FormatSeconds(int64_t secs_since_epoch, char* buf) {
  int64_t days = secs_since_epoch / 86400;
  int64_t rem = secs_since_epoch % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y, m, d;
  CivilFromDays(days, y, m, d);
  auto put = [buf](int pos, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[pos + i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, rem / 3600, 2);
  buf[13] = ':';
  put(14, (rem / 60) % 60, 2);
  buf[16] = ':';
  put(17, rem % 60, 2);
}

// Clamp to years 0000..9999 so output always has a 4-digit year.
constexpr int64_t kMinSeconds = -62167219200;  // 0000-01-01T00:00:00Z
constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z

}  // namespace

std::optional<int64_t> ParseIsoTicks(std::string_view s) {
  size_t pos = 0;
  int64_t year, month, day, hour = 0, minute = 0, second = 0, frac_ticks = 0;
  if (!ReadDigits(s, pos, 4, year)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!ReadDigits(s, pos, 2, month)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!ReadDigits(s, pos, 2, day)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!ReadDigits(s, pos, 2, hour)) return std::nullopt;
    if (pos >= s.size() || s[pos++] != ':') return std::nullopt;
    if (!ReadDigits(s, pos, 2, minute)) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!ReadDigits(s, pos, 2, second)) return std::nullopt;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        size_t digits = 0;
        while (pos < s.size() && IsDigit(s[pos])) {
          if (digits < 7) frac_ticks = frac_ticks * 10 + (s[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (size_t k = digits; k < 7; ++k) frac_ticks *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  }
  int64_t offset_min = 0;
  if (pos < s.size()) {
    const char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      ++pos;
      int64_t oh, om;
      if (!ReadDigits(s, pos, 2, oh)) return std::nullopt;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (!ReadDigits(s, pos, 2, om)) return std::nullopt;
      if (oh > 23 || om > 59) return std::nullopt;
      offset_min = (c == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = ((days * 24 + hour) * 60 + minute - offset_min) * 60 + second;
  return secs * kTicksPerSecond + frac_ticks;
}

std::optional<int64_t> ParseIsoMs(std::string_view text) {
  auto t = ParseIsoTicks(text);
  if (!t) return std::nullopt;
  int64_t ms = *t / kTicksPerMillisecond;
  if (*t < 0 && *t % kTicksPerMillisecond != 0) --ms;  // floor
  return ms;
}

std::string FormatIsoTicks(int64_t ticks) {
  int64_t secs = ticks / kTicksPerSecond;
  int64_t frac = ticks % kTicksPerSecond;
  if (frac < 0) {
    frac += kTicksPerSecond;
    --secs;
  }
  if (secs < kMinSeconds) secs = kMinSeconds, frac = 0;
  if (secs > kMaxSeconds) secs = kMaxSeconds, frac = kTicksPerSecond - 1;
  char buf[29];
  FormatSeconds(secs, buf);
  buf[19] = '.';
  for (int i = 26; i >= 20; --i) {
    buf[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  buf[27] = 'Z';
  return std::string(buf, 28);
}

std::string FormatIsoMs(int64_t epoch_ms) {
  int64_t secs = epoch_ms / 1000;
  int64_t ms = epoch_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  if (secs < kMinSeconds) secs = kMinSeconds, ms = 0;
  if (secs > kMaxSeconds) secs = kMaxSeconds, ms = 999;
  char buf[25];
  FormatSeconds(secs, buf);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms / 100);
  buf[21] = static_cast<char>('0' + ms / 10 % 10);
  buf[22] = static_cast<char>('0' + ms % 10);
  buf[23] = 'Z';
  return std::string(buf, 24);
}

int64_t NowTicks() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() / 100;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> ParseIsoDurationTicks(std::string_view d) {
  if (d.size() < 3 || d[0] != 'P') return std::nullopt;
  double total = 0;
  bool time = false, any = false, any_time = false;
  for (size_t k = 1; k < d.size();) {
    if (d[k] == 'T') {
      if (time) return std::nullopt;
      time = true, ++k;
      continue;
    }
    size_t start = k;
    while (k < d.size() && (std::isdigit(static_cast<unsigned char>(d[k])) || d[k] == '.')) ++k;
    if (k == start || k == d.size()) return std::nullopt;
    double v = std::strtod(std::string(d.substr(start, k - start)).c_str(), nullptr);
    char unit = d[k++];
    double seconds = !time && unit == 'W' ? 7 * 86400.0 : !time && unit == 'D' ? 86400.0
                   : time && unit == 'H' ? 3600.0 : time && unit == 'M' ? 60.0 : time && unit == 'S' ? 1.0 : -1;
    if (seconds < 0) return std::nullopt;
    total += v * seconds;
    any = true;
    any_time |= time;
  }
  if (!any || (time && !any_time) || total > 3650.0 * 86400) return std::nullopt;
  return static_cast<int64_t>(total * kTicksPerSecond);
}

}  // namespace ward
