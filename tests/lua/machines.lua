-- Machines across locations and the organization, a part by name, favorites.
local stamp = tostring(os.time())
local a_loc = cloud.create_location("machines-a-" .. stamp).id
local b_loc = cloud.create_location("machines-b-" .. stamp).id
local a = cloud.new_robot("rover", a_loc)
local b = cloud.new_robot("arm", b_loc)

local both = cloud.list_robots_for_locations({ b_loc, a_loc })
assert(#both == 2 and both[1].id == b and both[2].id == a, "machines in the order of the locations asked")

local ids = {}
for _, r in ipairs(cloud.list_robots_for_org()) do ids[r.id] = true end
assert(ids[a] and ids[b], "the organization lists both machines")

local part = cloud.get_robot_part_by_name_and_location("rover-main", a_loc)
assert(part.robot == a and part.main_part, "the main part is found by its name")
local ok, err = pcall(cloud.get_robot_part_by_name_and_location, "rover-main", b_loc)
assert(not ok and tostring(err):match("no robot part"), tostring(err))

cloud.add_favorite_machine(b)
cloud.add_favorite_machine(a)
local favs = cloud.list_favorite_machines()
assert(#favs == 2 and favs[1].machine.id == b and favs[2].machine.id == a, "favorites in the order added")
cloud.remove_favorite_machine(b)
favs = cloud.list_favorite_machines()
assert(#favs == 1 and favs[1].machine.id == a)

-- Summaries: grouped by location; parts that never reported have no version.
local sums = cloud.list_machine_summaries{ location_ids = { a_loc } }
assert(#sums == 1 and sums[1].location_id == a_loc, "only the location asked")
local m = sums[1].machine_summaries[1]
assert(m.machine_id == a and m.part_summaries[1].viam_server_version == nil, "nothing reported yet")

local changes = cloud.set_config_property(part.id, { debug = true, ["network.bind_address"] = ":8080" })
assert(#changes == 2 and changes[1].success and changes[2].success, "both changes applied")
assert(cloud.get_robot_part(part.id).robot_config.network.bind_address == ":8080")
print("machines ok")
