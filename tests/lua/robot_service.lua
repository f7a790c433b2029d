-- What a part itself calls (RobotService), through cloud.robot: functions made from the schema.
local robot = cloud.new_robot("reporter")
local part = cloud.get_robot_parts(robot)[1]

cloud.robot.log { id = part.id, logs = { { level = "error", message = "reported", time = time.format(),
  host = "h", logger_name = "rdk", caller = {}, fields = {} } } }
assert(cloud.get_robot_part_logs(part.id)[1].message == "reported")

local reply = cloud.robot.config { id = part.id, agent_info = { host = "h", os = "linux", version = "0.51.0",
  platform = "linux/amd64" } }
assert(type(reply) == "table", "the part's config")

cloud.mark_part_for_restart(part.id)
assert(cloud.robot.needs_restart { id = part.id }.must_restart == true, "marked")
assert(cloud.robot.needs_restart { id = part.id }.must_restart ~= true, "cleared once read")
local cert = cloud.robot.certificate { id = part.id }
assert(cert.id == part.id and cert.tls_certificate:find("BEGIN CERTIFICATE", 1, true), "a certificate")
assert(tostring(cert.tls_private_key) == "****", "the key is a secret")
assert(cert.tls_private_key:reveal():find("PRIVATE KEY", 1, true), "and its key")
print("robot_service ok")
