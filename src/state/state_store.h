#pragma once
// The state store: tenants, identity, RBAC, machines, short-lived OAuth artefacts, signing keys and
// the audit log. StateStore is the seam for a second implementation (PostgreSQL for several nodes);
// SqliteStateStore (sqlite_state_store.h) is the embedded default.
//
// Tenant-owned records are documents: (tenant_id, kind, id) → JSON body, with an optional unique
// key per (tenant, kind) — for example a user's lower-cased UPN — and a version that increases on
// every update. Every method takes the tenant id and every query filters on it, so no call can read
// or change another tenant's rows. Repo<R> (below) gives typed access.
//
// Thread-safety: implementations are safe to call from many threads. Durability: a call that
// returns OK has committed.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "state/records.h"

namespace ward::state {

enum class Kind { kUser, kUserGroup, kRole, kDeviceGroup, kApp, kMachine, kAuthCode, kRefreshToken, kUsedAssertion,
                  kEnrollmentKey, kAlert, kMachineAction, kIndicator, kDetectionRule, kCustomDetectionRule,
                  kLibraryFile, kStreamConfiguration, kSavedQuery };
inline constexpr Kind kAllKinds[] = {
    Kind::kUser, Kind::kUserGroup, Kind::kRole, Kind::kDeviceGroup, Kind::kApp, Kind::kMachine, Kind::kAuthCode,
    Kind::kRefreshToken, Kind::kUsedAssertion, Kind::kEnrollmentKey, Kind::kAlert, Kind::kMachineAction,
    Kind::kIndicator, Kind::kDetectionRule, Kind::kCustomDetectionRule, Kind::kLibraryFile,
    Kind::kStreamConfiguration, Kind::kSavedQuery};
const char* KindName(Kind kind);
// Sleeps a random, growing interval before optimistic retry `attempt` (0-based), so writers that
// collided do not collide again in lockstep.
void BackOffBeforeRetry(int attempt);

struct Document {
  std::string id;
  std::string unique_key;  // empty = none
  json::Value body;
  int64_t version = 0;  // set by the store
};

struct AuditQuery {
  int64_t limit = 100;
  int64_t offset = 0;
  std::optional<int64_t> since_ms;
  std::optional<int64_t> until_ms;
  std::string actor_id;  // empty = any
  std::string action_prefix;  // empty = any
  std::string result;  // empty = any
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  virtual Status CreateTenant(const Tenant& tenant) = 0;
  virtual Result<Tenant> GetTenant(std::string_view id) = 0;
  virtual Result<std::vector<Tenant>> ListTenants() = 0;

  // AlreadyExists when the id or the unique key is taken.
  virtual Status Insert(std::string_view tenant, Kind kind, const Document& doc) = 0;
  // NotFound when absent; FailedPrecondition when expected_version is given and differs
  // (optimistic concurrency: no lost updates between nodes).
  virtual Status Update(std::string_view tenant, Kind kind, const Document& doc,
                        std::optional<int64_t> expected_version = std::nullopt) = 0;
  virtual Result<Document> Get(std::string_view tenant, Kind kind, std::string_view id) = 0;
  virtual Result<Document> GetByUniqueKey(std::string_view tenant, Kind kind, std::string_view key) = 0;
  virtual Result<std::vector<Document>> List(std::string_view tenant, Kind kind) = 0;
  // Documents inserted or updated at or after since_ms (by the store's clock), for caches that
  // refresh incrementally; `Count` tells them whether something was deleted.
  virtual Result<std::vector<Document>> ListUpdatedSince(std::string_view tenant, Kind kind, int64_t since_ms) = 0;
  // How far before their last look such caches must start again (ms): stamps come from the store's
  // clock, and a document stamped just before a look may commit just after it. 1 ms for a store in
  // this process; more for a shared database (another node's transaction, another machine's clock).
  virtual int64_t UpdatedSinceOverlapMs() const { return 1; }
  virtual Result<int64_t> Count(std::string_view tenant, Kind kind) = 0;
  virtual Status Delete(std::string_view tenant, Kind kind, std::string_view id) = 0;
  // Reads and deletes in one transaction: single-use artefacts such as authorization codes.
  virtual Result<Document> Take(std::string_view tenant, Kind kind, std::string_view id) = 0;
  // Deletes short-lived artefacts (auth codes, refresh tokens, used assertions) whose expiry has
  // passed, in every tenant. Returns how many were deleted.
  virtual Result<int64_t> DeleteExpired(int64_t now_ms) = 0;
  // Per-tenant counters (e.g. numeric device-group ids), starting at 1.
  virtual Result<int64_t> NextSequence(std::string_view tenant, std::string_view name) = 0;
  // The counters' current values (name → last value handed out), and raising one so that the next
  // value is above `value` (never lowering it): for copying a store (`ward admin migrate`).
  virtual Result<std::vector<std::pair<std::string, int64_t>>> ListSequences(std::string_view tenant) = 0;
  virtual Status RaiseSequence(std::string_view tenant, std::string_view name, int64_t value) = 0;

