-- Edges of the Lua <-> proto bridge seen from a script, and the json helper.
local loc = cloud.create_location("convert").id
local resp = cloud.call("ListRobots", { location_id = loc })
assert(#resp.robots == 0)
assert(json.encode(resp) == '{"robots":[]}', "empty repeated fields encode as []: " .. json.encode(resp))

local decoded = json.decode('{"a":[1,2,{"b":null}],"c":{}}')
assert(decoded.a[2] == 2 and decoded.a[3].b == json.null)
assert(json.encode(decoded) == '{"a":[1,2,{"b":null}],"c":{}}', json.encode(decoded))

-- Optional fields left nil stay unset: no parent.
local l = cloud.get_location(loc)
assert(l.parent_location_id == "" or l.parent_location_id == nil)

-- Enum by name is accepted on the way in (unknown names hint).
local ok, err = pcall(cloud.call, "ListFragments", { fragment_visibility = { "FRAGMENT_VISIBILITY_PUBLC" } })
assert(not ok and err.message:find("did you mean 'FRAGMENT_VISIBILITY_PUBLIC'", 1, true), tostring(err))

assert(env("FLEETSH_TEST_ENV") == "yes", "env() reads the environment")
assert(env("FLEETSH_NO_SUCH_VARIABLE") == nil)
log.info("convert: info on stderr")
log.warn("convert: warn on stderr")
log.error("convert: error on stderr", 42, { "tables too" } ~= nil)
log.debug("convert: debug on stderr")
assert(json.encode({ b = 1, a = { 2 } }, { indent = true }):find('\n', 1, true), "indent pretty-prints")
assert(json.encode({ b = 1, a = 2 }) == '{"a":2,"b":1}', "keys are sorted")
local ok_sleep, sleep_err = pcall(sleep, -1)
assert(not ok_sleep and tostring(sleep_err):find("non-negative", 1, true))
sleep(0)
print("convert ok")

-- Every spec names a real RPC, every listed function exists, and every RPC of the descriptors
-- has a function: a spec line's, or one made from the descriptors.
local rpcs, by_rpc = {}, {}
for _, area in ipairs({ "", table.unpack(cloud._areas()) }) do
  for _, n in ipairs(cloud._generated(area)) do
    local shape = cloud._shape(area, n)
    rpcs[shape.rpc] = area
    if area == "" then rpcs[shape.method] = area end
  end
end
-- A spec of a cloud.NAME table's function is named "NAME.fn" (issue 12: cloud.data).
local function lookup(name)
  local v = cloud
  for part in name:gmatch("[^.]+") do v = type(v) == "table" and rawget(v, part) or nil end
  return v
end
-- Reading an area loads its file (data.lua, ...), whose specs join cloud._specs.
for _, area in ipairs(cloud._areas()) do assert(type(cloud[area]) == "table", area) end
for _, s in ipairs(cloud._specs) do
  assert(type(lookup(s[1])) == "function", s[1])
  if s[2] then
    assert(rpcs[s[2]], "no RPC " .. s[2])
    by_rpc[s[2]] = true
  end
end
for _, name in ipairs(cloud._functions()) do assert(cloud[name] ~= nil, name) end
for _, area in ipairs({ "", table.unpack(cloud._areas()) }) do
  local t = area == "" and cloud or cloud[area]
  for _, n in ipairs(cloud._generated(area)) do
    local shape = cloud._shape(area, n)
    local covered = by_rpc[shape.rpc] or (area == "" and by_rpc[shape.method])
    assert(covered or type(t[n]) == "function", "no function for " .. shape.rpc)
  end
end
-- A name that does not exist says what does.
local ok_typo, typo = pcall(function() return cloud.list_robot end)
assert(not ok_typo and tostring(typo):find("cloud.list_robot does not exist; did you mean cloud.list_robots?", 1, true),
  tostring(typo))
assert(rawget(cloud, "no_such_function") == nil, "rawget still answers nil")
print("specs ok")
