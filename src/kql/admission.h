#pragma once
// Admission of hunting queries: a fixed number of slots (by default one per core), shared fairly
// between tenants instead of MDE's hard per-tenant quotas. While slots are free any query runs at
// once; when they are short, the next free slot goes to the waiting tenant with the fewest queries
// running, then the least engine time used recently (decayed with a half-life), then the oldest
// request — so one tenant's burst delays that tenant, not the others.
//
// Thread-safe. A Ticket holds a slot until destroyed and then charges its tenant the time it ran.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>

#include "common/status.h"

namespace ward::kql {

class QueryAdmission {
 public:
  using Clock = std::chrono::steady_clock;
  explicit QueryAdmission(int slots, std::chrono::seconds half_life = std::chrono::seconds(60));

  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& o) noexcept : owner_(o.owner_), tenant_(std::move(o.tenant_)), started_(o.started_) { o.owner_ = nullptr; }
    Ticket& operator=(Ticket&& o) noexcept;
    ~Ticket() { Release(); }
    void Release();

   private:
    friend class QueryAdmission;
    Ticket(QueryAdmission* owner, std::string tenant) : owner_(owner), tenant_(std::move(tenant)), started_(Clock::now()) {}
    QueryAdmission* owner_ = nullptr;
    std::string tenant_;
    Clock::time_point started_;
  };

  // Waits for a slot. ResourceExhausted (MDE's wording, with the seconds to wait in the message) when
  // `deadline` passes first; InvalidArgument "Query was cancelled." when *cancel becomes true.
  Result<Ticket> Admit(const std::string& tenant, Clock::time_point deadline, const std::atomic<bool>* cancel = nullptr);

  struct TenantUsage {
    int running = 0, waiting = 0;
    double recent_seconds = 0;  // decayed engine time
  };
  TenantUsage Usage(const std::string& tenant);

 private:
  struct Waiter {
    std::string tenant;
    uint64_t seq;
  };
  struct Account {
    int running = 0;
    double usage = 0;  // seconds, decayed to `at`
    Clock::time_point at{};
  };
  double Decayed(const Account& a, Clock::time_point now) const;
  // The waiter that gets the next free slot (requires mu_).
  const Waiter* Next(Clock::time_point now) const;
  void Done(const std::string& tenant, Clock::time_point started);

  const int slots_;
  const std::chrono::seconds half_life_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  uint64_t seq_ = 0;
  std::list<Waiter> waiting_;
  std::map<std::string, Account> accounts_;
};

}  // namespace ward::kql
