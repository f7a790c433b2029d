-- fleet_status.lua: the state of every machine of the organization, grouped by location: online,
-- offline and for how long, or never seen; the viam-server version, OS and platform its main
-- part reported. From one ListMachineSummaries call, however many machines.
--
-- Arguments (key=value): format=text|json|csv (default text)
--                        location=ID       only these locations (repeatable)
--                        offline_only=true list only machines that are not online
--                        webhook=URL       POST the machines that are not online as JSON
--                                          ({organization, not_online = [...]}) when there are any
-- Exit: 0 (read the output, or let the webhook tell someone); 1 when the webhook refuses the post.
-- Example cron line (every 10 minutes, chat alert for offline machines):
--   */10 * * * * fleetsh --quiet run /opt/fleetsh/scripts/fleet_status.lua offline_only=true webhook=https://hooks.example.com/T/B/X
local common = require("common")
local opt = common.args("usage: fleet_status.lua [format=text|json|csv] [location=ID...] [offline_only=true] [webhook=URL]",
  { format = "text", location = {}, offline_only = false, webhook = "" })
if opt.format ~= "text" and opt.format ~= "json" and opt.format ~= "csv" then
  common.usage("format must be text, json or csv")
end

local STATE = { ONLINE_STATE_ONLINE = "online", ONLINE_STATE_OFFLINE = "offline",
  ONLINE_STATE_AWAITING_SETUP = "never seen" }

-- A machine's state is its main part's (else its first part's).
local function main_part(m)
  for _, p in ipairs(m.part_summaries or {}) do if p.is_main_part then return p end end
  return (m.part_summaries or {})[1] or {}
end

local function version(p)
  local v = p.viam_server_version
  return v and (v.major or v.minor) or ""
end

local rows = {}
local summaries = cloud.list_machine_summaries { location_ids = #opt.location > 0 and opt.location or nil }
for _, loc in ipairs(summaries) do
  for _, m in ipairs(loc.machine_summaries or {}) do
    local p = main_part(m)
    local state = STATE[p.online_state] or "unknown"
    if not (opt.offline_only and state == "online") then
      rows[#rows + 1] = {
        location = loc.location_name, location_id = loc.location_id, machine = m.machine_name,
        machine_id = m.machine_id, state = state, last_online = p.last_online,
        offline_seconds = state == "offline" and p.seconds_since_online or nil,
        version = version(p), os = p.os or "", platform = p.platform or "",
      }
    end
  end
end

local function offline_for(r)
  if r.state ~= "offline" then return r.state end
  return string.format("offline for %s (since %s)", time.format_duration(r.offline_seconds or 0),
    r.last_online or "?")
end

if opt.format == "json" then
  print(json.encode({ machines = #rows > 0 and rows or json.decode("[]") }, { indent = true }))
elseif opt.format == "csv" then
  local function csv(v)
    v = tostring(v == nil and "" or v)
    return v:find('[,"\n]') and ('"' .. v:gsub('"', '""') .. '"') or v
  end
  print("location,machine,state,offline_seconds,last_online,version,os,platform")
  for _, r in ipairs(rows) do
    print(table.concat({ csv(r.location), csv(r.machine), csv(r.state), csv(r.offline_seconds), csv(r.last_online),
      csv(r.version), csv(r.os), csv(r.platform) }, ","))
  end
else
  local current
  for _, r in ipairs(rows) do
    if r.location ~= current then
      current = r.location
      print(current)
    end
    local where = table.concat({ r.version ~= "" and ("viam-server " .. r.version) or "", r.platform }, " ")
    print(string.format("  %-24s %-44s %s", r.machine, offline_for(r), where:match("^%s*(.-)%s*$")))
  end
  local down = 0
  for _, r in ipairs(rows) do if r.state ~= "online" then down = down + 1 end end
  print(string.format("fleet_status: %d machine(s) listed, %d not online", #rows, down))
end

if opt.webhook ~= "" then
  local down = {}
  for _, r in ipairs(rows) do if r.state ~= "online" then down[#down + 1] = r end end
  if #down > 0 then
    local resp = http.post_json(opt.webhook, { organization = cloud.default_org_id(), not_online = down })
    if not resp.ok then
      log.error("fleet_status: the webhook answered HTTP " .. resp.status)
      os.exit(1)
    end
  end
end
