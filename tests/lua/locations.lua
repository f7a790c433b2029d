-- Locations through the ergonomic names: implicit org, positional and named arguments.
local before = #cloud.list_locations()
local loc = cloud.create_location("lab")
assert(loc.name == "lab" and loc.id ~= "", "create_location returns the location")
assert(loc.organizations[1].organization_id == cloud.default_org_id(), "created in the implicit org")

local sub = cloud.create_location{ name = "bench", parent_location_id = loc.id }
assert(sub.parent_location_id == loc.id)

local got = cloud.get_location(loc.id)
assert(got.id == loc.id and got.name == "lab")

local renamed = cloud.update_location(loc.id, "lab-2")
assert(renamed.name == "lab-2")
assert(#cloud.list_locations() == before + 2)
assert(#cloud.list_locations{ org_id = cloud.default_org_id() } == before + 2, "org_id can be passed by name")

local auth = cloud.location_auth(loc.id)
assert(type(auth.secrets) == "table")
local with_secret = cloud.create_location_secret(loc.id)
assert(#with_secret.secrets == #auth.secrets + 1)
cloud.delete_location_secret(with_secret.secrets[#with_secret.secrets].id, loc.id)
assert(#cloud.location_auth(loc.id).secrets == #auth.secrets)

assert(cloud.delete_location(sub.id) == nil, "delete returns nothing")
local ok, err = pcall(cloud.get_location, sub.id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
print("locations ok")
