#include "sensor/process_collector.h"

#include <linux/cn_proc.h>
#include <arpa/inet.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace ward::sensor {

namespace {


Status SendListen(int fd, bool listen) {
  // nlmsghdr + cn_msg + op, laid out by hand (cn_msg ends in a flexible array member).
  alignas(nlmsghdr) char buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))] = {};
  auto* nl = reinterpret_cast<nlmsghdr*>(buf);
  nl->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op));
  nl->nlmsg_type = NLMSG_DONE;
  nl->nlmsg_pid = 0;
  auto* cn = reinterpret_cast<cn_msg*>(NLMSG_DATA(nl));
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(proc_cn_mcast_op);
  proc_cn_mcast_op op = listen ? PROC_CN_MCAST_LISTEN : PROC_CN_MCAST_IGNORE;
  std::memcpy(cn->data, &op, sizeof(op));
  if (::send(fd, buf, nl->nlmsg_len, 0) < 0) return Unavailable(std::string("proc connector: ") + std::strerror(errno));
  return Status::Ok();
}

// Kernel-side filter: only exec events reach the socket, so forks, exits and thread churn never wake
// the reader (each wakeup is a context switch, the dominant cost). Classic BPF loads are big-endian,
// hence htonl on the constant.
void AttachExecFilter(int fd) {
  constexpr uint32_t kWhat = NLMSG_LENGTH(0) + sizeof(cn_msg) + offsetof(proc_event, what);
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kWhat),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(proc_event::PROC_EVENT_EXEC), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),  // accept
      BPF_STMT(BPF_RET | BPF_K, 0),           // drop
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) {
    log::Info("proc connector: no socket filter, receiving all events", {{"error", std::strerror(errno)}});
  }
}

// For the second connector socket: only process (not thread) exits. pid == tgid compares two loads,
// so byte order does not matter there.
bool AttachExitFilter(int fd) {
  constexpr uint32_t kBase = NLMSG_LENGTH(0) + sizeof(cn_msg);
  constexpr uint32_t kWhat = kBase + offsetof(proc_event, what);
  constexpr uint32_t kPid = kBase + offsetof(proc_event, event_data.exit.process_pid);
  constexpr uint32_t kTgid = kBase + offsetof(proc_event, event_data.exit.process_tgid);
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kWhat),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(proc_event::PROC_EVENT_EXIT), 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kPid),
      BPF_STMT(BPF_ST, 0),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kTgid),
      BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0;
}

// A socket subscribed to the process connector; invalid on failure (logged at info level).
UniqueFd OpenConnector() {
  UniqueFd fd(::socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR));
  if (!fd.valid()) {
    log::Info("proc connector unavailable", {{"error", std::strerror(errno)}});
    return fd;
  }
  // A large receive buffer absorbs bursts (fork bombs, builds) while the reader is descheduled.
  int rcvbuf = 8 * 1024 * 1024;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  addr.nl_pid = 0;  // let the kernel pick a unique port id
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    log::Info("proc connector bind failed", {{"error", std::strerror(errno)}});
    return UniqueFd();
  }
  if (Status st = SendListen(fd.get(), true); !st.ok()) {
    log::Info("proc connector subscribe failed", {{"error", st.message()}});
    return UniqueFd();
  }
  return fd;
}

std::string AdditionalFields(const ProcessInfo& p) {
  json::Writer w;
  w.StartObject();
  w.KV("ProcessPosixUserId", static_cast<int64_t>(p.uid));
  w.KV("ProcessPosixEffectiveUserId", static_cast<int64_t>(p.euid));
  if (!p.cwd.empty()) w.KV("ProcessCurrentWorkingDirectory", p.cwd);
  if (p.exe_path.empty()) w.KV("Incomplete", true);  // exited before /proc could be read
  w.EndObject();
  return w.Take();
}

}  // namespace

