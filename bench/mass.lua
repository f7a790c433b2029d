-- Adds N machines to a new location (64 calls in flight), for the serve memory figure. args: N
local n = math.tointeger(tonumber(arg[1]))
local loc = cloud.create_location("bench-mass").id
local idx = {}
for i = 1, n do idx[i] = i end
local _, errors = cloud.parallel(idx, function(i) return cloud.new_robot("x" .. i, loc) end, { concurrency = 64 })
assert(#errors == 0, #errors .. " calls failed")
print("mass_location=" .. loc)
