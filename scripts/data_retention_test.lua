-- Tests of data_retention.lua, run by `fleetsh test scripts` (each test on a fresh fleet).

local DAY = 86400
local function at(age) return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - age) end
local part

local function readings_left()
  local _, n = cloud.data.tabular_data_by_filter { filter = {}, count_only = true }
  return n
end
local function binaries_left()
  local _, n = cloud.data.binary_data_by_filter { filter = {}, count_only = true, include_binary_data = false }
  return n
end

-- Three readings 100 days old (one tagged "keep-me"), two of yesterday; an old and a new image.
before_each(function(t)
  part = cloud.get_robot_parts(cloud.new_robot("sensor-bot"))[1].id
  local old, new = at(100 * DAY), at(DAY)
  cloud.data.tabular_data_capture_upload({ { readings = { temp = 1 } }, { readings = { temp = 2 } } },
    part, "rdk:component:sensor", "temp", "Readings", { { old, old }, { old, old } })
  cloud.data.tabular_data_capture_upload({ { readings = { temp = 3 } } },
    part, "rdk:component:sensor", "temp", "Readings", { { old, old } }, nil, { "keep-me" })
  cloud.data.tabular_data_capture_upload({ { readings = { temp = 4 } }, { readings = { temp = 5 } } },
    part, "rdk:component:sensor", "temp", "Readings", { { new, new }, { new, new } })
  cloud.data.binary_data_capture_upload("old jpeg", part, "rdk:component:camera", "cam", "GetImages", "jpg",
    nil, nil, nil, { old, old })
  cloud.data.binary_data_capture_upload("new jpeg", part, "rdk:component:camera", "cam", "GetImages", "jpg",
    nil, nil, nil, { new, new })
end)

test("a dry run counts what would go, plans the deletes and deletes nothing", function(t)
  local r = t.run("data_retention.lua", { days = 90, format = "json" }, { dry_run = true })
  t.eq(r.code, 7, r.stderr)
  local out = json.decode(r.stdout:match("^(%b{})"))
  t.eq(out.total, 4, "3 readings and 1 image")
  local by = {}
  for _, row in ipairs(out.results) do by[row.kind] = row end
  t.eq(by.tabular.matched, 3)
  t.eq(by.binary.matched, 1)
  t.eq(by.tabular.outcome, "planned")
  local methods = {}
  for _, p in ipairs(r.plan) do methods[#methods + 1] = p.method end
  table.sort(methods)
  t.eq(methods, { "data.delete_binary_data_by_filter", "data.delete_tabular_data" })
  t.eq(readings_left(), 5)
  t.eq(binaries_left(), 2)
end)

test("a real run deletes what is older than the cutoff and keeps the rest", function(t)
  local r = t.run("data_retention.lua", { days = 90 })
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "tabular%s+3 deleted")
  t.matches(r.stdout, "binary%s+1 deleted")
  t.matches(r.stdout, "data_retention: 4 item%(s%) older than .* %(90 days%) deleted")
  t.eq(readings_left(), 2)
  t.eq(binaries_left(), 1)
  local rows = cloud.data.tabular_data_by_filter { filter = {}, sort_order = "ORDER_ASCENDING" }
  t.eq(rows[1].data.readings.temp, 4)
end)

test("nothing older than the cutoff: no delete is sent, a dry run exits 0", function(t)
  local r = t.run("data_retention.lua", { days = 200 }, { dry_run = true })
  t.eq(r.code, 0, r.stderr)
  t.eq(#r.plan, 0)
  t.matches(r.stdout, "0 item%(s%) older than")
end)

test("tag= and kind= narrow what goes", function(t)
  local r = t.run("data_retention.lua", { days = 90, tag = "keep-me", kind = "tabular", format = "csv" })
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "^organization,organization_id,kind,older_than,matched,deleted,outcome\n")
  t.matches(r.stdout, ",tabular,[^,]+,1,1,deleted\n")
  t.ok(not r.stdout:find(",binary,", 1, true), r.stdout)
  t.eq(readings_left(), 4)
  t.eq(binaries_left(), 2)
end)

test("when the fleet's clock moves 91 days, yesterday's data is old too", function(t)
  fleet.clock.advance("91d")
  local r = t.run("data_retention.lua", { days = 90 })
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "7 item%(s%)", "5 readings and 2 images")
  t.eq(readings_left(), 0)
  t.eq(binaries_left(), 0)
end)

test("a delete the cloud refuses exits 6, the other kind still goes, and a re-run finishes", function(t)
  fleet.fault { method = "DeleteTabularData", code = "UNAVAILABLE", times = 1 }
  local r = t.run("data_retention.lua", { days = 90 })
  t.eq(r.code, 6, r.stderr)
  t.matches(r.stderr, "UNAVAILABLE")
  t.matches(r.stdout, "tabular%s+3 matched, deleting failed")
  t.eq(binaries_left(), 1)
  t.eq(readings_left(), 5)
  local again = t.run("data_retention.lua", { days = 90 })
  t.eq(again.code, 0, again.stderr)
  t.eq(readings_left(), 2)
end)

test("days must be a whole number of at least 1, and kind one of three", function(t)
  t.eq(t.run("data_retention.lua", { days = 0 }).code, 2)
  t.eq(t.run("data_retention.lua", { days = "1.5" }).code, 2)
  local r = t.run("data_retention.lua", { kind = "logs" })
  t.eq(r.code, 2)
  t.matches(r.stderr, "kind must be all, tabular or binary")
end)