json::Value ProcessCreatedEvent(const ProcessInfo& p, const ProcessInfo* parent, const ProcessInfo* grandparent,
                                int64_t timestamp) {
  json::Value ev = NewEvent(kProcessTable, "ProcessCreated", timestamp);
  SetIfNotEmpty(ev, "FileName", ProcessFileName(p));
  SetIfNotEmpty(ev, "FolderPath", p.exe_path);
  if (p.hashes) {
    ev.AppendMember("SHA1", json::Value(p.hashes->sha1));
    ev.AppendMember("SHA256", json::Value(p.hashes->sha256));
    ev.AppendMember("MD5", json::Value(p.hashes->md5));
    ev.AppendMember("FileSize", json::Value(p.hashes->size));
  }
  ev.AppendMember("ProcessId", json::Value(static_cast<int64_t>(p.pid)));
  SetIfNotEmpty(ev, "ProcessCommandLine", p.cmdline);
  if (p.creation_time > 0) ev.AppendMember("ProcessCreationTime", json::Value(FormatIsoTicks(p.creation_time)));
  if (!p.account_name.empty()) {
    ev.AppendMember("AccountDomain", json::Value(LocalDomain()));
    ev.AppendMember("AccountName", json::Value(p.account_name));
  }
  if (parent) {
    AddInitiatingProcess(ev, parent, grandparent);
  } else if (p.ppid > 0) {
    ev.AppendMember("InitiatingProcessId", json::Value(static_cast<int64_t>(p.ppid)));
  }
  ev.AppendMember("AdditionalFields", json::Value(AdditionalFields(p)));
  return ev;
}

ProcessCollector::ProcessCollector(EventSink* sink, ProcessTable* table, ProcessCollectorOptions options)
    : sink_(sink), table_(table), options_(options) {}

ProcessCollector::~ProcessCollector() { Stop(); }

Status ProcessCollector::Start() {
  stop_ = false;
  stopper_.Reset();
  enricher_ = std::thread([this] {
    SetThreadName("ward-enrich");
    EnrichLoop();
  });
  if (options_.allow_netlink && TryNetlink()) {
    mode_ = "netlink";
    netlink_active_ = true;
  } else {
    mode_ = "proc-poll";
    reader_ = std::thread([this] {
      SetThreadName("ward-proc-poll");
      PollLoop();
    });
  }
  log::Info("process collector started", {{"mode", mode_}});
  return Status::Ok();
}

void ProcessCollector::Stop() {
  stop_ = true;
  stopper_.Stop();
  if (reader_.joinable()) reader_.join();
  cv_.notify_all();
  if (enricher_.joinable()) enricher_.join();
  if (nl_fd_.valid()) {
    SendListen(nl_fd_.get(), false);
    nl_fd_.Reset();
  }
  if (exit_fd_.valid()) {
    SendListen(exit_fd_.get(), false);
    exit_fd_.Reset();
  }
}

