-- wrk script for the benches (bench/_http.py's wrk_load): sends the requests listed in
-- $KEHU_WRK_PATHS, one per line, in turn from a random start per connection thread: a path to GET,
-- or "POST <path> <JSON body>". Authenticates with the API key in $KEHU_WRK_KEY. At the end prints
-- one line of JSON: latency percentiles (microseconds), the request count and the non-2xx count.

local requests = {}
local next_request = 1
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

init = function(args)
  math.randomseed(thread_number or 1)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEHU_WRK_KEY")
  wrk.headers["Accept"] = "application/json"
  for line in io.lines(os.getenv("KEHU_WRK_PATHS")) do
    local path, body = line:match("^POST (%S+) (.*)$")
    if path then
      -- wrk.format takes these headers instead of wrk.headers: copy the key in.
      local headers = {["Content-Type"] = "application/json"}
      for name, value in pairs(wrk.headers) do
        headers[name] = value
      end
      requests[#requests + 1] = wrk.format("POST", path, headers, body)
    else
      requests[#requests + 1] = wrk.format("GET", line)
    end
  end
  next_request = math.random(#requests)
end

request = function()
  local formatted = requests[next_request]
  next_request = next_request % #requests + 1
  return formatted
end

done = function(summary, latency, requests)
  io.write(string.format(
    'KEHU_WRK {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean
  ))
end
