-- wrk script for the benchmark's scenarios (bench/run.ts passes the arguments after --):
--   get PATH [RATE]                             GET one path
--   mixed READPATH POLL CHOICES COOKIES [RATE]  95 % GET READPATH, 5 % ballots, each ballot
--                                               from a different user
-- CHOICES is a comma list of choice ids, COOKIES a file with one session cookie per line.
-- RATE, when given, paces the run to about that many requests per second in total.
-- done() prints one JSON line with the counts and latency percentiles (milliseconds).

local threads = {}
local counter = 1

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local mode, path, poll, choices, cookies, rate
local next_cookie = 1
local per_connection_delay = 0

local function split(list)
  local out = {}
  for item in string.gmatch(list, "[^,]+") do table.insert(out, item) end
  return out
end

local function read_cookies(file, index, count)
  local out, line_number = {}, 0
  for line in io.lines(file) do
    line_number = line_number + 1
    -- Each thread takes every count-th line, so no two requests share a user.
    if (line_number - index) % count == 0 then table.insert(out, line) end
  end
  return out
end

function init(args)
  mode = args[1]
  local threads_total = tonumber(os.getenv("WRK_THREADS") or "1")
  local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "1")
  local rate_arg
  if mode == "get" then
    path, rate_arg = args[2], args[3]
  elseif mode == "mixed" then
    path, poll, choices, cookies, rate_arg = args[2], args[3], split(args[4]), read_cookies(args[5], index, threads_total), args[6]
  end
  rate = tonumber(rate_arg)
  if rate then per_connection_delay = connections * 1000 / rate end
end

local function ballot()
  local cookie = cookies[next_cookie]
  if cookie == nil then
    -- Out of fresh users: stop this thread rather than repeat a ballot.
    wrk.thread:stop()
    return wrk.format("GET", path)
  end
  next_cookie = next_cookie + 1
  local choice = choices[(next_cookie % #choices) + 1]
  return wrk.format("POST", "/api/polls/" .. poll .. "/votes",
    { ["Content-Type"] = "application/json", ["Cookie"] = cookie },
    '{"choiceIds":["' .. choice .. '"]}')
end

local request_number = 0
function request()
  request_number = request_number + 1
  if mode == "get" then return wrk.format("GET", path) end
  if request_number % 20 == 0 then return ballot() end
  return wrk.format("GET", path)
end

function delay()
  return per_connection_delay
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyMs":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f,"mean":%.3f}}\n',
    summary.requests, summary.duration / 1e6,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
