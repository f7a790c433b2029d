-- Tests of export_readings.lua, run by `fleetsh test scripts` (each test on a fresh fleet).

local function at(age) return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - age) end
local function lines(text)
  local out = {}
  for l in text:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- rover/temp: 25 readings, one a minute, the newest 1 min ago (temp = 1..25, oldest first);
-- rover/humidity: one reading 30 min ago; barn/temp: one reading 3 days ago.
before_each(function(t)
  local rover = cloud.get_robot_parts(cloud.new_robot("rover"))[1].id
  local barn = cloud.get_robot_parts(cloud.new_robot("barn"))[1].id
  local readings, times = {}, {}
  for i = 1, 25 do
    readings[i] = { readings = { temp = i, unit = "C" } }
    times[i] = { at((26 - i) * 60), at((26 - i) * 60) }
  end
  cloud.data.tabular_data_capture_upload(readings, rover, "rdk:component:sensor", "temp", "Readings", times)
  cloud.data.tabular_data_capture_upload({ { readings = { rh = 40 } } }, rover, "rdk:component:sensor",
    "humidity", "Readings", { { at(1800), at(1800) } })
  cloud.data.tabular_data_capture_upload({ { readings = { temp = 99 } } }, barn, "rdk:component:sensor",
    "temp", "Readings", { { at(3 * 86400), at(3 * 86400) } })
end)

test("csv of the last 24h, oldest first, across pages, with a column per field asked for", function(t)
  local r = t.run("export_readings.lua", { component = "temp", fields = "temp,unit", page = 7 })
  t.eq(r.code, 0, r.stderr)
  local l = lines(r.stdout)
  t.eq(l[1], "time_captured,time_received,machine,part,component_type,component,method,temp,unit,data")
  t.eq(#l, 26, "a header and 25 readings over 4 pages; barn's is 3 days old")
  for i = 1, 25 do
    local temp = l[i + 1]:match("^[^,]+,[^,]+,rover,[^,]*,rdk:component:sensor,temp,Readings,(%d+)")
    t.eq(tonumber(temp), i, "line " .. (i + 1) .. ": " .. l[i + 1])
  end
  t.matches(l[2], ',C,"{""readings"":{')
  t.matches(r.stderr, "25 reading%(s%) from ")
end)

test("ndjson into a file, with start= and end= and a machine", function(t)
  local file = os.tmpname()
  local r = t.run("export_readings.lua", { format = "ndjson", out = file, machine = "rover",
    start = at(35 * 60), ["end"] = at(20 * 60) })
  t.eq(r.code, 0, r.stderr)
  t.eq(r.stdout, "", "the data went to the file")
  local f = assert(io.open(file, "rb"))
  local text = f:read("a")
  f:close()
  os.remove(file)
  local got = {}
  for _, l in ipairs(lines(text)) do
    local o = json.decode(l)
    got[#got + 1] = o.component .. "=" .. tostring(o.data.readings.temp or o.data.readings.rh)
    t.eq(o.machine, "rover")
  end
  -- temp i was read (26 - i) min ago: 35..20 min ago holds i = 1..6 and humidity (30 min ago).
  t.eq(got, { "humidity=40", "temp=1", "temp=2", "temp=3", "temp=4", "temp=5", "temp=6" })
end)

test("since= reaches back as far as asked; two components at once", function(t)
  local r = t.run("export_readings.lua", { format = "ndjson", since = "4d", "component=humidity",
    "component=temp" })
  t.eq(r.code, 0, r.stderr)
  t.eq(#lines(r.stdout), 27)
  t.eq(json.decode(lines(r.stdout)[1]).machine, "barn", "the oldest first")
end)

test("bad ranges and formats are usage errors", function(t)
  t.eq(t.run("export_readings.lua", { since = "1h", start = at(60) }).code, 2)
  t.eq(t.run("export_readings.lua", { start = "yesterday" }).code, 2)
  t.eq(t.run("export_readings.lua", { start = at(60), ["end"] = at(3600) }).code, 2)
  t.eq(t.run("export_readings.lua", { format = "xml" }).code, 2)
  local r = t.run("export_readings.lua", { out = "/nonexistent/dir/x.csv" })
  t.eq(r.code, 2)
  t.matches(r.stderr, "out:")
end)
