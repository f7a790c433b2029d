-- One TabularDataBySQL query returning every reading of a part (time and two fields), as Lua
-- tables. args: ORG_ID PART_ID EXPECTED
local b = require("lib")
local org, part, want = arg[1], arg[2], math.tointeger(tonumber(arg[3]))
local sql = "SELECT time_requested, data.readings.temperature AS temperature, data.readings.humidity AS humidity " ..
  "FROM readings WHERE part_id = '" .. part .. "'"
local rows
b.timed(function() rows = cloud.data.tabular_data_by_sql { sql_query = sql, org_id = org } end)
assert(#rows == want, ("expected %d rows, got %d"):format(want, #rows))
