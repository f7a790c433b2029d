-- Part logs: push through the generic path (RobotService/Log, what viam-server calls), page
-- through GetRobotPartLogs past 100 entries, and tail with `break`.
local loc = cloud.create_location("logs-" .. os.time()).id
local part = cloud.get_robot_parts(cloud.new_robot("logger", loc))[1].id
local tag = "t" .. os.time() .. math.random(1e6)

local function entry(message, level, t)
  return { host = "lua-host", level = level or "info", time = t, logger_name = "rdk.lua", message = message,
    caller = { File = "logs.lua", Line = 7 }, fields = { { i = 1 } } }
end
local function push(entries)
  cloud.call("viam.app.v1.RobotService/Log", { id = part, logs = entries })
end

-- 250 entries one second apart, every 10th an error.
local base = os.time() - 1000
local batch = {}
for i = 0, 249 do
  batch[#batch + 1] = entry(string.format("%s line %d", tag, i), i % 10 == 0 and "error" or "info",
    os.date("!%Y-%m-%dT%H:%M:%SZ", base + i))
end
push(batch)

local all = cloud.get_robot_part_logs{ robot_part_id = part, filter = tag, num_log_entries = 0 }
assert(#all == 250, "0 = all pages: " .. #all)
assert(all[1].message == tag .. " line 249", "newest first: " .. all[1].message)
assert(all[1].caller.File == "logs.lua" and all[1].fields[1].i == 1 and all[1].host == "lua-host")
assert(#cloud.get_robot_part_logs{ robot_part_id = part, filter = tag } == 100, "default 100")
local seven = cloud.get_robot_part_logs(part, tag, nil, nil, 7)
assert(#seven == 7 and seven[7].message == tag .. " line 243")
local errors = cloud.get_robot_part_logs{ robot_part_id = part, filter = tag, log_levels = { "error" }, num_log_entries = 0 }
assert(#errors == 25)
local oldest = cloud.get_robot_part_logs{ robot_part_id = part, filter = tag, num_log_entries = 3, order = "LOG_ORDER_ASCENDING" }
assert(oldest[1].message == tag .. " line 0" and oldest[3].message == tag .. " line 2")
local window = cloud.get_robot_part_logs{ robot_part_id = part, filter = tag, num_log_entries = 0,
  start = all[250 - 10].time, ["end"] = all[250 - 19].time }
assert(#window == 10, "start/end bound the window: " .. #window)

local dest = os.tmpname()
cloud.get_robot_part_logs{ robot_part_id = part, filter = tag, num_log_entries = 2, dest = dest }
local lines = {}
for l in io.lines(dest) do lines[#lines + 1] = l end
os.remove(dest)
assert(#lines == 2 and lines[1]:find("\tINFO\trdk\tlogs.lua:7", 1, true) and lines[1]:sub(-#tag - 9) == tag .. " line 249",
  lines[1])

local ok, err = pcall(cloud.get_robot_part_logs, part, nil, nil, nil, -1)
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
ok, err = pcall(cloud.get_robot_part_logs, "no-such-part")
assert(not ok and err.code == "NOT_FOUND", tostring(err))

-- Tail: one coroutine tails, another pushes until the tail has seen the stop entry. errors_only
-- defaults to true, so the info entries never show.
local seen, done = {}, false
cloud.parallel({ "tail", "push" }, function(role)
  if role == "tail" then
    for e in cloud.tail_robot_part_logs{ robot_part_id = part, filter = tag } do
      seen[#seen + 1] = e
      if e.message:find("stop", 1, true) then break end
    end
    done = true
  else
    local i = 0
    while not done do
      i = i + 1
      push({ entry(tag .. " live info " .. i), entry(tag .. " live error " .. i, "error"), entry(tag .. " stop " .. i, "error") })
      sleep(0.1)
    end
  end
end)
assert(#seen >= 1 and seen[#seen].message:find("stop", 1, true))
for _, e in ipairs(seen) do assert(e.level == "error" and e.message:find(tag, 1, true), e.message) end

-- errors_only=false and a filter: the info entries show too.
local got = {}
cloud.parallel({ "tail", "push" }, function(role)
  if role == "tail" then
    for e in cloud.tail_robot_part_logs(part, false, tag .. " second") do
      got[#got + 1] = e.level
      if #got >= 2 then break end
    end
  else
    while #got < 2 do push({ entry(tag .. " second"), entry("unrelated") }) sleep(0.1) end
  end
end)
assert(got[1] == "info", "info entries with errors_only=false")

ok, err = pcall(function() for _ in cloud.tail_robot_part_logs("no-such-part") do end end)
assert(not ok and err.code == "NOT_FOUND" and err.method == "tail_robot_part_logs", tostring(err))
print("logs ok")
