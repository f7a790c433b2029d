-- Machines: new_robot returns the id; get/list/update/delete round trip.
local loc = cloud.create_location("robots-" .. tostring(os.time())).id
local id = cloud.new_robot("rover", loc)
assert(type(id) == "string" and #id > 0)
local robot = cloud.get_robot(id)
assert(robot.name == "rover" and robot.location == loc)
assert(robot.created_on:match("^%d%d%d%d%-%d%d%-%d%dT"), "timestamps are RFC 3339 strings: " .. robot.created_on)
assert(math.type(robot.seconds_since_online) == "integer", "int64 fields are Lua integers")
assert(robot.online_state:match("^ONLINE_STATE_"), "enums come back by name")

local robots = cloud.list_robots(loc)
assert(#robots == 1 and robots[1].id == id)
local second = cloud.new_robot{ name = "arm", location_id = loc }
assert(#cloud.list_robots{ location_id = loc } == 2)

local updated = cloud.update_robot(id, "rover-2", loc)
assert(updated.name == "rover-2")
cloud.delete_robot(second)
assert(#cloud.list_robots(loc) == 1)

-- The generic path reaches the same RPC by its proto name.
local raw = cloud.call("GetRobot", { id = id })
assert(raw.robot.name == "rover-2")
print("robots ok")
