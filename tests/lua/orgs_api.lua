-- Issue 11, orgs area: user-defined metadata of every resource kind, by position and by name.
local org = cloud.default_org_id()
assert(next(cloud.get_organization_metadata()) == nil, "no metadata until some is set")
cloud.update_organization_metadata(org, { team = "blue", limits = { max = 3 } })
local got = cloud.get_organization_metadata(org)
assert(got.team == "blue" and got.limits.max == 3, "organization metadata round-trips")
cloud.update_organization_metadata{ metadata = { team = "red" } }
got = cloud.get_organization_metadata{ org_id = org }
assert(got.team == "red" and got.limits == nil, "an update replaces the whole metadata")

local loc = cloud.create_location("meta-lab")
cloud.update_location_metadata(loc.id, { floor = 2 })
assert(cloud.get_location_metadata(loc.id).floor == 2, "location metadata round-trips")
cloud.update_location_metadata(loc.id, {})
assert(next(cloud.get_location_metadata(loc.id)) == nil, "an empty table clears it")

local robot = cloud.new_robot("meta-bot", loc.id)
cloud.update_robot_metadata(robot, { serial = "A1" })
assert(cloud.get_robot_metadata(robot).serial == "A1", "robot metadata round-trips")
local part = cloud.get_robot_parts(robot)[1].id
cloud.update_robot_part_metadata{ robot_part_id = part, metadata = { arm = true } }
assert(cloud.get_robot_part_metadata(part).arm == true, "part metadata round-trips")
assert(cloud.get_robot_metadata(robot).arm == nil, "part and robot metadata are separate")

cloud.delete_robot(robot)
local ok, err = pcall(cloud.get_robot_metadata, robot)
assert(not ok and err.code == "NOT_FOUND", tostring(err))

-- Keys and roles.
local key_id = select(2, cloud.create_key({ { role = "operator", resource_type = "location", resource_id = loc.id } }, "ren"))
local rid, rname = cloud.rename_key(key_id, "renamed")
assert(rid == key_id and rname == "renamed", "rename_key returns id and name")
assert(select(2, cloud.rename_key{ id = key_id, name = "again" }) == "again", "rename_key by name")
cloud.change_role(key_id, "operator", "location", loc.id, key_id, "owner", "location", loc.id)
local roles = {}
for _, a in ipairs(cloud.list_authorizations({ loc.id })) do
  if a.identity_id == key_id then roles[#roles + 1] = a.authorization_id end
end
assert(#roles == 1 and roles[1] == "location_owner", "change_role swapped the grant")
local bot = cloud.new_robot("keyed-bot", loc.id)
cloud.create_key({ { role = "owner", resource_type = "robot", resource_id = bot } }, "bot-key")
local keys = cloud.get_robot_api_keys(bot)
assert(#keys == 1 and keys[1].api_key.name == "bot-key", "get_robot_api_keys lists the machine's key")
cloud.delete_robot(bot)
cloud.delete_key(key_id)
cloud.delete_location(loc.id)

-- Organizations: update, namespace, delete (an empty one; none is deleted by default).
local new_org = cloud.create_organization("lua-org")
local up = cloud.update_organization(new_org.id, "lua-org-2", "lua-ns", "us-east")
assert(up.name == "lua-org-2" and up.public_namespace == "lua-ns" and up.default_region == "us-east")
up = cloud.update_organization{ org_id = new_org.id, cid = "crm" }
assert(up.cid == "crm" and up.name == "lua-org-2", "absent fields are kept")
local moved = cloud.update_organization_namespace{ org_id = new_org.id, new_public_namespace = "lua-ns-2" }
assert(moved.public_namespace == "lua-ns-2", "update_organization_namespace returns the organization")
ok, err = pcall(cloud.delete_organization)
assert(not ok and err.code == "INVALID_ARGUMENT", "delete_organization needs an explicit org_id")
-- Sharing a location with the new organization (owned by the same key).
local share_loc = cloud.create_location("shared-lab")
cloud.share_location(new_org.id, share_loc.id)
local access = cloud.get_organizations_with_access_to_location(share_loc.id)
assert(#access == 2 and access[1].id == org and access[2].id == new_org.id, "both organizations have access")
local in_new = cloud.list_locations{ org_id = new_org.id }
assert(#in_new == 1 and in_new[1].id == share_loc.id, "the shared location is listed in the other organization")
cloud.unshare_location{ organization_id = new_org.id, location_id = share_loc.id }
assert(#cloud.get_organizations_with_access_to_location(share_loc.id) == 1, "unshared")
cloud.delete_location(share_loc.id)
cloud.delete_organization(new_org.id)
ok, err = pcall(cloud.get_organization, new_org.id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))

local admin = cloud.get_user_id_by_email("admin@localhost")
assert(type(admin) == "string" and admin ~= "", "get_user_id_by_email returns the id")
-- Generated from the descriptors: org_id is the implicit organization.
local found = cloud.search_organizations()
assert(#found == 1 and found[1].org_id == org, "search_organizations finds the default organization")
assert(#cloud.search_organizations{ cid = "no-such-cid" } == 0, "filters apply")
print("orgs_api ok")
