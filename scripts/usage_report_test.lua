-- Tests of usage_report.lua, run by `fleetsh test scripts` (each test on a fresh fleet).

-- The fleet's own organization: rover (3 readings now, 1 from last month, 1 image now, 1 from
-- last month) and barn (no data); acme: drone (2 readings now, 1 file now).
-- A reading is stored as its JSON text: {"readings":{"celsius":20.0}} is 29 bytes.
local ids, own
-- A day before the billing period began: captured last month.
local function last_month()
  local start = time.parse(cloud.billing.get_current_month_usage { org_id = own }.start_date)
  return time.format(start - 86400)
end

before_each(function(t)
  ids = fleet.seed {
    machines = {
      { name = "rover", readings = { { component = "temp", every = "1s",
        values = { { celsius = 20 }, { celsius = 21 }, { celsius = 22 } } } } },
      { name = "barn" },
    },
    organizations = { { name = "acme", locations = { { name = "field",
      machines = { { name = "drone", readings = { { component = "alt", every = "1s",
        values = { { metres = 120 }, { metres = 125 } } } } } } } } } },
  }
  for _, o in ipairs(cloud.list_organizations()) do
    if o.id ~= ids.organizations.acme then own = o.id end
  end
  local old = last_month()
  cloud.data.tabular_data_capture_upload({ { readings = { celsius = 15 } } }, ids.parts.rover,
    "rdk:component:sensor", "temp", "Readings", { { old, old } })
  cloud.data.binary_data_capture_upload("0123456789", ids.parts.rover, "rdk:component:camera", "cam", "GetImages",
    "jpg")
  cloud.data.binary_data_capture_upload("0123456789abcdefghij", ids.parts.rover, "rdk:component:camera", "cam",
    "GetImages", "jpg", nil, nil, nil, { old, old })
  cloud.data.binary_data_capture_upload("abc", ids.parts.drone, "rdk:component:camera", "cam", "GetImages", "png")
end)

local function by_id(rows)
  local by = {}
  for _, r in ipairs(rows) do by[r.organization_id] = r end
  return by
end

test("json: machines, readings and binary data stored and captured this month, per organization", function(t)
  local r = t.run("usage_report.lua", { format = "json" })
  t.eq(r.code, 0, r.stderr)
  local out = json.decode(r.stdout)
  t.eq(#out.organizations, 2)
  local by = by_id(out.organizations)
  local mine, acme = by[own], by[ids.organizations.acme]
  t.eq(mine.machines, 2)
  t.eq(mine.parts, 2)
  t.eq(mine.machines_online, 0, "seeded machines never called in")
  t.eq(mine.readings, 4)
  t.eq(mine.readings_bytes, 4 * 29)
  t.eq(mine.readings_this_month, 3, "the reading of last month is stored, not captured this month")
  t.eq(mine.readings_this_month_bytes, 3 * 29)
  t.eq(mine.binary_files, 2)
  t.eq(mine.binary_bytes, 30)
  t.eq(mine.binary_this_month, 1)
  t.eq(mine.binary_this_month_bytes, 10)
  t.eq(mine.tier, "free")
  t.eq(mine.cost, 0)
  t.eq(mine.billed, { "binary_data_cloud_storage", "per_machine", "tabular_data_cloud_storage" })
  t.eq(acme.organization, "acme")
  t.eq(acme.machines, 1)
  t.eq(acme.readings, 2)
  t.eq(acme.readings_bytes, 2 * 29, '{"readings":{"metres":120.0}} is 29 bytes too')
  t.eq(acme.binary_files, 1)
  t.eq(acme.binary_bytes, 3)
  t.eq(out.period_start, mine.period_start)
  t.matches(out.period_start, "^%d%d%d%d%-%d%d%-01T00:00:00")
end)

test("csv: a header and one row per organization with the same figures", function(t)
  local r = t.run("usage_report.lua", { format = "csv", org = own })
  t.eq(r.code, 0, r.stderr)
  local lines = {}
  for l in r.stdout:gmatch("[^\n]+") do lines[#lines + 1] = l end
  t.eq(#lines, 2, r.stdout)
  t.eq(lines[1], "organization,organization_id,period_start,period_end,tier,cost,machines,machines_online,parts," ..
    "readings,readings_bytes,readings_this_month,readings_this_month_bytes,binary_files,binary_bytes," ..
    "binary_this_month,binary_this_month_bytes,billed,error")
  t.matches(lines[2], "^[^,]+," .. own:gsub("%-", "%%-") ..
    ",[^,]+,[^,]+,free,0%.?0?,2,0,2,4,116,3,87,2,30,1,10,binary_data_cloud_storage;per_machine;tabular_data_cloud_storage,$")
end)

test("text: one block per organization, in a dry run too (it only reads)", function(t)
  local r = t.run("usage_report.lua", {}, { dry_run = true })
  t.eq(r.code, 0, r.stderr)
  t.eq(#r.plan, 0)
  t.matches(r.stdout, "^usage from %S+ to %S+\n")
  t.matches(r.stdout, "\nacme %(" .. ids.organizations.acme:gsub("%-", "%%-") .. "%)  tier free\n" ..
    "  machines     1 %(0 online%), 1 part%(s%)\n" ..
    "  readings     2 stored %(58 B%), 2 captured this month %(58 B%)\n" ..
    "  binary data  1 file%(s%) stored %(3 B%), 1 captured this month %(3 B%)\n")
  t.matches(r.stdout, "  readings     4 stored %(116 B%), 3 captured this month %(87 B%)\n")
  t.matches(r.stdout, "  binary data  2 file%(s%) stored %(30 B%), 1 captured this month %(10 B%)\n")
  t.matches(r.stdout, "\nusage_report: 2 organization%(s%)\n")
end)

test("an organization whose usage cannot be read is reported, the others still are, exit 6", function(t)
  fleet.fault { method = "GetCurrentMonthUsage", resource = ids.organizations.acme, code = "PERMISSION_DENIED" }
  local r = t.run("usage_report.lua", { format = "json" })
  t.eq(r.code, 6, r.stderr)
  local by = by_id(json.decode(r.stdout).organizations)
  t.matches(by[ids.organizations.acme].error, "PERMISSION_DENIED")
  t.eq(by[own].readings, 4)
  t.matches(r.stderr, "usage_report: reading the usage of acme")
end)

test("a bad format is a usage error; out= writes the report to a file", function(t)
  local bad = t.run("usage_report.lua", { format = "xml" })
  t.eq(bad.code, 2)
  t.matches(bad.stderr, "format must be text, json or csv")
  local path = t.dir .. "/usage.csv"
  local r = t.run("usage_report.lua", { format = "csv", out = path })
  t.eq(r.code, 0, r.stderr)
  t.eq(r.stdout, "")
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  t.matches(text, "^organization,organization_id,")
  t.matches(text, "\nacme,")
end)
