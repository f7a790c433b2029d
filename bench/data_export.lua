-- ExportTabularData of every reading of one sensor, as a list of points (Python's shape).
-- args: PART_ID EXPECTED
local b = require("lib")
local part, want = arg[1], math.tointeger(tonumber(arg[2]))
local points
b.timed(function() points = cloud.data.export_tabular_data(part, "temp", "rdk:component:sensor", "Readings") end)
assert(#points == want, ("expected %d points, got %d"):format(want, #points))
