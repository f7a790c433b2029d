-- `fleet.seed{...}`: a fleet described as data, made through the same cloud calls a script
-- makes, in the test's own fleet. Returns the ids by name, so tests never hard-code them:
--
-- local ids = fleet.seed {
--   locations = { { name = "lab", locations = { { name = "bench" } },
--                   machines = { { name = "rover-1", config = { components = {} },
--                                  parts = { { name = "arm", config = {} } },
--                                  logs = { { level = "error", message = "boom" } } } } } },
--   fragments = { { name = "base", config = { modules = {} } } },
--   keys = { { name = "ci", roles = { { role = "operator", location = "lab" } } } },
-- }
-- ids.locations.lab, ids.machines["rover-1"], ids.parts["rover-1"] (the main part),
-- ids.parts["rover-1/arm"], ids.fragments.base, ids.keys.ci = { id =, key = } (the key a secret)
local M = {}

local function now() return time.format() end

local function seed_machine(m, location_id, ids)
  assert(type(m.name) == "string", "fleet.seed: every machine needs a name")
  local robot = cloud.new_robot(m.name, location_id)
  ids.machines[m.name] = robot
  local main = cloud.get_robot_parts(robot)[1]
  ids.parts[m.name] = main.id
  if m.config then cloud.update_robot_part(main.id, main.name, m.config) end
  for _, p in ipairs(m.parts or {}) do
    local id = cloud.new_robot_part(robot, p.name)
    ids.parts[m.name .. "/" .. p.name] = id
    if p.config then cloud.update_robot_part(id, p.name, p.config) end
  end
  if m.logs then
    local entries = {}
    for i, e in ipairs(m.logs) do
      entries[i] = { level = e.level or "info", message = e.message or "", time = e.time or now(),
        host = e.host or m.name, logger_name = e.logger or "rdk", caller = {}, fields = {} }
    end
    cloud.robot.log { id = main.id, logs = entries }
  end
  if m.metadata then cloud.update_robot_metadata(robot, m.metadata) end
end

local function seed_location(l, parent, ids)
  assert(type(l.name) == "string", "fleet.seed: every location needs a name")
  local loc = cloud.create_location(l.name, parent)
  ids.locations[l.name] = loc.id
  if l.metadata then cloud.update_location_metadata(loc.id, l.metadata) end
  for _, sub in ipairs(l.locations or {}) do seed_location(sub, loc.id, ids) end
  for _, m in ipairs(l.machines or {}) do seed_machine(m, loc.id, ids) end
end

-- A role on something named in the seed: `{role =, location = NAME | machine = NAME | organization = true}`.
local function grant(r, ids)
  if r.location then
    return { role = r.role, resource_type = "location", resource_id = assert(ids.locations[r.location], "no location " .. r.location) }
  elseif r.machine then
    return { role = r.role, resource_type = "robot", resource_id = assert(ids.machines[r.machine], "no machine " .. r.machine) }
  end
  return { role = r.role, resource_type = "organization", resource_id = cloud.default_org_id() }
end

function M.seed(spec)
  assert(type(spec) == "table", "fleet.seed takes a table")
  local ids = { locations = {}, machines = {}, parts = {}, fragments = {}, keys = {} }
  -- The fleet's own root location.
  for _, l in ipairs(cloud.list_locations()) do ids.locations[l.name] = l.id end
  for _, f in ipairs(spec.fragments or {}) do
    ids.fragments[f.name] = cloud.create_fragment(f.name, f.config or {}).id
  end
  for _, l in ipairs(spec.locations or {}) do seed_location(l, nil, ids) end
  for _, m in ipairs(spec.machines or {}) do seed_machine(m, ids.locations.Main, ids) end
  for _, k in ipairs(spec.keys or {}) do
    local auths = {}
    for i, r in ipairs(k.roles or { { role = "owner", organization = true } }) do auths[i] = grant(r, ids) end
    local key, id = cloud.create_key(auths, k.name)
    ids.keys[k.name] = { id = id, key = key }
  end
  if spec.metadata then cloud.update_organization_metadata(nil, spec.metadata) end
  return ids
end

fleet = M
