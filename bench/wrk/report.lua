-- Appended to every wrk script: collects the threads in setup() so done() can read their
-- counters (count-per-connection.lua), and prints one machine-readable line that
-- bench/load/wrk.ts parses. wrk's own text summary stays in the raw output only.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- NaN (no samples) is not JSON.
local function num(value, format)
  if value == nil or value ~= value then return "null" end
  return string.format(format or "%.0f", value)
end

-- One entry per thread; with wrk -t C -c C, one per connection.
local function per_thread(name)
  local values = {}
  for _, thread in ipairs(threads) do
    local value = thread:get(name)
    if value ~= nil then table.insert(values, num(value)) end
  end
  return "[" .. table.concat(values, ",") .. "]"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write("BENCH_JSON {",
    '"durationUs":', num(summary.duration), ',"requests":', num(summary.requests), ',"bytes":', num(summary.bytes),
    ',"errors":{"connect":', num(e.connect), ',"read":', num(e.read), ',"write":', num(e.write),
    ',"status":', num(e.status), ',"timeout":', num(e.timeout), '}',
    ',"latencyUs":{"p50":', num(latency:percentile(50), "%.1f"), ',"p90":', num(latency:percentile(90), "%.1f"),
    ',"p99":', num(latency:percentile(99), "%.1f"), ',"max":', num(latency.max, "%.1f"),
    ',"mean":', num(latency.mean, "%.1f"), '}',
    ',"served":', per_thread("served"), ',"non2xx":', per_thread("non2xx"),
    ',"wrongBody":', per_thread("wrong_body"), "}\n")
end
