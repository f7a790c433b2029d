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

-- Every ergonomic function names a real RPC, and every AppService RPC has one.
local covered = {}
local methods = cloud._methods()
for _, s in ipairs(cloud._specs) do
  assert(methods[s[2]], "no RPC " .. s[2])
  assert(type(cloud[s[1]]) == "function", s[1])
  covered[s[2]] = true
end
for _, extra in ipairs({ "GetRobotPart", "GetRobotPartLogs", "TailRobotPartLogs" }) do covered[extra] = true end
for rpc, name in pairs(methods) do
  assert(covered[rpc], "no ergonomic function for " .. rpc)
  assert(type(cloud[name]) == "function", "cloud." .. name .. " missing")
end
print("specs ok")
