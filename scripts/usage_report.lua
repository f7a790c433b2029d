-- usage_report.lua: this month's usage, organization by organization: the billing period, tier
-- and cost (BillingService/GetCurrentMonthUsage), machines and parts (one ListMachineSummaries
-- call), readings stored and captured this month with their bytes (one SQL query), and binary data
-- stored and captured this month with their bytes (binary metadata, page by page, no bytes
-- fetched). "Captured this month" counts data whose capture time falls in the billing period.
-- Reads only: a --dry-run prints the same report.
--
-- Arguments (key=value): org=ID             only these organizations (repeatable; default all
--                                           the key can see)
--                        format=text|json|csv   (default text)
--                        out=FILE           write there instead of stdout
-- Exit: 0; 2 bad arguments or a file that cannot be written; 6 when some organization could not
--       be read (its row says why, the others are reported).
-- Example cron line (every morning, the month so far as CSV):
--   0 6 * * * fleetsh --quiet run /opt/fleetsh/scripts/usage_report.lua format=csv out=/srv/reports/usage.csv
local common = require("common")
local opt = common.args("usage: usage_report.lua [org=ID...] [format=text|json|csv] [out=FILE]",
  { org = {}, format = "text", out = "" })
if opt.format ~= "text" and opt.format ~= "json" and opt.format ~= "csv" then
  common.usage("format must be text, json or csv")
end

local out = io.stdout
if opt.out ~= "" then
  local f, err = io.open(opt.out, "w")
  if not f then common.usage("out: " .. tostring(err)) end
  out = f
end

local orgs, names = {}, {}
for _, o in ipairs(cloud.list_organizations()) do
  names[o.id] = o.name
  if #opt.org == 0 then orgs[#orgs + 1] = { id = o.id, name = o.name } end
end
for _, id in ipairs(opt.org) do orgs[#orgs + 1] = { id = id, name = names[id] or id } end

-- The SQL view's times are RFC 3339 text with milliseconds, which compare as text.
local function sql_time(t) return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(time.parse(t))) .. ".000Z" end

local function machines(row)
  local locations = cloud.list_machine_summaries { organization_id = row.organization_id }
  for _, loc in ipairs(locations) do
    for _, m in ipairs(loc.machine_summaries or {}) do
      row.machines = row.machines + 1
      local online = false
      for _, p in ipairs(m.part_summaries or {}) do
        row.parts = row.parts + 1
        online = online or p.online_state == "ONLINE_STATE_ONLINE"
      end
      if online then row.machines_online = row.machines_online + 1 end
    end
  end
end

-- Bytes of a reading: its `data` as the fleet stores it (JSON text), as TabularDataByFilter counts.
local function readings(row, since)
  local r = cloud.data.tabular_data_by_sql {
    org_id = row.organization_id,
    sql_query = string.format(
      "SELECT count(*) AS n, coalesce(sum(length(CAST(data AS BLOB))), 0) AS bytes, " ..
      "coalesce(sum(time_requested >= '%s'), 0) AS month_n, " ..
      "coalesce(sum(CASE WHEN time_requested >= '%s' THEN length(CAST(data AS BLOB)) ELSE 0 END), 0) AS month_bytes " ..
      "FROM readings", since, since),
  }[1] or {}
  row.readings, row.readings_bytes = r.n or 0, r.bytes or 0
  row.readings_this_month, row.readings_this_month_bytes = r.month_n or 0, r.month_bytes or 0
end

local function binary(row, since)
  local last
  repeat
    local page, _, cursor = cloud.data.binary_data_by_filter { filter = { organization_ids = { row.organization_id } },
      include_binary_data = false, limit = 1000, last = last }
    for _, b in ipairs(page) do
      local m = b.metadata or {}
      local size = m.file_size_bytes or 0
      row.binary_files, row.binary_bytes = row.binary_files + 1, row.binary_bytes + size
      if m.time_requested and time.parse(m.time_requested) >= since then
        row.binary_this_month, row.binary_this_month_bytes = row.binary_this_month + 1, row.binary_this_month_bytes + size
      end
    end
    last = cursor
  until #page == 0 or last == nil or last == ""
end

local function cost_of(usage)
  local total = 0
  for _, s in ipairs(usage.resource_usage_costs_by_source or {}) do
    total = total + ((s.resource_usage_costs or {}).total_with_discount or 0)
  end
  return total
end

local function tier_of(usage)
  for _, s in ipairs(usage.resource_usage_costs_by_source or {}) do
    if s.tier_name and s.tier_name ~= "" then return s.tier_name end
  end
  return ""
