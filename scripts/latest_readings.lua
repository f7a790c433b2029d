-- latest_readings.lua: the latest reading of every sensor (component and method) of the
-- organization's machines, from one MQL query ($sort by capture time, then $group by source with
-- $first), however many readings are stored; readings older than `stale` are flagged.
--
-- Arguments (key=value): stale=DURATION  flag readings older than this (default 1h; e.g. 15m, 2d)
--                        machine=GLOB    only machines whose name matches
--                        component=GLOB  only components whose name matches
--                        org=ID          the organization (default the key's)
--                        format=text|json|csv   (default text)
--                        fail_on_stale=true     exit 6 when any reading is stale (for alerting)
-- Exit: 0; 6 with fail_on_stale=true when some reading is stale (or none was found).
-- Example cron line (hourly, mail when a sensor went quiet for 2 hours):
--   0 * * * * fleetsh --quiet run /opt/fleetsh/scripts/latest_readings.lua stale=2h fail_on_stale=true
local common = require("common")
local opt = common.args("usage: latest_readings.lua [stale=1h] [machine=GLOB] [component=GLOB] [org=ID] " ..
  "[format=text|json|csv] [fail_on_stale=true]",
  { stale = "1h", machine = "", component = "", org = "", format = "text", fail_on_stale = false })
if opt.format ~= "text" and opt.format ~= "json" and opt.format ~= "csv" then
  common.usage("format must be text, json or csv")
end
local ok, stale = pcall(time.duration, opt.stale)
if not ok then common.usage("stale: " .. tostring(stale)) end
local machine_ok, component_ok = common.glob(opt.machine), common.glob(opt.component)

local groups = cloud.data.tabular_data_by_mql {
  org_id = opt.org ~= "" and opt.org or nil,
  query = {
    { ["$sort"] = { { "time_requested", -1 } } },
    { ["$group"] = {
      _id = { part_id = "$part_id", component_name = "$component_name", method_name = "$method_name" },
      machine = { ["$first"] = "$robot_name" }, part = { ["$first"] = "$part_name" },
      component_type = { ["$first"] = "$component_type" }, time_captured = { ["$first"] = "$time_requested" },
      data = { ["$first"] = "$data" }, readings = { ["$sum"] = 1 },
    } },
  },
}

local now = time.now()
local rows, stale_count = {}, 0
for _, g in ipairs(groups) do
  if machine_ok(g.machine) and component_ok(g._id.component_name) then
    local age = math.max(0, math.floor(now - time.parse(g.time_captured)))
    local is_stale = age > stale
    if is_stale then stale_count = stale_count + 1 end
    rows[#rows + 1] = { machine = g.machine, part = g.part, part_id = g._id.part_id,
      component = g._id.component_name, component_type = g.component_type, method = g._id.method_name,
      time_captured = g.time_captured, age_seconds = age, stale = is_stale,
      readings = (g.data or {}).readings or g.data }
  end
end
table.sort(rows, function(a, b)
  if a.machine ~= b.machine then return a.machine < b.machine end
  if a.component ~= b.component then return a.component < b.component end
  return a.method < b.method
end)

if opt.format == "json" then
  print(json.encode({ stale_after_seconds = stale, sensors = #rows > 0 and rows or json.decode("[]") },
    { indent = true }))
elseif opt.format == "csv" then
  local function csv(v)
    v = tostring(v == nil and "" or v)
    return v:find('[,"\n]') and ('"' .. v:gsub('"', '""') .. '"') or v
  end
  print("machine,part,component,method,time_captured,age_seconds,stale,readings")
  for _, r in ipairs(rows) do
    print(table.concat({ csv(r.machine), csv(r.part), csv(r.component), csv(r.method), r.time_captured,
      r.age_seconds, tostring(r.stale), csv(json.encode(r.readings)) }, ","))
  end
else
  local current
  for _, r in ipairs(rows) do
    if r.machine ~= current then
      current = r.machine
      print(current)
    end
    print(string.format("  %-20s %-12s %s ago%s  %s", r.component, r.method, time.format_duration(r.age_seconds),
      r.stale and " STALE" or "", json.encode(r.readings)))
  end
  print(string.format("latest_readings: %d sensor(s), %d stale (older than %s)", #rows, stale_count,
    time.format_duration(stale)))
end
if opt.fail_on_stale and (stale_count > 0 or #rows == 0) then os.exit(6) end
