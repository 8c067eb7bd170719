#pragma once
// `ward server`: wires the modules together and serves until SIGTERM/SIGINT.
#include <string>

#include "common/status.h"

namespace ward::server {

struct ServeOptions {
  std::string data_dir;
  std::string config_path;  // "" = <data-dir>/config.json (packages keep it in /etc/ward)
  std::string listen = "127.0.0.1:8443";  // host:port; IPv6 as [::1]:port
  std::string tls_cert;                   // PEM files; both or neither
  std::string tls_key;
  bool self_signed_tls = false;  // generate <data-dir>/tls/server.{crt,key} on first start
  bool insecure_http = false;    // allow plain HTTP on a non-loopback address
  std::string public_url;        // overrides config.json
  int threads = 0;
  bool disable_rate_limits = false;
  // The portal's built assets (web/dist). "" = the first of <exe>/../web/dist and
  // <exe>/../share/ward/web that exists; "none" = serve no portal.
  std::string web_root;
};

// Blocks until a termination signal. Returns the reason it could not start, if any.
Status Serve(const ServeOptions& options);

// Splits "host:port" / "[v6]:port". Exposed for tests.
Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen);
bool IsLoopback(const std::string& host);
// Where the portal's files are: `configured` if set, else next to the executable; "" = none found.
std::string FindWebRoot(const std::string& configured);

}  // namespace ward::server
