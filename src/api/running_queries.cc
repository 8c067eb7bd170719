#include "api/running_queries.h"

#include <algorithm>

namespace ward::api {

struct RunningQueries::Ticket::Entry {
  Info info;
  std::atomic<bool> cancel{false};
  std::function<bool()> peer_closed;
};

namespace {

// At most n bytes of s, not splitting a UTF-8 sequence.
std::string Prefix(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

RunningQueries::Ticket::~Ticket() { owner_.Unregister(entry_.get()); }
const std::atomic<bool>* RunningQueries::Ticket::flag() const { return &entry_->cancel; }
bool RunningQueries::Ticket::cancelled() const { return entry_->cancel.load(); }
const std::string& RunningQueries::Ticket::id() const { return entry_->info.id; }

RunningQueries::~RunningQueries() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

Result<std::unique_ptr<RunningQueries::Ticket>> RunningQueries::Start(Info info, std::function<bool()> peer_closed) {
  auto e = std::make_shared<Ticket::Entry>();
  info.query = Prefix(info.query, kQueryTextChars);
  info.cancelled = false;
  e->info = std::move(info);
  e->peer_closed = std::move(peer_closed);
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(e->info.tenant_id, e->info.id);
  if (entries_.count(key)) return Err(AlreadyExists("A query with QueryId " + e->info.id + " is already running"));
  if (cancel_new_) e->cancel.store(true);
  entries_.emplace(std::move(key), e);
  if (e->peer_closed) {
    ++watched_;
    if (!monitor_running_ && !stopping_) {
      // A previous monitor has exited (it clears monitor_running_ under mu_ as its last act).
      if (monitor_.joinable()) monitor_.join();
      monitor_running_ = true;
      monitor_ = std::thread([this] { Monitor(); });
    }
  }
  return std::unique_ptr<Ticket>(new Ticket(*this, std::move(e)));
}

void RunningQueries::Unregister(const Ticket::Entry* e) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({e->info.tenant_id, e->info.id});
  if (it == entries_.end() || it->second.get() != e) return;
  if (e->peer_closed) --watched_;
  entries_.erase(it);
}

void RunningQueries::Monitor() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_ && watched_ > 0) {
    cv_.wait_for(lock, kPollInterval, [&] { return stopping_; });
    if (stopping_) break;
    // Under mu_: a ticket cannot unregister (and its request cannot finish) while we probe it.
    for (auto& [key, e] : entries_) {
      if (e->peer_closed && !e->cancel.load() && e->peer_closed()) e->cancel.store(true);
    }
  }
  monitor_running_ = false;
}

std::vector<RunningQueries::Info> RunningQueries::List(const std::string& tenant_id) const {
  std::vector<Info> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.lower_bound({tenant_id, ""}); it != entries_.end() && it->first.first == tenant_id; ++it) {
    Info i = it->second->info;
    i.cancelled = it->second->cancel.load();
    out.push_back(std::move(i));
  }
  std::stable_sort(out.begin(), out.end(), [](const Info& a, const Info& b) { return a.start_ms < b.start_ms; });
  return out;
}

Result<RunningQueries::Info> RunningQueries::Get(const std::string& tenant_id, const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({tenant_id, id});
  if (it == entries_.end()) return Err(NotFound("Query " + id + " is not running"));
  Info i = it->second->info;
  i.cancelled = it->second->cancel.load();
  return i;
}

Status RunningQueries::Cancel(const std::string& tenant_id, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({tenant_id, id});
  if (it == entries_.end()) return NotFound("Query " + id + " is not running");
  it->second->cancel.store(true);
  return Status::Ok();
}

size_t RunningQueries::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  cancel_new_ = true;
  for (auto& [key, e] : entries_) e->cancel.store(true);
  return entries_.size();
}

}  // namespace ward::api
