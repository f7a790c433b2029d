-- 5,000 sequential get_robot calls. args: ROBOT_ID [N]
local b = require("lib")
local id, n = arg[1], math.tointeger(tonumber(arg[2] or 5000))
b.timed(function()
  for _ = 1, n do cloud.get_robot(id) end
end)
