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
cloud.delete_location(loc.id)
print("orgs_api ok")
