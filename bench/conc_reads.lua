-- 20,000 get_robot calls, 64 in flight. args: ROBOT_ID [N] [CONCURRENCY]
local b = require("lib")
local id, n = arg[1], math.tointeger(tonumber(arg[2] or 20000))
local conc = math.tointeger(tonumber(arg[3] or 64))
local items = {}
for i = 1, n do items[i] = id end
b.timed(function()
  local _, errors = cloud.parallel(items, function(x) return cloud.get_robot(x) end, { concurrency = conc })
  assert(#errors == 0, #errors .. " calls failed")
end)
