-- wrk script for bench/api.py: GET the paths listed in $KEHU_WRK_PATHS (one per line, taken in turn
-- from a random start per connection thread) with the API key of $KEHU_WRK_KEY, then print one line
-- of JSON with the latency percentiles (microseconds), the request count and the non-2xx count.

local paths = {}
local next_path = 1
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

init = function(args)
  math.randomseed(thread_number or 1)
  for line in io.lines(os.getenv("KEHU_WRK_PATHS")) do
    paths[#paths + 1] = line
  end
  next_path = math.random(#paths)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEHU_WRK_KEY")
  wrk.headers["Accept"] = "application/json"
end

request = function()
  local path = paths[next_path]
  next_path = next_path % #paths + 1
  return wrk.format("GET", path)
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
