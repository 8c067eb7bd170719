#pragma once
// The Syslog destination: each record as one RFC 5424 message over UDP, TCP or TLS (RFC 5425).
//
// Settings:
//   address          "host:port", "[::1]:6514" (port defaults to 514, 6514 for tls); required
//   protocol         udp | tcp | tls (default tcp)
//   framing          tcp/tls only: octet-counting (RFC 6587 "LEN SP MSG", default) | newline
//   format           json (MSG is the record's JSON) | cef (AlertInfo records become CEF lines, see
//                    cef.h; every other table stays JSON)
//   facility         0-23 (default 16, local0)
//   appName          APP-NAME, 1-48 printable ASCII (default "ward")
//   hostname         HOSTNAME, 1-255 printable ASCII (default this host's name)
//   caFile           tls: PEM CAs to verify the server with instead of the system's
//   pinSha256        tls: hex SHA-256 of the server certificate's DER; when set, it alone decides
//                    (self-signed servers work; no chain or name check)
//   serverName       tls: SNI and the name checked against the certificate (default the address's host)
//   timeoutMs        the longest wait for any one step to progress: connecting, the handshake, the
//                    peer taking or acknowledging more bytes (default 10000)
//   maxMessageBytes  larger messages are rejected (dead-lettered) and the rest flow (default 65000
//                    for udp, at most 65507; 16 MiB for tcp/tls)
// Settings of another protocol (framing for udp, TLS keys for tcp) are checked but not used.
// Validation checks every key without resolving or connecting.
//
// Message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID SD MSG, where TIMESTAMP is the record's time
// (RFC 3339, microseconds, UTC), MSGID the table ("DeviceProcessEvents"), SD
// [ward@32473 tenantId=".." deviceId=".."] with the empty ones left out ("-" when both are), and
// PRI = facility * 8 + severity: AlertInfo/AlertEvidence by their Severity (High 2 critical, Medium 3
// error, Low 4 warning, Informational 5 notice, anything else 4), every other table 6 informational.
// PROCID is "-" so that a record re-sent after a restart is the same message. 32473 is the private
// enterprise number RFC 5612 reserves for examples; SD-IDs with it are not registered to anyone.
//
// Delivery (sink.h): syslog has no acknowledgements, so over TCP/TLS a Deliver returns Ok only once
// the peer's TCP stack has acknowledged every byte written (SIOCOUTQ and TCP_INFO's tcpi_unacked
// both 0): the bytes are then in the receiver's socket buffer, which is as far as the protocol can
// see. A write error, reset, peer close or timeout is an error and the connection is dropped; the
// next Deliver reconnects and sends the whole batch again (a receiver may see a message twice). One
// connection is kept open between deliveries. UDP is best effort: Ok once every datagram left this
// host; datagram errors reported by the kernel (port unreachable) are errors. Host names are resolved
// with getaddrinfo on each (re)connect, which timeoutMs does not bound.
//
// Thread-safety: a sink is used by one thread at a time (sink.h). No signal is raised: SIGPIPE from a
// write to a closed TLS socket is blocked and consumed on the calling thread.
#include <string>

#include "stream/destinations.h"

namespace ward::stream {

const DestinationType& SyslogDestination();

// How a message is rendered; FormatSyslogMessage is what the sink sends (without framing).
struct SyslogFormat {
  int facility = 16;
  std::string hostname = "-";  // already valid PRINTUSASCII, or "-"
  std::string app_name = "ward";
  bool cef = false;
};

// The syslog severity of an MDE alert severity (case-insensitive), as above.
int SyslogSeverityOf(std::string_view mde_severity);

// One RFC 5424 message for a record. InvalidArgument when `format.cef` and an AlertInfo record's JSON
// cannot be read.
Result<std::string> FormatSyslogMessage(const StreamRecord& record, const SyslogFormat& format);

}  // namespace ward::stream
