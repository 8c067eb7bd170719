#pragma once
// Ward's own YARA rule pack (rules/yara/ward/*.yar), compiled into the binary by the build
// (CMakeLists.txt generates the definition), so every sensor can scan before any rule update.
#include <string_view>
#include <vector>

namespace ward::response {

struct BuiltinYaraRule {
  std::string_view file;  // e.g. "eicar.yar"
  std::string_view text;
};

const std::vector<BuiltinYaraRule>& BuiltinYaraRules();

}  // namespace ward::response
