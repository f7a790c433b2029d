-- Fragments: Struct configs round-trip, visibility by the SDK's short names.
local name = "frag-" .. os.time() .. math.random(1e6)
local config = { components = { { name = "cam", attributes = { fps = 30, tags = { "a", "b" } } } } }
local frag = cloud.create_fragment(name, config)
assert(frag.name == name and frag.organization_owner == cloud.default_org_id())
assert(json.encode(frag.fragment) == json.encode(config), json.encode(frag.fragment))
assert(frag.visibility == "FRAGMENT_VISIBILITY_PRIVATE" and frag.public == false)

local got = cloud.get_fragment(frag.id)
assert(got.id == frag.id and got.fragment.components[1].attributes.fps == 30)

local private = cloud.list_fragments{ show_public = false, visibilities = { "private" } }
local found = false
for _, f in ipairs(private) do found = found or f.id == frag.id end
assert(found, "list_fragments with visibilities")

local new_config = { components = {}, services = { { name = "nav" } } }
local updated = cloud.update_fragment{ fragment_id = frag.id, name = name .. "-2", config = new_config, visibility = "public" }
assert(updated.name == name .. "-2" and updated.visibility == "FRAGMENT_VISIBILITY_PUBLIC")
assert(cloud.get_fragment(frag.id).fragment.services[1].name == "nav")
assert(#cloud.list_fragments() >= 1)

cloud.delete_fragment(frag.id)
local ok, err = pcall(cloud.get_fragment, frag.id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
ok, err = pcall(cloud.create_fragment, "")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
print("fragments ok")