end

-- The resource types the month is billed for, as short names ("per_machine", ...), sorted.
local function billed(usage)
  local seen, list = {}, {}
  for _, s in ipairs(usage.resource_usage_costs_by_source or {}) do
    for _, c in ipairs((s.resource_usage_costs or {}).usage_costs or {}) do
      local name = tostring(c.resource_type):gsub("^USAGE_COST_TYPE_", ""):lower()
      if not seen[name] then seen[name], list[#list + 1] = true, name end
    end
  end
  table.sort(list)
  return list
end

local rows, failed = {}, 0
local period_start, period_end
for _, org in ipairs(orgs) do
  local row = { organization = org.name, organization_id = org.id, tier = "", period_start = "", period_end = "",
    cost = 0, billed = {}, machines = 0, machines_online = 0, parts = 0, readings = 0, readings_bytes = 0,
    readings_this_month = 0, readings_this_month_bytes = 0, binary_files = 0, binary_bytes = 0,
    binary_this_month = 0, binary_this_month_bytes = 0 }
  local ok, err = pcall(function()
    local usage = cloud.billing.get_current_month_usage { org_id = org.id }
    row.period_start, row.period_end = usage.start_date or "", usage.end_date or ""
    row.tier, row.cost, row.billed = tier_of(usage), cost_of(usage), billed(usage)
    local since = time.parse(row.period_start)
    machines(row)
    readings(row, sql_time(row.period_start))
    binary(row, since)
  end)
  if not ok then
    failed = failed + 1
    row.error = tostring(err)
    log.error("usage_report: reading the usage of", org.name, org.id, "failed:", err)
  end
  period_start = period_start or (row.period_start ~= "" and row.period_start or nil)
  period_end = period_end or (row.period_end ~= "" and row.period_end or nil)
  rows[#rows + 1] = row
end

local function array(t) return #t > 0 and t or json.decode("[]") end

local function bytes(n)
  local units, i = { "B", "KiB", "MiB", "GiB", "TiB" }, 1
  while n >= 1024 and i < #units do n, i = n / 1024, i + 1 end
  return i == 1 and string.format("%d B", n) or string.format("%.1f %s", n, units[i])
end

if opt.format == "json" then
  for _, r in ipairs(rows) do r.billed = array(r.billed) end
  out:write(json.encode({ period_start = period_start, period_end = period_end, organizations = array(rows) },
    { indent = true }), "\n")
elseif opt.format == "csv" then
  local function csv(v)
    v = tostring(v == nil and "" or v)
    return v:find('[,"\n]') and ('"' .. v:gsub('"', '""') .. '"') or v
  end
  local cols = { "organization", "organization_id", "period_start", "period_end", "tier", "cost", "machines",
    "machines_online", "parts", "readings", "readings_bytes", "readings_this_month", "readings_this_month_bytes",
    "binary_files", "binary_bytes", "binary_this_month", "binary_this_month_bytes", "billed", "error" }
  out:write(table.concat(cols, ","), "\n")
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(cols) do
      cells[i] = csv(c == "billed" and table.concat(r.billed, ";") or r[c])
    end
    out:write(table.concat(cells, ","), "\n")
  end
else
  if period_start then out:write(string.format("usage from %s to %s\n", period_start, period_end)) end
  for _, r in ipairs(rows) do
    out:write(string.format("%s (%s)%s\n", r.organization, r.organization_id,
      r.tier ~= "" and ("  tier " .. r.tier) or ""))
    if r.error then
      out:write("  could not be read: ", r.error, "\n")
    else
      out:write(string.format("  machines     %d (%d online), %d part(s)\n", r.machines, r.machines_online, r.parts))
      out:write(string.format("  readings     %d stored (%s), %d captured this month (%s)\n", r.readings,
        bytes(r.readings_bytes), r.readings_this_month, bytes(r.readings_this_month_bytes)))
      out:write(string.format("  binary data  %d file(s) stored (%s), %d captured this month (%s)\n", r.binary_files,
        bytes(r.binary_bytes), r.binary_this_month, bytes(r.binary_this_month_bytes)))
      out:write(string.format("  cost         %.2f%s\n", r.cost,
        #r.billed > 0 and (" for " .. table.concat(r.billed, ", ")) or ""))
    end
  end
  out:write(string.format("usage_report: %d organization(s)%s\n", #rows,
    failed > 0 and string.format(", %d could not be read", failed) or ""))
end
if out ~= io.stdout then out:close() end
if failed > 0 then os.exit(6) end
