-- Shared by the bench workloads: a wall clock and the one line each workload prints.
-- fleetsh has no wall-clock function (os.clock is CPU time), so read `date` once before and
-- once after a workload and subtract what that read itself costs.
local M = {}

local function date()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local cost
function M.now()
  if not cost then
    local a = date()
    cost = date() - a
  end
  return date()
end

--- Runs f() and prints its wall time in seconds, the only line the driver reads.
function M.timed(f)
  local t0 = M.now()
  f()
  local t1 = M.now()
  print(string.format("%.6f", math.max(t1 - t0 - cost, 0)))
end

return M
