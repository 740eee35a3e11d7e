-- edge_wrk.lua: the wrk script of bench/edge_bench.sh, used alike for nginx and
-- the dropgate edge. Each request takes the next request target from a list
-- (one per buyer: 64 different signed links or download tokens), so neither
-- side answers one cached URL. At the end it prints one JSON line with
-- wrk's totals for the script to check and record.
--
-- Usage: wrk -t2 -c64 -d10s -s bench/edge_wrk.lua URL -- TARGETS_FILE

local targets = {}
local next_index = 1

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then targets[#targets + 1] = line end
  end
  if #targets == 0 then error("no request targets in " .. args[1]) end
  -- Threads start at different places in the list.
  next_index = (id or 0) * 7 % #targets + 1
end

function setup(thread)
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end

function request()
  local target = targets[next_index]
  next_index = next_index % #targets + 1
  return wrk.format("GET", target)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