  // Counters every node sharing the store sees (rate limits across nodes): adds one to each key and
  // returns the new values in the same order. A key that does not exist starts at 0; it is dropped
  // by DeleteExpired once `expires_ms` has passed (each add sets it).
  virtual Result<std::vector<int64_t>> AddToCounters(const std::vector<std::string>& keys, int64_t expires_ms) = 0;

  // Append-only audit log. Returns the entry id.
  virtual Result<int64_t> AppendAudit(const AuditEntry& entry) = 0;
  // Newest first.
  virtual Result<std::vector<AuditEntry>> ListAudit(std::string_view tenant, const AuditQuery& query) = 0;

  virtual Result<std::vector<SigningKey>> ListSigningKeys() = 0;
  virtual Status PutSigningKey(const SigningKey& key) = 0;  // insert or replace by kid

  // A number that changes whenever any state changed, in this process or another one sharing the
  // store; caches compare it to know when to reload.
  virtual int64_t ChangeCounter() = 0;
};

// Typed access to one record kind. Traits map a record to its kind, id and unique key.
template <class R> struct RecordTraits;

#define WARD_RECORD_TRAITS(R, KIND, ID_EXPR, UNIQUE_EXPR, FROM)             \
  template <> struct RecordTraits<R> {                                      \
    static constexpr Kind kKind = KIND;                                     \
    static std::string Id(const R& r) { return ID_EXPR; }                   \
    static std::string UniqueKey(const R& r) { return UNIQUE_EXPR; }        \
    static Result<R> FromJson(const json::Value& v) { return FROM(v); }     \
  }

std::string LowerAscii(std::string_view s);

WARD_RECORD_TRAITS(User, Kind::kUser, r.id, LowerAscii(r.upn), UserFromJson);
WARD_RECORD_TRAITS(UserGroup, Kind::kUserGroup, r.id, LowerAscii(r.name), UserGroupFromJson);
WARD_RECORD_TRAITS(Role, Kind::kRole, r.id, LowerAscii(r.name), RoleFromJson);
WARD_RECORD_TRAITS(DeviceGroup, Kind::kDeviceGroup, std::to_string(r.id), LowerAscii(r.name), DeviceGroupFromJson);
WARD_RECORD_TRAITS(App, Kind::kApp, r.client_id, "", AppFromJson);  // client ids are stored lower-case
WARD_RECORD_TRAITS(Machine, Kind::kMachine, r.id, r.host_id.empty() ? "" : "host:" + r.host_id, MachineFromJson);
WARD_RECORD_TRAITS(AuthCode, Kind::kAuthCode, r.code_hash, "", AuthCodeFromJson);
WARD_RECORD_TRAITS(RefreshToken, Kind::kRefreshToken, r.token_hash, "", RefreshTokenFromJson);
WARD_RECORD_TRAITS(UsedAssertion, Kind::kUsedAssertion, r.jti_hash, "", UsedAssertionFromJson);
WARD_RECORD_TRAITS(EnrollmentKey, Kind::kEnrollmentKey, r.id, "", EnrollmentKeyFromJson);
WARD_RECORD_TRAITS(Alert, Kind::kAlert, r.id, "", AlertFromJson);
// While an action is open, its machine and family are its unique key: the store refuses a second open
// action of the same family on a device ("Action is already in progress"), across nodes too.
std::string OpenActionKey(const MachineAction& a);
WARD_RECORD_TRAITS(MachineAction, Kind::kMachineAction, r.id, OpenActionKey(r), MachineActionFromJson);
WARD_RECORD_TRAITS(LibraryFile, Kind::kLibraryFile, r.id, "", LibraryFileFromJson);
// One indicator per (type, value): POST /api/indicators upserts on it.
WARD_RECORD_TRAITS(Indicator, Kind::kIndicator, r.id, LowerAscii(r.indicator_type + ":" + r.indicator_value), IndicatorFromJson);
WARD_RECORD_TRAITS(DetectionRule, Kind::kDetectionRule, r.id, "", DetectionRuleFromJson);
// Rule names are unique per tenant, as in MDE.
WARD_RECORD_TRAITS(CustomDetectionRule, Kind::kCustomDetectionRule, r.id, LowerAscii(r.display_name), CustomDetectionRuleFromJson);
// Configuration names are unique per tenant.
WARD_RECORD_TRAITS(StreamConfiguration, Kind::kStreamConfiguration, r.id, LowerAscii(r.name), StreamConfigurationFromJson);
WARD_RECORD_TRAITS(SavedQuery, Kind::kSavedQuery, r.id, "", SavedQueryFromJson);
#undef WARD_RECORD_TRAITS

template <class R>
class Repo {
 public:
  using Traits = RecordTraits<R>;
  explicit Repo(StateStore& store) : store_(store) {}

