-- `fleet.seed{...}`: a fleet described as data, made through the same cloud calls a script
-- makes, in the test's own fleet. Returns the ids by name, so tests never hard-code them:
--
-- local ids = fleet.seed {
--   locations = { { name = "lab", locations = { { name = "bench" } },
--                   machines = { { name = "rover-1", config = { components = {} },
--                                  parts = { { name = "arm", config = {} } },
--                                  logs = { { level = "error", message = "boom" } },
--                                  readings = { { component = "temp", every = "1m",
--                                                 values = { { celsius = 20 }, { celsius = 21 } } } } } } } },
--   fragments = { { name = "base", config = { modules = {} }, revisions = { { modules = { {} } } } } },
--   keys = { { name = "ci", roles = { { role = "operator", location = "lab" } } } },
--   invites = { { email = "ana@example.com", roles = { { role = "operator", location = "lab" } } } },
--   members = { { email = "bo@example.com", roles = { { role = "owner", machine = "rover-1" } } } },
--   organizations = { { name = "acme", locations = { ... }, fragments = ..., keys = ..., invites = ...,
--                       members = ..., metadata = ... } },
-- }
-- ids.locations.lab, ids.machines["rover-1"], ids.parts["rover-1"] (the main part),
-- ids.parts["rover-1/arm"], ids.fragments.base, ids.keys.ci = { id =, key = } (the key a secret),
-- ids.members["bo@example.com"] (a user id), ids.organizations.acme (and the fleet's own
-- organization by its name). Names are one namespace across organizations: a location, machine,
-- fragment or key name is used once; an address may be a member of several organizations.
-- The top level is the fleet's own organization; each of `organizations` is made (owned by the
-- caller's key) and described with the same fields. Roles left out mean organization owner, for
-- keys, invites and members alike. Members are made through fleetsh's own admin API
-- (cloud.admin.add_member: Viam's API makes a member only when a person accepts an invite in the
-- web app), so a seed with members needs the fleet's owner key, which tests and `--seed` have.
local M = {}

local function now() return time.format() end

local function log_entries(logs, host)
  local entries = {}
  for i, e in ipairs(logs) do
    entries[i] = { level = e.level or "info", message = e.message or "", time = e.time or now(),
      host = e.host or host, logger_name = e.logger or "rdk", caller = {}, fields = {} }
  end
  return entries
end

