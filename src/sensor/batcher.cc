#include "sensor/batcher.h"

#include <zstd.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/time.h"
#include "sensor/util.h"

namespace ward::sensor {

std::string ZstdCompress(std::string_view data, int level) {
  // One context per thread: creating one per call costs more than compressing a small batch.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compressCCtx(ctx.get(), out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) return {};
  out.resize(n);
  return out;
}

Result<std::string> ZstdDecompress(std::string_view data, size_t max_bytes) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> ds(ZSTD_createDStream(), ZSTD_freeDStream);
  ZSTD_initDStream(ds.get());
  std::string out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    size_t r = ZSTD_decompressStream(ds.get(), &ob, &in);
    if (ZSTD_isError(r)) return Err(InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(r)));
    out.append(chunk.data(), ob.pos);
    if (out.size() > max_bytes) return Err(ResourceExhausted("zstd: output too large"));
    if (r == 0 && in.pos == in.size) break;
  }
  return out;
}

int64_t ReportIdBase() { return NowMs() / 1000 * 1'000'000; }

Result<std::unique_ptr<ReportIdCounter>> ReportIdCounter::Open(std::string path, int64_t block) {
  // A fresh counter starts at a time-based base, so a reinstalled sensor (lost state dir) does not
  // repeat the ReportIds of its previous life under the same DeviceId.
  int64_t next = ReportIdBase();
  if (auto text = ReadFile(path, 256)) {
    std::string t(Trim(*text));
    if (!t.empty()) next = std::max<int64_t>(1, std::strtoll(t.c_str(), nullptr, 10));
  }
  std::unique_ptr<ReportIdCounter> c(new ReportIdCounter(std::move(path), next, block));
  // Reserve the first block now so a crash before the first Next() still moves forward.
  c->reserved_ = next + block;
  WARD_RETURN_IF_ERROR(WriteFileAtomic(c->path_, std::to_string(c->reserved_) + "\n", 0600));
  return c;
}

int64_t ReportIdCounter::Next() {
  std::lock_guard lock(mu_);
  if (next_ >= reserved_) {
    reserved_ = next_ + block_;
    Status st = WriteFileAtomic(path_, std::to_string(reserved_) + "\n", 0600);
    if (!st.ok()) log::Warn("cannot persist ReportId reservation", {{"error", st.message()}});
  }
  return next_++;
}

Batcher::Batcher(DiskQueue* queue, ReportIdCounter* ids, BatcherOptions options)
    : queue_(queue), ids_(ids), options_(options) {}

Batcher::~Batcher() { Stop(); }

void Batcher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    SetThreadName("ward-batch");
    Run();
  });
}

void Batcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Flush();
}

void Batcher::Emit(json::Value event) {
  if (ids_) event.Set("ReportId", json::Value(ids_->Next()));
  std::string line = event.Serialize();
  line.push_back('\n');
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    if (pending_events_ >= options_.max_pending_events) {
      queue_->CountDropped("sensor_buffer_full", 1);
      return;
    }
    if (pending_events_ == 0) first_pending_ = std::chrono::steady_clock::now();
    pending_ += line;
    ++pending_events_;
    ++emitted_;
    notify = pending_events_ == 1 || pending_events_ >= options_.max_events;
  }
  if (notify) cv_.notify_all();
}

void Batcher::CountDropped(std::string_view reason, uint64_t events) { queue_->CountDropped(reason, events); }

uint64_t Batcher::emitted() const {
  std::lock_guard lock(mu_);
  return emitted_;
}

void Batcher::FlushLocked(std::unique_lock<std::mutex>& lock) {
  while (pending_events_ > 0) {
    // Cut at most max_events lines.
    size_t cut = 0, n = 0;
    while (n < options_.max_events && cut < pending_.size()) {
      size_t nl = pending_.find('\n', cut);
      cut = nl == std::string::npos ? pending_.size() : nl + 1;
      ++n;
    }
    std::string body = pending_.substr(0, cut);
    pending_.erase(0, cut);
    pending_events_ -= n;
    if (pending_events_ > 0) first_pending_ = std::chrono::steady_clock::now();
    lock.unlock();
    {
      std::lock_guard order(flush_mu_);
      std::string compressed = ZstdCompress(body, options_.zstd_level);
      Status st = compressed.empty() ? Internal("zstd compression failed")
                                     : queue_->Append(NewGuid(), static_cast<uint32_t>(n), compressed);
      if (!st.ok()) log::Error("cannot queue telemetry batch", {{"error", st.message()}});
    }
    lock.lock();
  }
}

void Batcher::Flush() {
  std::unique_lock lock(mu_);
  FlushLocked(lock);
}

void Batcher::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (pending_events_ == 0) {
      cv_.wait(lock, [&] { return stop_ || pending_events_ > 0; });
      continue;
    }
    auto due = first_pending_ + options_.max_delay;
    cv_.wait_until(lock, due, [&] { return stop_ || pending_events_ >= options_.max_events; });
    if (pending_events_ >= options_.max_events || std::chrono::steady_clock::now() >= due) FlushLocked(lock);
  }
}

}  // namespace ward::sensor
