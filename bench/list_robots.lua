-- list_robots of one location into a Lua table. args: LOCATION_ID EXPECTED
local b = require("lib")
local loc, want = arg[1], math.tointeger(tonumber(arg[2]))
local robots
b.timed(function() robots = cloud.list_robots(loc) end)
assert(#robots == want, ("expected %d machines, got %d"):format(want, #robots))
