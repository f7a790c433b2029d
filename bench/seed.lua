-- Seeds the bench fleet and prints `key=value` lines for the driver. args: LOCATION_ID
-- LIST_SIZE LOG_ENTRIES. Machines go in with 64 calls in flight, logs in batches of 1000 through
-- RobotService/Log, so seeding takes seconds.
local loc, list_size, log_entries = arg[1], math.tointeger(tonumber(arg[2])), math.tointeger(tonumber(arg[3]))
local function check(errors, what)
  if #errors > 0 then error(what .. ": " .. #errors .. " calls failed, first: " .. tostring(errors[1].error)) end
end

local reader = cloud.new_robot("bench-read", loc)
print("robot_id=" .. reader)

local list_loc = cloud.create_location("bench-list").id
local idx = {}
for i = 1, list_size do idx[i] = i end
local _, errors = cloud.parallel(idx, function(i) return cloud.new_robot("m" .. i, list_loc) end, { concurrency = 64 })
check(errors, "seeding machines")
print("list_location=" .. list_loc)

local logger = cloud.new_robot("bench-logs", loc)
local part = cloud.get_robot_parts(logger)[1].id
local base, batch = os.time() - log_entries, 1000
local batches = {}
for b = 1, (log_entries + batch - 1) // batch do batches[b] = b end
_, errors = cloud.parallel(batches, function(b)
  local logs = {}
  for i = (b - 1) * batch + 1, math.min(b * batch, log_entries) do
    logs[#logs + 1] = {
      host = "bench", level = "info", logger_name = "rdk.bench", message = "entry " .. i,
      time = os.date("!%Y-%m-%dT%H:%M:%SZ", base + i),
    }
  end
  return cloud.call("viam.app.v1.RobotService/Log", { id = part, logs = logs })
end, { concurrency = 4 })
check(errors, "seeding logs")
print("log_part=" .. part)
