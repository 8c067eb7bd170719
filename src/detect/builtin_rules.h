#pragma once
// Ward's own Sigma rule pack (rules/sigma/ward/*.yml), compiled into the binary by the build.
#include <string_view>
#include <vector>

namespace ward::detect {

struct BuiltinRule {
  std::string_view file;  // e.g. "proc_reverse_shell_dev_tcp.yml"
  std::string_view yaml;
};

const std::vector<BuiltinRule>& BuiltinSigmaRules();

}  // namespace ward::detect
