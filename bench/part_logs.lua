-- Every log entry of one part (num_log_entries = 0 pages to the end). args: PART_ID EXPECTED
local b = require("lib")
local part, want = arg[1], math.tointeger(tonumber(arg[2]))
local logs
b.timed(function() logs = cloud.get_robot_part_logs{ robot_part_id = part, num_log_entries = 0 } end)
assert(#logs == want, ("expected %d entries, got %d"):format(want, #logs))
