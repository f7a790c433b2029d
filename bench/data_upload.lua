-- Uploads N readings of one sensor of a new machine, BATCH readings per
-- DataSyncService/DataCaptureUpload call, sequentially (as python_sdk.py's data_upload does).
-- The readings are built before the clock starts; the machine is made before too.
-- args: LOCATION_ID NAME N [BATCH]   (prints `part_id=...`, then the wall time)
local b = require("lib")
local loc, name, n = arg[1], arg[2], math.tointeger(tonumber(arg[3]))
local batch = math.tointeger(tonumber(arg[4] or 1000))
local part = cloud.get_robot_parts(cloud.new_robot(name, loc))[1].id
print("part_id=" .. part)
local base = os.time() - n
local batches = {}
for first = 1, n, batch do
  local data, times = {}, {}
  for i = first, math.min(first + batch - 1, n) do
    local at = os.date("!%Y-%m-%dT%H:%M:%SZ", base + i)
    data[#data + 1] = { readings = { temperature = 20 + i % 10, humidity = 40 + i % 7 } }
    times[#times + 1] = { at, at }
  end
  batches[#batches + 1] = { data = data, times = times }
end
b.timed(function()
  for _, bt in ipairs(batches) do
    cloud.data.tabular_data_capture_upload(bt.data, part, "rdk:component:sensor", "temp", "Readings", bt.times)
  end
end)
