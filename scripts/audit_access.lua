-- audit_access.lua: lists who (members, by email) and which API keys hold owner or operator on
-- what, and flags keys with organization-wide owner, keys older than N days, and keys that grant
-- nothing. (The API does not say when a key was last used, so "unused" means "grants nothing".)
--
-- Arguments (key=value): days=N          flag keys created N or more days ago (default 90)
--                        format=text|json (default text)
-- Exit: 0, also when something is flagged (read the output; grep FLAG in cron).
-- Example cron line (weekly report by mail):
--   0 8 * * 1 fleetsh --quiet run /opt/fleetsh/scripts/audit_access.lua days=90 | grep FLAG
local common = require("common")
local opt = common.args("usage: audit_access.lua [days=N] [format=text|json]", { days = 90, format = "text" })

local members = cloud.list_organization_members()
local email = {}
for _, m in ipairs(members) do email[m.user_id] = (m.emails or {})[1] or m.user_id end
local names = { organization = {}, location = {} }
for _, o in ipairs(cloud.list_organizations()) do names.organization[o.id] = o.name end
for _, l in ipairs(cloud.list_locations()) do names.location[l.id] = l.name end
local function what(a)
  local n = (names[a.resource_type] or {})[a.resource_id]
  return a.resource_type .. " " .. (n and (n .. " (" .. a.resource_id .. ")") or a.resource_id)
end

local grants, flags = {}, {}
for _, a in ipairs(cloud.list_authorizations()) do
  if a.identity_type ~= "api-key" then
    grants[#grants + 1] = { who = "user " .. (email[a.identity_id] or a.identity_id),
      role = common.role(a), on = what(a) }
  end
end
local now, max_age = time.now(), time.duration(opt.days .. "d")
for _, k in ipairs(cloud.list_keys()) do
  local key = k.api_key
  local who = string.format("key %s (%s)", key.name, key.id)
  for _, a in ipairs(k.authorizations) do
    local role = common.role(a)
    grants[#grants + 1] = { who = who, role = role, on = what(a) }
    if role == "owner" and a.resource_type == "organization" then
      flags[#flags + 1] = { who = who, reason = "organization-wide owner" }
    end
  end
  if #k.authorizations == 0 then flags[#flags + 1] = { who = who, reason = "grants nothing (unused)" } end
  local created = (key.created_on or "") ~= "" and time.parse(key.created_on) or nil
  if created and now - created >= max_age then
    flags[#flags + 1] = { who = who, reason = string.format("older than %d days (created %s)", opt.days, key.created_on) }
  end
end

if opt.format == "json" then
  print(json.encode({ grants = grants, flags = flags }, { indent = true }))
else
  for _, g in ipairs(grants) do print(string.format("%-10s %s on %s", g.role, g.who, g.on)) end
  for _, f in ipairs(flags) do print(string.format("FLAG %s: %s", f.who, f.reason)) end
end
