-- export_readings.lua: the readings of a time range as CSV or NDJSON (one JSON object a line), on
-- stdout or into a file, written page by page as they arrive (TabularDataByFilter with its
-- cursor), so an export of any size holds one page in memory. Oldest first.
--
-- Arguments (key=value): since=DURATION   the last DURATION (default 24h), or
--                        start=TIME end=TIME   an RFC 3339 range (end defaults to now)
--                        component=NAME    only this component (repeatable: any of them)
--                        machine=NAME      only this machine (robot name)
--                        method=NAME       only this capture method (e.g. Readings)
--                        fields=a,b        CSV: a column per reading field (data.readings.a ...)
--                        format=csv|ndjson (default csv)
--                        out=FILE          write there instead of stdout
--                        page=N            readings per request (default 1000)
-- Exit: 0 (the count on stderr unless --quiet); 2 bad arguments or a file that cannot be written.
-- Example cron line (yesterday's readings, nightly):
--   5 0 * * * fleetsh --quiet run /opt/fleetsh/scripts/export_readings.lua since=24h out=/srv/exports/readings.csv
local common = require("common")
local opt = common.args("usage: export_readings.lua [since=24h | start=TIME [end=TIME]] [component=NAME...] " ..
  "[machine=NAME] [method=NAME] [fields=a,b] [format=csv|ndjson] [out=FILE] [page=1000]",
  { since = "", start = "", ["end"] = "", component = {}, machine = "", method = "", fields = "",
    format = "csv", out = "", page = 1000 })
if opt.format ~= "csv" and opt.format ~= "ndjson" then common.usage("format must be csv or ndjson") end
if opt.page < 1 or opt.page ~= math.floor(opt.page) then common.usage("page must be a whole number, at least 1") end
if opt.since ~= "" and opt.start ~= "" then common.usage("give since= or start=, not both") end
if opt["end"] ~= "" and opt.start == "" then common.usage("end= needs start=") end

local function rfc3339(name, text)
  local ok, t = pcall(time.parse, text)
  if not ok then common.usage(name .. ": " .. tostring(t)) end
  return time.format(t)
end
local start, stop
if opt.start ~= "" then
  start = rfc3339("start", opt.start)
  stop = opt["end"] ~= "" and rfc3339("end", opt["end"]) or time.format()
else
  local ok, secs = pcall(time.duration, opt.since ~= "" and opt.since or "24h")
  if not ok then common.usage("since: " .. tostring(secs)) end
  start, stop = time.format(time.now() - secs), time.format()
end
if time.parse(start) > time.parse(stop) then common.usage("start is after end") end
local fields = {}
for f in opt.fields:gmatch("[^,%s]+") do fields[#fields + 1] = f end

local out = io.stdout
if opt.out ~= "" then
  local f, err = io.open(opt.out, "wb")
  if not f then common.usage("out: " .. tostring(err)) end
  out = f
end

local function csv(v)
  v = tostring(v == nil and "" or v)
  return v:find('[,"\n]') and ('"' .. v:gsub('"', '""') .. '"') or v
end
local function field(readings, path)
  local v = readings
  for k in path:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[k]
  end
  return type(v) == "table" and json.encode(v) or v
end

if opt.format == "csv" then
  local head = { "time_captured", "time_received", "machine", "part", "component_type", "component", "method" }
  for _, f in ipairs(fields) do head[#head + 1] = f end
  head[#head + 1] = "data"
  out:write(table.concat(head, ","), "\n")
end

local filter = { interval = { start = start, ["end"] = stop },
  component_name = #opt.component == 1 and opt.component[1] or nil,
  robot_name = opt.machine ~= "" and opt.machine or nil, method = opt.method ~= "" and opt.method or nil }
local wanted = {}
for _, c in ipairs(opt.component) do wanted[c] = true end
local n, last = 0, nil
repeat
  local rows, _, cursor = cloud.data.tabular_data_by_filter { filter = filter, limit = opt.page,
    sort_order = "ORDER_ASCENDING", last = last }
  for _, r in ipairs(rows) do
    local m = r.metadata or {}
    if #opt.component < 2 or wanted[m.component_name] then
      n = n + 1
      if opt.format == "ndjson" then
        out:write(json.encode({ time_captured = r.time_requested, time_received = r.time_received,
          machine = m.robot_name, machine_id = m.robot_id, part = m.part_name, part_id = m.part_id,
          location_id = m.location_id, component_type = m.component_type, component = m.component_name,
          method = m.method_name, tags = m.tags, data = r.data }), "\n")
      else
        local line = { r.time_requested, r.time_received, csv(m.robot_name), csv(m.part_name), csv(m.component_type),
          csv(m.component_name), csv(m.method_name) }
        for _, f in ipairs(fields) do line[#line + 1] = csv(field((r.data or {}).readings, f)) end
        line[#line + 1] = csv(json.encode(r.data or {}))
        out:write(table.concat(line, ","), "\n")
      end
    end
  end
  last = cursor
until #rows < opt.page or cursor == nil or cursor == ""
if out ~= io.stdout then out:close() end
log.info(string.format("export_readings: %d reading(s) from %s to %s written to %s", n, start, stop,
  opt.out ~= "" and opt.out or "stdout"))