  Status Insert(const R& r) { return store_.Insert(r.tenant_id, Traits::kKind, ToDoc(r)); }
  Status Update(const R& r) { return store_.Update(r.tenant_id, Traits::kKind, ToDoc(r)); }
  Result<R> Get(std::string_view tenant, std::string_view id) {
    return Decode(store_.Get(tenant, Traits::kKind, id));
  }
  Result<R> GetByUniqueKey(std::string_view tenant, std::string_view key) {
    return Decode(store_.GetByUniqueKey(tenant, Traits::kKind, LowerAscii(key)));
  }
  Result<R> Take(std::string_view tenant, std::string_view id) {
    return Decode(store_.Take(tenant, Traits::kKind, id));
  }
  Status Delete(std::string_view tenant, std::string_view id) { return store_.Delete(tenant, Traits::kKind, id); }
  // Read-modify-write under optimistic concurrency: `change` edits the current record and the write
  // succeeds only if nobody wrote it meanwhile, else it is re-read and `change` runs again. An error
  // from `change` aborts without writing. Returns the record as written.
  template <class F> Result<R> Mutate(std::string_view tenant, std::string_view id, F&& change) {
    for (int attempt = 0; attempt < 32; ++attempt) {
      if (attempt > 0) BackOffBeforeRetry(attempt);
      WARD_ASSIGN_OR_RETURN(Document doc, store_.Get(tenant, Traits::kKind, id));
      WARD_ASSIGN_OR_RETURN(R r, Traits::FromJson(doc.body));
      WARD_RETURN_IF_ERROR(change(r));
      Status st = store_.Update(tenant, Traits::kKind, ToDoc(r), doc.version);
      if (st.ok()) return r;
      if (st.code() != StatusCode::kFailedPrecondition) return Err(st);
    }
    return Err(Unavailable(std::string(KindName(Traits::kKind)) + " " + std::string(id) + " is being changed concurrently"));
  }
  Result<std::vector<R>> List(std::string_view tenant) {
    WARD_ASSIGN_OR_RETURN(std::vector<Document> docs, store_.List(tenant, Traits::kKind));
    return DecodeAll(docs);
  }
  Result<std::vector<R>> ListUpdatedSince(std::string_view tenant, int64_t since_ms) {
    WARD_ASSIGN_OR_RETURN(std::vector<Document> docs, store_.ListUpdatedSince(tenant, Traits::kKind, since_ms));
    return DecodeAll(docs);
  }

 private:
  static Result<std::vector<R>> DecodeAll(const std::vector<Document>& docs) {
    std::vector<R> out;
    out.reserve(docs.size());
    for (const Document& d : docs) {
      WARD_ASSIGN_OR_RETURN(R r, Traits::FromJson(d.body));
      out.push_back(std::move(r));
    }
    return out;
  }
  static Document ToDoc(const R& r) { return Document{Traits::Id(r), Traits::UniqueKey(r), ToJson(r), 0}; }
  static Result<R> Decode(Result<Document> doc) {
    if (!doc) return Err(doc.error());
    return Traits::FromJson(doc->body);
  }
  StateStore& store_;
};

}  // namespace ward::state