-- `{component =, type = "rdk:component:sensor", method = "Readings", every = "1m",
--   values = { {field = v, ...}, ... }}`: one reading per entry of values, the last now and each
-- earlier one `every` before the next, uploaded as the sensor captures them ({readings = {...}}).
local function upload_readings(part_id, r)
  assert(type(r.component) == "string", "fleet.seed: every readings entry needs a component")
  assert(type(r.values) == "table" and #r.values > 0,
    "fleet.seed: readings of " .. r.component .. " need values, a list of readings")
  local step = time.duration(r.every or "1m")
  local last = time.now()
  local data, times = {}, {}
  for i, v in ipairs(r.values) do
    data[i] = { readings = v }
    local at = time.format(last - (#r.values - i) * step)
    times[i] = { at, at }
  end
  cloud.data.tabular_data_capture_upload { tabular_data = data, data_request_times = times, part_id = part_id,
    component_type = r.type or "rdk:component:sensor", component_name = r.component,
    method_name = r.method or "Readings" }
end

-- What a part holds besides its name: config, logs, readings.
local function fill_part(id, name, p, host)
  if p.config then cloud.update_robot_part(id, name, p.config) end
  if p.logs then cloud.robot.log { id = id, logs = log_entries(p.logs, host) } end
  for _, r in ipairs(p.readings or {}) do upload_readings(id, r) end
end

local function seed_machine(m, location_id, ids)
  assert(type(m.name) == "string", "fleet.seed: every machine needs a name")
  local robot = cloud.new_robot(m.name, location_id)
  ids.machines[m.name] = robot
  local main = cloud.get_robot_parts(robot)[1]
  ids.parts[m.name] = main.id
  fill_part(main.id, main.name, m, m.name)
  for _, p in ipairs(m.parts or {}) do
    local id = cloud.new_robot_part(robot, p.name)
    ids.parts[m.name .. "/" .. p.name] = id
    fill_part(id, p.name, p, m.name)
  end
  if m.metadata then cloud.update_robot_metadata(robot, m.metadata) end
end

local function seed_location(l, parent, org, ids)
  assert(type(l.name) == "string", "fleet.seed: every location needs a name")
  local loc = cloud.create_location { name = l.name, parent_location_id = parent, org_id = org }
  ids.locations[l.name] = loc.id
  if l.metadata then cloud.update_location_metadata(loc.id, l.metadata) end
  for _, sub in ipairs(l.locations or {}) do seed_location(sub, loc.id, org, ids) end
  for _, m in ipairs(l.machines or {}) do seed_machine(m, loc.id, ids) end
end

-- A role on something named in the seed: `{role =, location = NAME | machine = NAME | organization = true}`.
local function grant(r, org, ids)
  if r.location then
    return { role = r.role, resource_type = "location", resource_id = assert(ids.locations[r.location], "no location " .. r.location) }
  elseif r.machine then
    return { role = r.role, resource_type = "robot", resource_id = assert(ids.machines[r.machine], "no machine " .. r.machine) }
  end
  return { role = r.role, resource_type = "organization", resource_id = org }
end

local function grants(roles, org, ids)
  local out = {}
  for i, r in ipairs(roles or { { role = "owner", organization = true } }) do out[i] = grant(r, org, ids) end
  return out
end

-- One organization's part of the seed (the top level, or an entry of `organizations`).
local function seed_org(spec, org, ids, root)
  for _, f in ipairs(spec.fragments or {}) do
    local id = cloud.create_fragment { name = f.name, config = f.config or {}, org_id = org }.id
    ids.fragments[f.name] = id
    -- Each revision an update, in order: the history holds them all, the last is current.
    for _, config in ipairs(f.revisions or {}) do cloud.update_fragment(id, f.name, config) end
  end
  for _, l in ipairs(spec.locations or {}) do seed_location(l, nil, org, ids) end
  if spec.machines and #spec.machines > 0 then
    local where = root or (spec.locations and spec.locations[1] and ids.locations[spec.locations[1].name])
    assert(where, "fleet.seed: machines of a new organization go in one of its locations")
    for _, m in ipairs(spec.machines) do seed_machine(m, where, ids) end
  end
  for _, k in ipairs(spec.keys or {}) do
    local key, id = cloud.create_key { authorizations = grants(k.roles, org, ids), name = k.name, org_id = org }
    ids.keys[k.name] = { id = id, key = key }
  end
  for _, inv in ipairs(spec.invites or {}) do
    assert(type(inv.email) == "string", "fleet.seed: every invite needs an email")
    local auths = {}
    for i, g in ipairs(grants(inv.roles, org, ids)) do
      auths[i] = { authorization_type = "role", authorization_id = g.resource_type .. "_" .. g.role,
        resource_type = g.resource_type, resource_id = g.resource_id, identity_id = "", identity_type = "",
        organization_id = org }
    end
    cloud.create_organization_invite { email = inv.email, authorizations = auths, send_email_invite = false,
      org_id = org }
  end
  for _, m in ipairs(spec.members or {}) do
    assert(type(m.email) == "string", "fleet.seed: every member needs an email")
    ids.members[m.email] = cloud.admin.add_member { organization_id = org, email = m.email,
      roles = grants(m.roles, org, ids) }
  end
  if spec.metadata then cloud.update_organization_metadata(org, spec.metadata) end
end

function M.seed(spec)
  assert(type(spec) == "table", "fleet.seed takes a table")
  local ids = { organizations = {}, locations = {}, machines = {}, parts = {}, fragments = {}, keys = {},
    members = {} }
  -- Read before another organization exists: with two, the default is no longer implied.
  local home = cloud.default_org_id()
  ids.organizations[cloud.get_organization(home).name] = home
  -- The fleet's own root location.
  for _, l in ipairs(cloud.list_locations { org_id = home }) do ids.locations[l.name] = l.id end
  seed_org(spec, home, ids, ids.locations.Main)
  for _, o in ipairs(spec.organizations or {}) do
    assert(type(o.name) == "string", "fleet.seed: every organization needs a name")
    local org = cloud.create_organization(o.name).id
    ids.organizations[o.name] = org
    seed_org(o, org, ids, nil)
  end
  return ids
end

fleet = M
