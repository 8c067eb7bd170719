#include "kql/admission.h"

#include <cmath>

namespace ward::kql {

QueryAdmission::QueryAdmission(int slots, std::chrono::seconds half_life) : slots_(slots < 1 ? 1 : slots), half_life_(half_life) {}

QueryAdmission::Ticket& QueryAdmission::Ticket::operator=(Ticket&& o) noexcept {
  if (this != &o) {
    Release();
    owner_ = o.owner_;
    tenant_ = std::move(o.tenant_);
    started_ = o.started_;
    o.owner_ = nullptr;
  }
  return *this;
}

void QueryAdmission::Ticket::Release() {
  if (!owner_) return;
  owner_->Done(tenant_, started_);
  owner_ = nullptr;
}

double QueryAdmission::Decayed(const Account& a, Clock::time_point now) const {
  const double dt = std::chrono::duration<double>(now - a.at).count();
  return a.usage * std::exp2(-dt / static_cast<double>(half_life_.count()));
}

const QueryAdmission::Waiter* QueryAdmission::Next(Clock::time_point now) const {
  const Waiter* best = nullptr;
  int best_running = 0;
  double best_usage = 0;
  for (const Waiter& w : waiting_) {
    auto it = accounts_.find(w.tenant);
    const int running = it == accounts_.end() ? 0 : it->second.running;
    const double usage = it == accounts_.end() ? 0 : Decayed(it->second, now);
    if (!best || running < best_running || (running == best_running && usage < best_usage)) {
      best = &w, best_running = running, best_usage = usage;
    }
  }
  return best;  // ties keep the oldest: waiting_ is in arrival order
}

Result<QueryAdmission::Ticket> QueryAdmission::Admit(const std::string& tenant, Clock::time_point deadline,
                                                     const std::atomic<bool>* cancel) {
  std::unique_lock lock(mu_);
  auto me = waiting_.insert(waiting_.end(), Waiter{tenant, seq_++});
  while (true) {
    if (cancel && cancel->load()) break;
    const auto now = Clock::now();
    if (running_ < slots_ && Next(now) == &*me) {
      waiting_.erase(me);
      ++running_;
      accounts_[tenant].running += 1;
      cv_.notify_all();  // another slot may still be free for the next waiter
      return Ticket(this, tenant);
    }
    if (now >= deadline) break;
    // Cancellation has no notification: wake up now and then to look at the flag.
    cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
  }
  waiting_.erase(me);
  cv_.notify_all();
  if (cancel && cancel->load()) return Err(InvalidArgument("Query was cancelled."));
  const auto retry = std::chrono::duration_cast<std::chrono::seconds>(half_life_).count();
  return Err(ResourceExhausted("You have exceeded processing resources allocated to this tenant. You can run queries again in " +
                               std::to_string(retry) + " seconds."));
}

void QueryAdmission::Done(const std::string& tenant, Clock::time_point started) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  Account& a = accounts_[tenant];
  a.usage = Decayed(a, now) + std::chrono::duration<double>(now - started).count();
  a.at = now;
  a.running -= 1;
  --running_;
  cv_.notify_all();
}

QueryAdmission::TenantUsage QueryAdmission::Usage(const std::string& tenant) {
  std::lock_guard lock(mu_);
  TenantUsage u;
  auto it = accounts_.find(tenant);
  if (it != accounts_.end()) {
    u.running = it->second.running;
    u.recent_seconds = Decayed(it->second, Clock::now());
  }
  for (const Waiter& w : waiting_) u.waiting += w.tenant == tenant;
  return u;
}

}  // namespace ward::kql
