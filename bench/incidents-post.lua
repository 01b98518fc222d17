-- wrk script for bench/run.sh: POST /v1/incidents with a fresh deviceId per
-- request, counting non-2xx responses. At the end it prints ONE JSON line
--   {"requests","ok","non2xx","socket_errors","seconds","rps","p50_ms","p99_ms","first_error"}
-- and exits non-zero if any request failed, so a run with errors cannot pass
-- for a measurement.
--
--   wrk -t1 -c16 -d10s --latency -s bench/incidents-post.lua http://127.0.0.1:8080

local threads = {}
local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
local counter = 0
ok = 0
non2xx = 0
first_error = ""

local headers = {
  ["Content-Type"] = "application/json",
  ["X-Tenant-ID"] = "bench-tenant",
  ["X-School-ID"] = "bench-school",
}

function request()
  counter = counter + 1
  -- thread_id is set by setup() before the thread starts.
  local n = (thread_id or 0) * 1000000000 + counter
  local body = string.format(
    '{"deviceId":"dev_%d","title":"Bench incident","severity":"medium","category":"hardware"}', n)
  return wrk.format("POST", "/v1/incidents", headers, body)
end

function response(status, _, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, _)
  local total_ok, total_non2xx, first = 0, 0, ""
  for _, t in ipairs(threads) do
    total_ok = total_ok + (tonumber(t:get("ok")) or 0)
    total_non2xx = total_non2xx + (tonumber(t:get("non2xx")) or 0)
    local e = t:get("first_error") or ""
    if first == "" and e ~= "" then first = e end
  end
  local errs = summary.errors
  local socket_errors = errs.connect + errs.read + errs.write + errs.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"ok":%d,"non2xx":%d,"socket_errors":%d,"seconds":%.3f,"rps":%.3f,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f,"first_error":%s}\n',
    summary.requests, total_ok, total_non2xx, socket_errors, seconds,
    total_ok / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    json_string(first)))
  io.flush()
  if total_non2xx > 0 or socket_errors > 0 or total_ok == 0 then
    io.stderr:write(string.format(
      "incidents-post.lua: %d non-2xx responses, %d socket errors, %d ok: not a valid measurement\n",
      total_non2xx, socket_errors, total_ok))
    os.exit(1)
  end
end
