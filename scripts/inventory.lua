-- inventory.lua: exports organizations, their locations (as a tree), machines and parts to JSON
-- or CSV. Secrets are never part of it.
--
-- Arguments (key=value): format=json|csv  (default json)
--                        out=FILE         (default: stdout)
-- Example cron line (daily snapshot):
--   15 1 * * * fleetsh --quiet run /opt/fleetsh/scripts/inventory.lua format=csv out=/srv/reports/fleet.csv
local common = require("common")
local opt = common.args("usage: inventory.lua [format=json|csv] [out=FILE]", { format = "json", out = "" })
if opt.format ~= "json" and opt.format ~= "csv" then common.usage("format must be json or csv") end

-- json.decode("[]") is an empty table that json.encode writes as [] rather than {}.
local function array() return json.decode("[]") end

local function machines(location_id)
  local robots = cloud.list_robots(location_id)
  local parts = cloud.parallel(robots, function(r) return cloud.get_robot_parts(r.id) end)
  local out = array()
  for i, r in ipairs(robots) do
    local ps = array()
    for _, p in ipairs(parts[i] or {}) do
      ps[#ps + 1] = { id = p.id, name = p.name, main_part = p.main_part, last_access = p.last_access }
    end
    out[#out + 1] = { id = r.id, name = r.name, last_access = r.last_access, parts = ps }
  end
  return out
end

local orgs = array()
for _, o in ipairs(cloud.list_organizations()) do
  local locs = cloud.list_locations { org_id = o.id }
  local nodes, roots = {}, array()
  for _, l in ipairs(locs) do
    nodes[l.id] = { id = l.id, name = l.name, machines = machines(l.id), locations = array() }
  end
  for _, l in ipairs(locs) do
    local parent = nodes[l.parent_location_id or ""]
    table.insert(parent and parent.locations or roots, nodes[l.id])
  end
  orgs[#orgs + 1] = { id = o.id, name = o.name, locations = roots }
end

local lines = {}
if opt.format == "json" then
  lines[1] = json.encode({ organizations = orgs }, { indent = true })
else
  local function csv(v)
    v = tostring(v == nil and "" or v)
    if v:find('[,"\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
    return v
  end
  local function row(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = csv(t[i]) end
    lines[#lines + 1] = table.concat(t, ",", 1, t.n)
  end
  row("organization_id", "organization", "location_path", "location_id", "machine_id", "machine",
    "part_id", "part", "main_part", "last_access")
  local function walk(o, l, path)
    path = path == "" and l.name or (path .. "/" .. l.name)
    if #l.machines == 0 then row(o.id, o.name, path, l.id) end
    for _, m in ipairs(l.machines) do
      for _, p in ipairs(m.parts) do
        row(o.id, o.name, path, l.id, m.id, m.name, p.id, p.name, p.main_part, p.last_access)
      end
    end
    for _, c in ipairs(l.locations) do walk(o, c, path) end
  end
  for _, o in ipairs(orgs) do
    for _, l in ipairs(o.locations) do walk(o, l, "") end
  end
end

local text = table.concat(lines, "\n") .. "\n"
if opt.out ~= "" then
  local f = assert(io.open(opt.out, "w"))
  f:write(text)
  f:close()
else
  io.write(text)
end
