-- 2,000 new_robot then 2,000 update_robot, sequential. args: LOCATION_ID PREFIX [N]
local b = require("lib")
local loc, prefix, n = arg[1], arg[2], math.tointeger(tonumber(arg[3] or 2000))
b.timed(function()
  local ids = {}
  for i = 1, n do ids[i] = cloud.new_robot(prefix .. i, loc) end
  for i = 1, n do cloud.update_robot(ids[i], prefix .. i .. "-u", loc) end
end)
