-- API keys: create/rotate/copy return (key, id) tuples, key first, like Python.
local loc = cloud.create_location("keys-" .. os.time())
local name = "ci-" .. math.random(1e6)
local key, id = cloud.create_key{ authorizations = { { role = "operator", resource_type = "location", resource_id = loc.id } }, name = name }
-- Keys are secret values: they print as ****, cloud.reveal / key:reveal() give the string.
assert(type(key) == "userdata" and tostring(key) == "****" and type(id) == "string" and id ~= "")
assert(#cloud.reveal(key) > 0 and key:reveal() ~= id)
assert(cloud.check_key(id, key) and not cloud.check_key(id, "wrong"), "the new key authenticates")
assert(not cloud.is_planned(id), "only --dry-run plans calls")
assert(not cloud.is_dry_run(), "this run sends its calls")
local function listed(kid)
  for _, k in ipairs(cloud.list_keys()) do if k.api_key.id == kid then return k end end
end
local k = listed(id)
assert(k and k.api_key.name == name and k.api_key.key == "", "the secret is shown once")
assert(k.authorizations[1].authorization_id == "location_operator" and k.authorizations[1].resource_id == loc.id)

-- No name: the SDK's default is the local time.
local _, unnamed = cloud.create_key({ { role = "owner", resource_type = "organization", resource_id = cloud.default_org_id() } })
assert(listed(unnamed).api_key.name:match("^%d%d%d%d%-%d%d%-%d%d "), listed(unnamed).api_key.name)

local copy_key, copy_id = cloud.create_key_from_existing_key_authorizations(id)
assert(copy_id ~= id and #copy_key > 0 and listed(copy_id).authorizations[1].resource_id == loc.id)
local new_key, new_id = cloud.rotate_key(id)
assert(#new_key > 0 and new_id ~= "" and new_key ~= key and new_key:reveal() ~= key:reveal())

cloud.delete_key(copy_id)
assert(listed(copy_id) == nil)
local ok, err = pcall(cloud.delete_key, copy_id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
ok, err = pcall(cloud.create_key, {}, "empty")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
print("keys ok")