bool ProcessCollector::TryNetlink() {
  UniqueFd fd = OpenConnector();
  if (!fd.valid()) return false;
  nl_fd_ = std::move(fd);
  probe_seen_ = false;
  reader_ = std::thread([this] {
    SetThreadName("ward-proc-nl");
    NetlinkLoop();
  });
  // Subscribing can succeed yet deliver nothing (e.g. in a container's network namespace): prove it
  // with a child that exits at once.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  if (child > 0) {
    int status = 0;
    ::waitpid(child, &status, 0);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (child > 0 && !probe_seen_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (probe_seen_) {
    AttachExecFilter(nl_fd_.get());  // only now: the probe needed fork/exit events
    // Exits go to a second socket that nobody waits on: the enricher drains it in its batches, so
    // exits cost no wakeups yet still give the parent of processes that were gone before /proc/<pid>
    // could be read, and keep the process table clean.
    exit_fd_ = OpenConnector();
    if (exit_fd_.valid() && !AttachExitFilter(exit_fd_.get())) {
      SendListen(exit_fd_.get(), false);
      exit_fd_.Reset();
    }
    return true;
  }
  log::Info("proc connector delivers no events; falling back to /proc polling");
  stop_ = true;
  reader_.join();
  stop_ = false;
  SendListen(nl_fd_.get(), false);
  nl_fd_.Reset();
  return false;
}

void ProcessCollector::NetlinkLoop() {
  // Short-lived processes exit within a millisecond of exec; a reader that waits behind busy CPU-bound
  // tasks finds /proc empty. The lowest real-time priority makes the wakeup preempt them; the work per
  // event is tiny and RT throttling bounds the worst case. Fall back to a high nice value.
  sched_param sp{};
  sp.sched_priority = 1;
  if (::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &sp) != 0) {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), -10);
  }
  // recvmmsg with MSG_WAITFORONE: one syscall per wakeup takes the whole burst. A receive timeout
  // (instead of poll + an eventfd) lets Stop() be noticed within 300 ms.
  constexpr size_t kMessages = 64;
  constexpr size_t kMessageBytes = 1024;  // a proc connector message is ~100 bytes
  timeval tv{0, 300'000};
  ::setsockopt(nl_fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::unique_ptr<char[]> storage(new char[kMessages * kMessageBytes]);
  iovec iov[kMessages];
  mmsghdr msgs[kMessages];
  std::vector<RawEvent> batch;
  batch.reserve(kMessages);
  while (!stop_) {
    for (size_t i = 0; i < kMessages; ++i) {
      iov[i] = {storage.get() + i * kMessageBytes, kMessageBytes};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(nl_fd_.get(), msgs, kMessages, MSG_WAITFORONE, nullptr);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (errno == ENOBUFS) {
        // The kernel dropped connector messages: we cannot know how many processes were missed.
        sink_->CountDropped("process_events_overflow", 1);
        continue;
      }
      log::Error("proc connector recv failed", {{"error", std::strerror(errno)}});
      return;
    }
    for (int i = 0; i < n; ++i) ParseNetlink(storage.get() + static_cast<size_t>(i) * kMessageBytes, msgs[i].msg_len, batch);
    HandleBatch(batch);
    batch.clear();
  }
}

void ProcessCollector::ParseNetlink(const char* buf, size_t len, std::vector<RawEvent>& out) {
  static const int self = ::getpid();
  int remaining = static_cast<int>(len);
  for (auto* nh = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(nh, remaining); nh = NLMSG_NEXT(nh, remaining)) {
    if (nh->nlmsg_type == NLMSG_NOOP || nh->nlmsg_type == NLMSG_ERROR) continue;
    auto* cn = reinterpret_cast<const cn_msg*>(NLMSG_DATA(nh));
    if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
    auto* ev = reinterpret_cast<const proc_event*>(cn->data);
    switch (ev->what) {
      case proc_event::PROC_EVENT_FORK:
        if (ev->event_data.fork.parent_tgid == self) probe_seen_ = true;
        out.push_back(RawEvent{ev->what, ev->event_data.fork.child_tgid, ev->event_data.fork.child_pid,
                               ev->event_data.fork.parent_tgid});
        break;
      case proc_event::PROC_EVENT_EXEC:
        out.push_back(RawEvent{ev->what, ev->event_data.exec.process_tgid, ev->event_data.exec.process_pid, 0});
        break;
      case proc_event::PROC_EVENT_EXIT:
        if (ev->event_data.exit.parent_tgid == static_cast<__kernel_pid_t>(self)) probe_seen_ = true;
        out.push_back(RawEvent{ev->what, ev->event_data.exit.process_tgid, ev->event_data.exit.process_pid,
                               ev->event_data.exit.parent_tgid});
        break;
      default:
        break;
    }
  }
}

void ProcessCollector::HandleBatch(std::vector<RawEvent>& batch) {
  // Pass 1: the perishable part of every exec in the batch, before anything slower.
  std::vector<ProcessSnapshot> snaps;
  for (const RawEvent& e : batch) {
    if (e.what != proc_event::PROC_EVENT_EXEC) continue;
    ProcessSnapshot snap;
    snap.pid = e.pid;
    SnapshotPerishable(snap, true, &seen_exes_);
    SnapshotOwner(snap);
    snap.proc_dir.Reset();  // the enricher reads stat later (or learns the parent from the exit)
    snaps.push_back(std::move(snap));
  }
  // Pass 2: in order, so a fork is known before its exec and an exit comes after it.
  size_t next = 0;
  for (const RawEvent& e : batch) {
    switch (e.what) {
      case proc_event::PROC_EVENT_FORK:
        if (e.thread == e.pid && fork_parent_.size() < 65536) fork_parent_[e.pid] = e.parent;  // process, not thread
        break;
      case proc_event::PROC_EVENT_EXEC: {
        ProcessSnapshot& snap = snaps[next++];
        if (auto it = fork_parent_.find(e.pid); it != fork_parent_.end()) snap.ppid_hint = it->second;
        Enqueue(std::move(snap));
        break;
      }
      case proc_event::PROC_EVENT_EXIT:
        if (e.thread == e.pid) {
          fork_parent_.erase(e.pid);
          // Through the queue, so an exec of the same pid still queued is completed first.
          ProcessSnapshot snap;
          snap.pid = e.pid;
          Enqueue(std::move(snap), true);
        }
        break;
      default:
        break;
    }
  }
}

void ProcessCollector::PollLoop() {
  std::vector<int> previous = ListPids();
  table_->RetainOnly(previous);
  while (stopper_.SleepFor(options_.poll_interval)) {
    std::vector<int> current = ListPids();
    std::vector<int> fresh;
    std::set_difference(current.begin(), current.end(), previous.begin(), previous.end(), std::back_inserter(fresh));
    for (int pid : fresh) Enqueue(SnapshotProcess(pid, true));
    if (current.size() != previous.size() || !fresh.empty()) table_->RetainOnly(current);
    previous = std::move(current);
  }
}

void ProcessCollector::Enqueue(ProcessSnapshot snap, bool exited) {
  {
    std::lock_guard lock(mu_);
    if (pending_.size() >= options_.max_pending) {
      if (!exited) sink_->CountDropped("process_collector_backlog", 1);
      return;
    }
    pending_.push_back(Item{std::move(snap), exited});
    if (pending_.size() > 1) return;  // the enricher was already woken for this batch
  }
  cv_.notify_one();
}

void ProcessCollector::DrainExits(std::unordered_map<int, int>& exits) {
  constexpr size_t kMessages = 64;
  constexpr size_t kMessageBytes = 256;
  char storage[kMessages * kMessageBytes];
  iovec iov[kMessages];
  mmsghdr msgs[kMessages];
  std::vector<RawEvent> events;
  while (true) {
    for (size_t i = 0; i < kMessages; ++i) {
      iov[i] = {storage + i * kMessageBytes, kMessageBytes};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(exit_fd_.get(), msgs, kMessages, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) continue;  // lost exits only delay cache cleanup (the sweep catches them)
      return;
    }
    events.clear();
    for (int i = 0; i < n; ++i) ParseNetlink(storage + static_cast<size_t>(i) * kMessageBytes, msgs[i].msg_len, events);
    for (const RawEvent& e : events) {
      if (e.what == proc_event::PROC_EVENT_EXIT && exits.size() < 65536) exits[e.pid] = e.parent;
    }
    if (n < static_cast<int>(kMessages)) return;
  }
}

void ProcessCollector::EnrichLoop() {
  // Batched: a wakeup per process would cost more than the work. Events wait at most kBatchDelay.
  constexpr auto kBatchDelay = std::chrono::milliseconds(50);
  // Without exit events, dead processes are found by a periodic /proc listing; the table keeps them
  // for its grace period for late file and network events.
  constexpr auto kSweepInterval = std::chrono::seconds(5);
  auto next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
  std::deque<Item> work;
  // Exits seen (pid -> parent), kept one extra round for execs queued after their exit was drained.
  std::unordered_map<int, int> exits, previous_exits;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_sweep, [&] { return stop_ || !pending_.empty(); });
      if (!pending_.empty() && !stop_) {
        cv_.wait_for(lock, kBatchDelay, [&] { return stop_.load(); });
      }
      work.swap(pending_);
      if (work.empty() && stop_) return;
    }
    bool have_exits = exit_fd_.valid();
    if (have_exits) DrainExits(exits);
    for (Item& item : work) {
      ProcessSnapshot& snap = item.snap;
      if (item.exited) {
        table_->MarkExited(snap.pid);
        continue;
      }
      if (snap.pid == static_cast<int>(::getpid())) continue;
      // A known exit means /proc/<pid> is gone: its parent comes from the exit event, no syscall.
      auto exit_parent = [&](int pid) -> int {
        if (auto it = exits.find(pid); it != exits.end()) return it->second;
        if (auto it = previous_exits.find(pid); it != previous_exits.end()) return it->second;
        return 0;
      };
      int parent_at_exit = have_exits ? exit_parent(snap.pid) : 0;
      if (!snap.stat && parent_at_exit == 0) SnapshotRest(snap);
      bool gone = !snap.stat;
      if (gone && have_exits && parent_at_exit == 0) {
        DrainExits(exits);  // it may have exited since the batch started
        parent_at_exit = exit_parent(snap.pid);
      }
      if (gone && snap.ppid_hint == 0) snap.ppid_hint = parent_at_exit;
      int64_t ts = snap.observed_time;
      auto info = table_->Complete(snap);
      auto parent = info->ppid > 0 ? table_->Get(info->ppid) : nullptr;
      auto grandparent = parent && parent->ppid > 0 ? table_->Get(parent->ppid) : nullptr;
      sink_->Emit(ProcessCreatedEvent(*info, parent.get(), grandparent.get(), ts));
      if (gone) table_->MarkExited(info->pid);
    }
    work.clear();
    if (have_exits) {
      for (const auto& [pid, parent] : exits) table_->MarkExited(pid);
      previous_exits.swap(exits);
      exits.clear();
    }
    if (std::chrono::steady_clock::now() >= next_sweep) {
      // The polling reader cleans the table itself; with exit events there is nothing to sweep.
      if (netlink_active_ && !have_exits) table_->RetainOnly(ListPids());
      next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
    }
  }
}

}  // namespace ward::sensor
