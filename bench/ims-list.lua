-- wrk script for bench/ims.sh: GET one list endpoint of the demo tenant
-- with filters, spread over many schools, optionally following nextCursor
-- (keyset paging). Configured by environment variables:
--
--   IMS_PATH     the path and query, e.g. /v1/incidents?status=new&limit=50;
--                "{id}" is replaced by a random line of IMS_IDS
--   IMS_SCHOOLS  a file of school ids, one per line (sent as X-School-ID,
--                a random one per request)
--   IMS_IDS      optional: a file of ids for "{id}"
--   IMS_PAGES    optional: follow nextCursor, on average this many pages deep
--
-- At the end it prints ONE JSON line
--   {"requests","ok","non2xx","socket_errors","seconds","rps","p50_ms","p99_ms","first_error"}
-- and exits non-zero if any request failed.
--
--   IMS_PATH=/v1/incidents IMS_SCHOOLS=schools.txt wrk -t1 -c16 -d10s --latency -s bench/ims-list.lua http://127.0.0.1:8080

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

ok = 0
non2xx = 0
first_error = ""

local function lines(file)
  local out = {}
  if file == nil or file == "" then return out end
  local f = assert(io.open(file, "r"), "cannot open " .. file)
  for line in f:lines() do
    if line ~= "" then table.insert(out, line) end
  end
  f:close()
  return out
end

local path = os.getenv("IMS_PATH") or "/v1/incidents"
local schools = lines(os.getenv("IMS_SCHOOLS"))
local ids = lines(os.getenv("IMS_IDS"))
local max_pages = tonumber(os.getenv("IMS_PAGES") or "0") or 0
local sep = string.find(path, "?", 1, true) and "&" or "?"

-- Cursors to follow, {school, cursor}. Responses arrive in the order
-- requests complete, so a page's successor goes out on whichever
-- connection asks next; the school comes back in the page's items
-- (tenant-wide lists need none). Depth is geometric with mean IMS_PAGES.
local pending = {}

math.randomseed(os.time())

function request()
  local school, p
  local next_page = table.remove(pending)
  if next_page then
    school = next_page[1]
    p = path .. sep .. "cursor=" .. next_page[2]
  else
    school = (#schools > 0) and schools[math.random(#schools)] or "demo-school"
    p = path
    if #ids > 0 then
      p = string.gsub(p, "{id}", ids[math.random(#ids)])
    end
  end
  return wrk.format("GET", p, { ["X-Tenant-ID"] = "demo-tenant", ["X-School-ID"] = school })
end

function response(status, _, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    if max_pages > 1 and math.random() < 1 - 1 / max_pages then
      local cursor = string.match(body or "", '"nextCursor":"([^"]+)"')
      if cursor then
        local school = string.match(body, '"schoolId":"([^"]*)"')
        if school == nil or school == "" then school = "demo-school" end
        table.insert(pending, { school, cursor })
      end
    end
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
      "ims-list.lua: %d non-2xx responses, %d socket errors, %d ok: not a valid measurement\n",
      total_non2xx, socket_errors, total_ok))
    os.exit(1)
  end
end
