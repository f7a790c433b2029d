-- Organizations, members and invites.
local org_id = cloud.default_org_id()
local me = cloud.get_organization(org_id)
assert(me.id == org_id and me.name ~= "")

local suffix = tostring(os.time()) .. tostring(math.random(1e6))
local other = cloud.create_organization("org-" .. suffix)
assert(other.id ~= org_id and other.name == "org-" .. suffix)
assert(cloud.get_organization(other.id).name == other.name)
local ids = {}
for _, o in ipairs(cloud.list_organizations()) do ids[o.id] = true end
assert(ids[org_id] and ids[other.id], "both organizations are listed")

local ok, err = pcall(cloud.create_organization, "")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
ok, err = pcall(cloud.get_organization, "no-such-org")
assert(not ok and err.code == "NOT_FOUND" and err.method == "get_organization", tostring(err))

assert(cloud.get_organization_namespace_availability("ns-" .. suffix) == true)
ok, err = pcall(cloud.get_organization_namespace_availability, "Bad_NS")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

-- Members and invites: a tuple, like Python's `members, invites = ...`.
local members, invites = cloud.list_organization_members()
assert(type(members) == "table" and type(invites) == "table")
local admin
for _, m in ipairs(members) do
  for _, e in ipairs(m.emails) do if e:find("admin@localhost", 1, true) then admin = m end end
end
assert(admin and admin.user_id ~= "", "the admin is a member")
local by_user = cloud.list_organizations_by_user(admin.user_id)
local found = false
for _, o in ipairs(by_user) do found = found or o.org_id == org_id end
assert(found, "list_organizations_by_user names the org")

local email = "invitee-" .. suffix .. "@example.com"
local invite = cloud.create_organization_invite(email)
assert(invite.email == email and invite.organization_id == org_id)
assert(#invite.authorizations == 1 and invite.authorizations[1].resource_type == "organization")
local _, invites2 = cloud.list_organization_members{ org_id = org_id }
assert(#invites2 == #invites + 1)

local loc = cloud.create_location("invite-" .. suffix)
local updated = cloud.update_organization_invite_authorizations{ email = email, add_authorizations = {
  { authorization_type = "role", authorization_id = "location_operator", resource_type = "location",
    resource_id = loc.id, identity_id = "", organization_id = org_id } } }
assert(#updated.authorizations == 2)
assert(cloud.resend_organization_invite(email).email == email)
cloud.delete_organization_invite(email)
ok, err = pcall(cloud.resend_organization_invite, email)
assert(not ok and err.code == "NOT_FOUND", tostring(err))

-- A second member cannot join a local fleet without accepting an invite: the error path.
ok, err = pcall(cloud.delete_organization_member, "no-such-user")
assert(not ok and err.code == "NOT_FOUND" and err.method == "delete_organization_member", tostring(err))

-- Rover rentals: robots in a location named "Rover Rentals" of the given org.
local rentals = cloud.create_location{ name = "Rover Rentals", org_id = other.id }
local rover = cloud.new_robot("rover-" .. suffix, rentals.id)
local rovers = cloud.get_rover_rental_robots{ org_id = other.id }
assert(#rovers == 1 and rovers[1].robot_id == rover and rovers[1].location_id == rentals.id)
assert(#cloud.get_rover_rental_robots() == 0, "none in the default org")
print("orgs ok")
