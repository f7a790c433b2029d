-- Roles and permissions.
local loc = cloud.create_location("roles-" .. os.time())
local members = cloud.list_organization_members()
local user = members[1].user_id
cloud.add_role(user, "operator", "location", loc.id)
local auths = cloud.list_authorizations{ resource_ids = { loc.id } }
local mine = {}
for _, a in ipairs(auths) do
  assert(a.resource_id == loc.id)
  if a.identity_id == user then mine[#mine + 1] = a.authorization_id end
end
assert(#mine == 1 and mine[1] == "location_operator", table.concat(mine, ","))
assert(#cloud.list_authorizations() > #auths)

cloud.remove_role{ identity_id = user, role = "operator", resource_type = "location", resource_id = loc.id }
for _, a in ipairs(cloud.list_authorizations{ resource_ids = { loc.id } }) do assert(a.identity_id ~= user) end
local ok, err = pcall(cloud.add_role, user, "operator", "location", "no-such-location")
assert(not ok and err.code == "NOT_FOUND", tostring(err))

local robot = cloud.new_robot("perm", loc.id)
local allowed = cloud.check_permissions{ permissions = {
  { resource_type = "robot", resource_id = robot, permissions = { "read_robot", "write_robot" } } } }
assert(#allowed == 1 and #allowed[1].permissions == 2)
ok, err = pcall(cloud.check_permissions, {})
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
print("roles ok")
