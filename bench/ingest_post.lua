-- wrk script for durable-ingest benchmarks: POSTs one pre-built telemetry batch (zstd NDJSON) with a
-- unique X-Ward-Batch-Id per request, so the server stores every request (no dedup shortcut).
-- Environment: BATCH_FILE (body), WARD_AUTH (the WardDevice authorization value), BATCH_EVENTS.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("BATCH_FILE"), "rb"))
  body = f:read("*all")
  f:close()
  auth = os.getenv("WARD_AUTH")
  prefix = string.format("bench-%d-%d-", os.time(), id)
end

function request()
  counter = counter + 1
  local headers = {
    ["Authorization"] = auth,
    ["Content-Encoding"] = "zstd",
    ["Content-Type"] = "application/x-ndjson",
    ["X-Ward-Batch-Id"] = prefix .. counter,
  }
  return wrk.format("POST", "/sensor/v1/events", headers, body)
end

function done(summary, latency, requests)
  local events = tonumber(os.getenv("BATCH_EVENTS") or "0")
  local secs = summary.duration / 1e6
  io.write(string.format("batches: %d ok, %d errors (status %d)\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
  io.write(string.format("events/s: %.0f\n", summary.requests * events / secs))
  io.write(string.format("request MB/s (compressed): %.1f\n", summary.bytes / secs / 1e6))
  io.write(string.format("ack latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
