-- A deliberately failing test file, kept out of the default paths: tests/it/fleetsh_test.rs
-- runs it to show what a failure looks like (the diff, the file and the line).

test("passes", function(t) t.eq(1 + 1, 2) end)

test("tables differ", function(t)
  local loc = cloud.create_location("lab")
  t.eq({ name = loc.name, robots = #cloud.list_robots(loc.id), tags = { "a", "b" } },
    { name = "lab", robots = 1, tags = { "a", "c" } })
end)

test("raises outside an assertion", function(t)
  cloud.get_robot("no-such-robot")
end)

test("not yet", function(t) t.skip("waiting for the fleet clock") end)
