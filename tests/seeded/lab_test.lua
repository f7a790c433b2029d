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
