-- Robot parts: list, get (with dest), update with nested configs, history, secrets, main/restart.
local loc = cloud.create_location("parts-" .. os.time()).id
local robot = cloud.new_robot("m", loc)
local parts = cloud.get_robot_parts(robot)
assert(#parts == 1 and parts[1].main_part == true)
local main = parts[1].id

local config = {
  components = { { name = "base", model = "rdk:builtin:wheeled",
    attributes = { width_mm = 300, ratio = 0.5, left = { "l1", "l2" }, enabled = true } } },
  network = { bind_address = ":8080" },
}
local updated = cloud.update_robot_part(main, "main-1", config)
assert(updated.name == "main-1")
assert(json.encode(updated.robot_config) == json.encode(config), "a Struct config comes back unchanged: "
  .. json.encode(updated.robot_config))
assert(math.type(updated.robot_config.components[1].attributes.width_mm) == "integer")

local dest = os.tmpname()
local part = cloud.get_robot_part{ robot_part_id = main, dest = dest }
assert(part.id == main and part.robot == robot and part.location_id == loc)
local f = assert(io.open(dest))
local written = json.decode(f:read("a"))
f:close()
os.remove(dest)
assert(json.encode(written) == json.encode(config), "dest receives the config as JSON")

-- robot_config_json replaces the config as given; name only keeps it.
local by_json = cloud.update_robot_part{ robot_part_id = main, name = "main-2", robot_config_json = '{"modules":[{"name":"m"}]}' }
assert(by_json.robot_config.modules[1].name == "m" and by_json.robot_config.components == nil)
assert(cloud.update_robot_part(main, "main-3").robot_config.modules[1].name == "m")

-- Stale last_known_update is refused rather than overwriting.
local ok, err = pcall(cloud.update_robot_part, main, "main-4", { a = 1 }, updated.last_updated)
assert(not ok and (err.code == "FAILED_PRECONDITION" or err.code == "ABORTED"), tostring(err))

local history = cloud.get_robot_part_history(main)
assert(#history >= 3 and history[1].part == main)
assert(#cloud.get_robot_part_history{ robot_part_id = main, page_limit = 1 } == 1)

local sub = cloud.new_robot_part(robot, "sub")
assert(type(sub) == "string" and sub ~= main)
cloud.mark_part_as_main(sub)
local mains = {}
for _, p in ipairs(cloud.get_robot_parts(robot)) do mains[p.id] = p.main_part end
assert(mains[sub] == true and mains[main] == false)
ok, err = pcall(cloud.delete_robot_part, sub)
assert(not ok and err.code == "FAILED_PRECONDITION", "the main part cannot be deleted: " .. tostring(err))
assert(cloud.delete_robot_part(main) == nil)
assert(#cloud.get_robot_parts(robot) == 1)

assert(cloud.mark_part_for_restart(sub) == nil)
ok, err = pcall(cloud.mark_part_for_restart, "no-such-part")
assert(not ok and err.code == "NOT_FOUND", tostring(err))

local before = #cloud.get_robot_part(sub).secrets
local with_secret = cloud.create_robot_part_secret(sub)
assert(#with_secret.secrets == before + 1)
cloud.delete_robot_part_secret(sub, with_secret.secrets[#with_secret.secrets].id)
assert(#cloud.get_robot_part(sub).secrets == before)
ok, err = pcall(cloud.delete_robot_part_secret, sub, "no-such-secret")
assert(not ok and err.code == "NOT_FOUND", tostring(err))
ok, err = pcall(cloud.get_robot_parts, "no-such-robot")
assert(not ok and err.code == "NOT_FOUND", tostring(err))
print("parts ok")
