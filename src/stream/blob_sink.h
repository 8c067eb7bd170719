#pragma once
// The AzureBlob destination: MDE's "Forward events to Azure Storage" (reference/mde-api.md §7) over
// the Blob service REST API, so anything that reads MDE's export reads Ward's.
//
// Settings (keys case-insensitive):
//   connectionString  (secret) as Azure gives it: "DefaultEndpointsProtocol=https;AccountName=..;
//                     AccountKey=..;EndpointSuffix=core.windows.net", or with "BlobEndpoint=<url>"
//                     (path-style for emulators: http://127.0.0.1:10000/devstoreaccount1), or with
//                     "SharedAccessSignature=sv=..." instead of AccountKey, or
//                     "UseDevelopmentStorage=true" (Azurite on 127.0.0.1:10000).
//   sasUrl            (secret) an account SAS URL without a container, e.g.
//                     "https://acct.blob.core.windows.net/?sv=..&sig=..". Exactly one of the two.
//                     The SAS must allow creating containers and blobs and adding to them.
//   flushIntervalMs   least time between deliveries (default 1000), see Sink::min_interval.
//   caFile            PEM bundle used instead of the system CAs for https endpoints.
//   timeoutMs         connect and per-request timeout (default 30000).
// Validation names the key ("connectionString has no AccountName") and never echoes a secret.
//
// Layout: one container per table, "insights-logs-advancedhunting-<table>", created on first use;
// one append blob per tenant and hour, "tenantId=<tid>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json", holding
// one record's JSON per line. An append blob takes at most 50,000 blocks: when one is full
// (409 BlockCountExceedsLimit, or sealed) the hour continues in its next sibling, PT1H-1.json, then
// PT1H-2.json, ... Readers should list "<hour dir>/PT1H" as a prefix. After a restart the sink
// starts again at PT1H.json and walks forward past full siblings, so nothing is overwritten.
//
// Delivery: a Deliver is confirmed (Ok) only after every block of every touched blob got 201 from
// the service. Blocks are at most 4 MiB and cut on record boundaries; a record that alone exceeds a
// block is rejected with a reason while the others flow. Authentication failures (401/403), other
// service errors, timeouts and refused connections are Status errors naming the HTTP status and
// Azure's error code, e.g. "Azure Blob 403 AuthenticationFailed: ..."; the service retries the
// batch. A block whose response was lost may have been appended, so a retry can duplicate records
// (at least once; records are byte-identical, see stream_record.h).
//
// Thread-safety: a sink is used by one thread (Sink contract). The functions below are pure.
#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/client.h"
#include "stream/destinations.h"

namespace ward::stream {

const DestinationType& BlobDestination();

// Where and how to reach a storage account; parsed from connectionString or sasUrl.
struct BlobAccount {
  std::string endpoint;      // "https://acct.blob.core.windows.net" or "http://127.0.0.1:10000/devstoreaccount1"
  std::string account_name;  // "" only with a SAS and an explicit endpoint
  std::string key;           // decoded AccountKey bytes; "" when a SAS is used
  std::string sas;           // the SAS query without '?'; "" when a key is used
};
// Errors are InvalidArgument starting with "connectionString" / "sasUrl".
Result<BlobAccount> ParseConnectionString(std::string_view connection_string);
Result<BlobAccount> ParseSasUrl(std::string_view sas_url);

// "<endpoint>/<container>[/<percent-encoded blob>][?<query>[&<sas>]]".
std::string BlobUrl(const BlobAccount& account, std::string_view container, std::string_view blob,
                    std::string_view query);
// Makes `request` (url from BlobUrl, body set) acceptable to the service: sets x-ms-date from `now`,
// x-ms-version, Content-Length and, for a key, the Shared Key Authorization header. InvalidArgument
// when the url does not parse.
Status AuthorizeRequest(const BlobAccount& account, std::chrono::system_clock::time_point now,
                        http::ClientRequest* request);

// Shared Key for the Blob service (version 2009-09-19 and later; "Authorize with Shared Key"): the
// string to sign for a request to `url` (path as sent, i.e. percent-encoded) with `headers`. For
// path-style endpoints the path already starts with the account, so it appears twice in the
// canonicalized resource ("/devstoreaccount1/devstoreaccount1/container/blob"), as Azure and
// Azurite expect.
std::string SharedKeyStringToSign(std::string_view method, const http::Headers& headers, std::string_view account,
                                  const http::Url& url);
// "SharedKey <account>:<base64 HMAC-SHA256 of the string to sign under the decoded key>".
std::string SharedKeyAuthorization(std::string_view account, std::string_view key, std::string_view string_to_sign);

}  // namespace ward::stream
