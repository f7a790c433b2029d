-- Tests of latest_readings.lua, run by `fleetsh test scripts` (each test on a fresh fleet).

local function at(age) return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - age) end
local function upload(part, component, values_by_age)
  local readings, times = {}, {}
  for _, v in ipairs(values_by_age) do
    readings[#readings + 1] = { readings = { temp = v[2] } }
    times[#times + 1] = { at(v[1]), at(v[1]) }
  end
  cloud.data.tabular_data_capture_upload(readings, part, "rdk:component:sensor", component, "Readings", times)
end

-- rover: temp read 10 min ago (21) after older ones, humidity last read 2 h ago; barn: temp 5 min ago.
before_each(function(t)
  local rover = cloud.get_robot_parts(cloud.new_robot("rover"))[1].id
  local barn = cloud.get_robot_parts(cloud.new_robot("barn"))[1].id
  upload(rover, "temp", { { 3600, 19 }, { 600, 21 }, { 1800, 20 } })
  upload(rover, "humidity", { { 7200, 40 } })
  upload(barn, "temp", { { 300, 8 } })
end)

test("the newest reading of each sensor, with its age, stale ones flagged", function(t)
  local r = t.run("latest_readings.lua", { format = "json" })
  t.eq(r.code, 0, r.stderr)
  local out = json.decode(r.stdout)
  t.eq(out.stale_after_seconds, 3600)
  local by = {}
  for _, s in ipairs(out.sensors) do by[s.machine .. "/" .. s.component] = s end
  t.eq(#out.sensors, 3)
  t.eq(by["rover/temp"].readings.temp, 21, "the newest of three, not the last uploaded")
  t.ok(math.abs(by["rover/temp"].age_seconds - 600) < 30, by["rover/temp"].age_seconds)
  t.eq(by["rover/temp"].stale, false)
  t.eq(by["rover/humidity"].stale, true)
  t.eq(by["barn/temp"].readings.temp, 8)
end)

test("text groups by machine and counts the stale ones", function(t)
  local r = t.run("latest_readings.lua", {})
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "^barn\n  temp%s+Readings%s+5m[^\n]- ago  ")
  t.matches(r.stdout, "humidity%s+Readings%s+2h[^\n]- ago STALE")
  t.matches(r.stdout, "latest_readings: 3 sensor%(s%), 1 stale %(older than 1h%)")
end)

test("filters by machine and component; csv", function(t)
  local r = t.run("latest_readings.lua", { machine = "rov*", component = "temp", format = "csv" })
  t.eq(r.code, 0, r.stderr)
  local lines = {}
  for l in r.stdout:gmatch("[^\n]+") do lines[#lines + 1] = l end
  t.eq(#lines, 2, r.stdout)
  t.eq(lines[1], "machine,part,component,method,time_captured,age_seconds,stale,readings")
  t.matches(lines[2], '^rover,[^,]*,temp,Readings,[^,]+,%d+,false,"{""temp"":21%.?0?}"$')
end)

test("after the clock moves two hours every reading is stale, and fail_on_stale exits 6", function(t)
  local fresh = t.run("latest_readings.lua", { stale = "3h", fail_on_stale = "true" })
  t.eq(fresh.code, 0, fresh.stderr)
  fleet.clock.advance("2h")
  local r = t.run("latest_readings.lua", { stale = "3h", fail_on_stale = "true" })
  t.eq(r.code, 6, r.stdout)
  t.matches(r.stdout, "3 sensor%(s%), 1 stale")
end)

test("a bad duration is a usage error", function(t)
  local r = t.run("latest_readings.lua", { stale = "soon" })
  t.eq(r.code, 2)
  t.matches(r.stderr, "stale:")
end)
