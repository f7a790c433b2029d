-- Run with `fleetsh test --seed tests/seeded/lab.seed.json tests/seeded` (or lab.seed.lua):
-- each test's fleet already holds the seed's fleet, its ids in t.ids.

test("the seeded machines are there, by name", function(t)
  t.eq(#cloud.list_robots(t.ids.locations.lab), 2)
  t.eq(cloud.get_robot(t.ids.machines["rover-1"]).name, "rover-1")
  t.ok(cloud.check_key(t.ids.keys.ci.id, t.ids.keys.ci.key))
end)

test("each test gets the seed afresh", function(t)
  cloud.delete_robot(t.ids.machines["rover-2"])
  t.eq(#cloud.list_robots(t.ids.locations.lab), 1)
end)

test("and is not affected by the test before", function(t)
  t.eq(#cloud.list_robots(t.ids.locations.lab), 2)
end)

test("the seed's logs, readings, invite, fragment revisions and metadata", function(t)
  local rover = t.ids.parts["rover-1"]
  t.eq(cloud.get_robot_part_logs(rover)[1].message, "motor stalled")
  local _, _, latest = cloud.data.get_latest_tabular_data(rover, "temp", "rdk:component:sensor", "Readings")
  t.eq(latest.readings.celsius, 21.5)
  local _, invites = cloud.list_organization_members()
  t.eq(invites[1].email, "ana@example.com")
  t.eq(#cloud.get_fragment_history(t.ids.fragments.base), 2)
  t.eq(cloud.get_fragment(t.ids.fragments.base).fragment.components[1].name, "cam")
  t.eq(cloud.get_organization_metadata(), { team = "robotics" })
end)

test("the seed's member, with its role", function(t)
  local bo = t.ids.members["bo@example.com"]
  local members = cloud.list_organization_members()
  local emails = {}
  for _, m in ipairs(members) do emails[m.user_id] = m.emails[1] end
  t.eq(emails[bo], "bo@example.com")
  t.eq(cloud.get_user_id_by_email("bo@example.com"), bo)
  local held = {}
  for _, a in ipairs(cloud.list_authorizations()) do
    if a.identity_id == bo then held[#held + 1] = a.authorization_id .. " " .. a.resource_id end
  end
  t.eq(held, { "robot_operator " .. t.ids.machines["rover-1"] })
end)
