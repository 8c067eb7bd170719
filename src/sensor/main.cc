// ward-sensor: the Linux endpoint sensor. Collectors, upload and actions come with the sensor issue;
// until then the binary answers --version and --help so packaging and scripts can rely on it.
#include <cstdio>
#include <cstring>

#include "common/version.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0 || std::strcmp(argv[i], "version") == 0) {
      std::printf("ward-sensor %s\n", ward::kVersion);
      return 0;
    }
  }
  std::fprintf(stderr, "usage: ward-sensor --version\n(the sensor's collectors are not built yet)\n");
  return 2;
}
