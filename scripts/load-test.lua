-- wrk 4.1 script for scripts/load-test.sh: one step of the register flow per wrk run, paced to an
-- offered rate. Not meant to be run by hand; load-test.sh passes the arguments after "--":
--   wrk ... -s scripts/load-test.lua URL -- STEP RATE TOKEN
-- STEP is lookup | calculate | purchase, RATE the offered requests per second for the whole run
-- (all threads together), TOKEN a per-run random prefix for order ids and Idempotency-Keys.
-- Everything else comes from the environment, so no secret reaches wrk's argv:
--   INTEGRATION_API_KEY (sent as "Authorization: Bearer"), LOAD_API_PREFIX (path of the API,
--   e.g. /api/integrations/v1), LOAD_CUSTOMER_ID, LOAD_PHONE, LOAD_PLACE_FIELD + LOAD_PLACE_ID.
--
-- Pacing: delay() runs before every request of every connection. Each thread keeps a schedule of
-- send slots, one every threads/RATE seconds, on a monotonic clock read through LuaJIT's ffi
-- (clock_gettime; wrk's Lua API has no clock finer than os.time's seconds). A connection that
-- asks for its next request waits until the next free slot. A thread that falls behind (every
-- connection busy) does not burst to catch up: missed slots are lost, so the achieved rate shows
-- the shortfall honestly.
--
-- Figures: latency percentiles come from wrk's own histogram (done()'s latency object, from the
-- request's first byte written to its response's last byte read, the delay not included).
-- Non-2xx responses are counted per thread in response() and summed in done(); socket errors
-- (connect, read, write, timeout) come from wrk's summary. done() prints one line starting with
-- "LOAD " that load-test.sh parses.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } loadtest_timespec;
int clock_gettime(int clock_id, loadtest_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("loadtest_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state from here on).
local step, rate, token, interval_ms, next_slot
local api, customer_id, phone, place_field, place_id, auth
local sent, non2xx = 0, 0

local function json_id(value)
  if value:match("^%d+$") then
    return value
  end
  return '"' .. value:gsub('[%c"\\]', "") .. '"'
end

local function url_quote(value)
  return (value:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function init(args)
  step, rate, token = args[1], tonumber(args[2]), args[3]
  local threads_total = tonumber(os.getenv("LOAD_THREADS_TOTAL") or "1")
  interval_ms = 1000 * threads_total / rate
  api = os.getenv("LOAD_API_PREFIX") or "/api/integrations/v1"
  customer_id = os.getenv("LOAD_CUSTOMER_ID") or ""
  phone = os.getenv("LOAD_PHONE") or ""
  place_field = os.getenv("LOAD_PLACE_FIELD") or ""
  place_id = os.getenv("LOAD_PLACE_ID") or ""
  auth = "Bearer " .. (os.getenv("INTEGRATION_API_KEY") or "")
  -- Stagger the threads across one interval so their slots interleave.
  local thread_no = tonumber(wrk.thread:get("thread_no") or 1)
  next_slot = now_ms() + interval_ms * (thread_no - 1) / threads_total
end

function delay()
  local now = now_ms()
  if next_slot < now - interval_ms then
    next_slot = now -- behind schedule: lose the missed slots rather than burst
  end
  local wait = next_slot - now
  next_slot = next_slot + interval_ms
  if wait < 0 then
    return 0
  end
  return math.floor(wait)
end

local function body_common()
  local place = ""
  if place_field ~= "" then
    place = string.format(', "%s": %s', place_field, json_id(place_id))
  end
  return string.format('"customer_id": %s, "amount_minor": 100, "redeem_points": 0%s',
    json_id(customer_id), place)
end

function request()
  sent = sent + 1
  local headers = { ["Authorization"] = auth, ["Accept"] = "application/json" }
  if step == "lookup" then
    if customer_id ~= "" and phone == "" then
      return wrk.format("GET", api .. "/customers/" .. customer_id, headers)
    end
    return wrk.format("GET", api .. "/customers?phone=" .. url_quote(phone), headers)
  end
  headers["Content-Type"] = "application/json"
  if step == "calculate" then
    return wrk.format("POST", api .. "/calculate", headers, "{" .. body_common() .. "}")
  end
  local key = string.format("load-%s-%d-%d", token, wrk.thread:get("thread_no") or 1, sent)
  headers["Idempotency-Key"] = key
  local body = string.format('{%s, "order_id": "%s"}', body_common(), key)
  return wrk.format("POST", api .. "/purchases", headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx == 1 then
      wrk.thread:set("first_error", string.format("HTTP %d", status))
    end
  end
  wrk.thread:set("non2xx", non2xx)
end

function done(summary, latency, requests)
  local bad, first_error = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + tonumber(thread:get("non2xx") or 0)
    if first_error == "" then
      first_error = thread:get("first_error") or ""
    end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local function ms(p)
    return latency:percentile(p) / 1000
  end
  io.write(string.format(
    "LOAD requests=%d non2xx=%d socket_errors=%d connect=%d read=%d write=%d timeout=%d "
      .. "duration_us=%d p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f max_ms=%.1f first_error=%s\n",
    summary.requests, bad, socket_errors, e.connect, e.read, e.write, e.timeout,
    summary.duration, ms(50), ms(95), ms(99), latency.max / 1000,
    (first_error:gsub("%s", "_"))))
end
