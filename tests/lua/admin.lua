-- fleetsh's own admin service (cloud.admin.*), with the fleet's owner key: faults, the clock and
-- members, on the embedded fleet and over a socket alike.
local id = cloud.admin.add_fault { rule = { method = "ListLocations", code = "ABORTED", message = "from lua", times = 1 } }
local ok, err = pcall(cloud.list_locations)
assert(not ok and err.code == "ABORTED" and err.message == "from lua", tostring(err))
assert(#cloud.list_locations() >= 1, "times = 1: the next call passes")
local listed = cloud.admin.list_faults()
assert(#listed == 1 and listed[1].id == id and listed[1].seen == 2, json.encode(listed))
assert(cloud.admin.clear_faults { all = true } == 1)
assert(#cloud.admin.list_faults() == 0)

cloud.create_organization_invite { email = "lu@example.com", authorizations = {}, send_email_invite = false }
local lu = cloud.admin.accept_invite { email = "lu@example.com" }
assert(cloud.get_user_id_by_email("lu@example.com") == lu, lu)
local _, invites = cloud.list_organization_members()
assert(#invites == 0, "the invite is accepted")
local bo = cloud.admin.add_member { email = "bo@example.com",
  roles = { { role = "operator", resource_type = "organization", resource_id = cloud.default_org_id() } } }
assert(bo ~= lu and #cloud.list_organization_members() == 3)

assert(cloud.admin.advance_clock("1d") > 0, "the clock moved what the fleet stored")
print("admin ok")
