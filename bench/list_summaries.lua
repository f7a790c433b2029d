-- list_machine_summaries of one location into Lua tables. args: ORG_ID LOCATION_ID EXPECTED
local b = require("lib")
local org, loc, want = arg[1], arg[2], math.tointeger(tonumber(arg[3]))
local locations
b.timed(function()
  locations = cloud.list_machine_summaries { org_id = org, location_ids = { loc } }
end)
local n = 0
for _, l in ipairs(locations) do n = n + #l.machine_summaries end
assert(n == want, ("expected %d machines, got %d"):format(want, n))
