-- data_retention.lua: deletes captured data older than N days, organization by organization:
-- readings (tabular data) and binary data (images, files) whose capture time is before the
-- cutoff. It counts what would go first (one count-only query per organization and kind), so
-- a --dry-run says how much would be deleted, and a real run prints what was.
--
-- Arguments (key=value): days=N            keep the last N days (default 90; at least 1)
--                        kind=all|tabular|binary   what to delete (default all)
--                        org=ID            only these organizations (repeatable; default all
--                                          the key can see)
--                        location=ID       only data captured in these locations (repeatable)
--                        tag=TAG           only data with one of these tags (repeatable)
--                        format=text|json|csv   the summary (default text)
-- Exit: 0 done (or nothing to delete), 6 some deletions failed (the others went; re-run),
--       7 with --dry-run when something would be deleted.
-- Example cron line (nightly, keep 90 days of everything):
--   15 3 * * * fleetsh --quiet --audit /var/log/fleetsh.jsonl run /opt/fleetsh/scripts/data_retention.lua days=90
local common = require("common")
local opt = common.args("usage: data_retention.lua [days=90] [kind=all|tabular|binary] [org=ID...] [location=ID...] " ..
  "[tag=TAG...] [format=text|json|csv]",
  { days = 90, kind = "all", org = {}, location = {}, tag = {}, format = "text" })
if opt.days < 1 or opt.days ~= math.floor(opt.days) then
  common.usage("days must be a whole number of days, at least 1")
end
opt.days = math.tointeger(opt.days)
if opt.kind ~= "all" and opt.kind ~= "tabular" and opt.kind ~= "binary" then
  common.usage("kind must be all, tabular or binary")
end
if opt.format ~= "text" and opt.format ~= "json" and opt.format ~= "csv" then
  common.usage("format must be text, json or csv")
end

-- Both kinds compare the capture time (time_requested) with the cutoff, as DeleteTabularData does.
local cutoff = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - opt.days * 86400)
local tags = #opt.tag > 0 and { tags = opt.tag } or nil
local locations = #opt.location > 0 and opt.location or nil

local orgs = {}
if #opt.org > 0 then
  for _, id in ipairs(opt.org) do orgs[#orgs + 1] = { id = id, name = id } end
else
  for _, o in ipairs(cloud.list_organizations()) do orgs[#orgs + 1] = { id = o.id, name = o.name } end
end

local dry = cloud.is_dry_run()
local rows, failed = {}, 0
local function attempt(org, kind, count, delete)
  local row = { organization = org.name, organization_id = org.id, kind = kind, older_than = cutoff,
    matched = count, deleted = 0, outcome = count == 0 and "nothing to delete" or (dry and "planned" or "deleted") }
  if count > 0 then
    local ok, n = pcall(delete)
    if not ok then
      failed = failed + 1
      row.outcome = "failed"
      row.error = tostring(n)
      log.error("data_retention: deleting", kind, "data of", org.name, org.id, "failed:", n)
    elseif not dry then
      row.deleted = n
    end
  end
  rows[#rows + 1] = row
end

for _, org in ipairs(orgs) do
  local filter = { organization_ids = { org.id }, location_ids = locations, tags_filter = tags,
    interval = { ["end"] = cutoff } }
  if opt.kind ~= "binary" then
    local _, count = cloud.data.tabular_data_by_filter { filter = filter, count_only = true }
    attempt(org, "tabular", count, function()
      return cloud.data.delete_tabular_data { delete_older_than_days = opt.days, org_id = org.id,
        filter = { location_ids = locations, tags_filter = tags } }
    end)
  end
  if opt.kind ~= "tabular" then
    local _, count = cloud.data.binary_data_by_filter { filter = filter, count_only = true,
      include_binary_data = false }
    attempt(org, "binary", count, function() return cloud.data.delete_binary_data_by_filter(filter) end)
  end
end

local total = 0
for _, r in ipairs(rows) do total = total + (dry and (r.outcome == "planned" and r.matched or 0) or r.deleted) end
if opt.format == "json" then
  print(json.encode({ older_than = cutoff, dry_run = dry, total = total,
    results = #rows > 0 and rows or json.decode("[]") }, { indent = true }))
elseif opt.format == "csv" then
  local function csv(v)
    v = tostring(v == nil and "" or v)
    return v:find('[,"\n]') and ('"' .. v:gsub('"', '""') .. '"') or v
  end
  print("organization,organization_id,kind,older_than,matched,deleted,outcome")
  for _, r in ipairs(rows) do
    print(table.concat({ csv(r.organization), csv(r.organization_id), r.kind, r.older_than, r.matched, r.deleted,
      r.outcome }, ","))
  end
else
  for _, r in ipairs(rows) do
    local what = r.outcome == "deleted" and string.format("%d deleted", r.deleted)
      or r.outcome == "planned" and string.format("%d would be deleted", r.matched)
      or r.outcome == "failed" and string.format("%d matched, deleting failed: %s", r.matched, r.error)
      or "nothing to delete"
    print(string.format("  %-24s %-8s %s", r.organization, r.kind, what))
  end
  print(string.format("data_retention: %d item(s) older than %s (%d days) %s", total, cutoff, opt.days,
    dry and "planned for deletion (none sent)" or "deleted"))
end
if failed > 0 then os.exit(6) end
