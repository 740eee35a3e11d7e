-- edge_wrk.lua: the wrk script of bench/edge_bench.sh, used alike for nginx and
-- the dropgate edge. Each request takes its target from a list: a line of
-- the file, after PREFIX (for the edge, PREFIX is the file's path and the
-- lines are download tokens; for nginx, the lines are whole signed links).
--
--   cycle  every thread cycles through all the lines, each thread from its
--          own place: 64 buyers' links reused for the whole run (the edge's
--          token cache answers all but the first request of each).
--   once   the lines are shared out between the threads (line i goes to
--          thread i mod THREADS) and each is used REPEAT times in a row, then
--          never again: REPEAT 20 is a buyer downloading a 20-file drop, 1
--          makes every request bring a token the edge has not seen. When a
--          thread runs out of lines it starts over and counts the requests
--          that reused one ("reused" in the summary): the run is then not
--          what it claims, and bench/edge_bench.sh refuses it.
--
-- At the end it prints one JSON line with wrk's totals for the script to check.
--
-- Usage: wrk -t2 -c64 -d10s -s bench/edge_wrk.lua URL -- FILE PREFIX MODE REPEAT THREADS

local lines = {}
local next_index = 1
local uses = 0        -- uses of the current line so far
local repeat_count = 1
local mode = "cycle"
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, prefix = args[1], args[2] or ""
  mode, repeat_count = args[3] or "cycle", tonumber(args[4] or "1")
  local thread_count = tonumber(args[5] or "1")
  if mode ~= "cycle" and mode ~= "once" then error("MODE must be cycle or once, not " .. mode) end
  local n = 0
  for line in io.lines(file) do
    if line ~= "" then
      if mode == "cycle" or n % thread_count == id then lines[#lines + 1] = prefix .. line end
      n = n + 1
    end
  end
  if #lines == 0 then error("no request targets for thread " .. id .. " in " .. file) end
  if mode == "cycle" then next_index = id * 7 % #lines + 1 end
  reused = 0
end

function request()
  if exhausted then reused = reused + 1 end
  local target = lines[next_index]
  uses = uses + 1
  if mode == "cycle" or uses >= repeat_count then
    uses = 0
    next_index = next_index + 1
    if next_index > #lines then
      next_index = 1
      exhausted = mode == "once"
    end
  end
  return wrk.format("GET", target)
end

function done(summary, latency, requests)
  local e = summary.errors
  local reused_total = 0
  for _, thread in ipairs(threads) do reused_total = reused_total + (thread:get("reused") or 0) end
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"reused":%d}\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), reused_total))
end
