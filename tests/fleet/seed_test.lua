-- fleet.seed: a fleet described as data, ids returned by name (run by tests/it/fleetsh_test.rs).
test("a fleet described as data", function(t)
  local ids = fleet.seed {
    fragments = { { name = "base", config = { modules = {} } } },
    locations = { { name = "lab", locations = { { name = "bench" } },
      machines = { { name = "rover-1", config = { components = {} }, parts = { { name = "arm" } },
        logs = { { level = "error", message = "boom" } }, metadata = { team = "a" } } } } },
    machines = { { name = "loose" } },
    keys = { { name = "ci", roles = { { role = "operator", location = "lab" } } } },
  }
  t.eq(cloud.get_robot(ids.machines["rover-1"]).location, ids.locations.lab)
  t.eq(cloud.get_location(ids.locations.bench).parent_location_id, ids.locations.lab)
  t.eq(#cloud.get_robot_parts(ids.machines["rover-1"]), 2)
  t.eq(cloud.get_robot_part_logs(ids.parts["rover-1"])[1].message, "boom")
  t.eq(cloud.get_robot_metadata(ids.machines["rover-1"]), { team = "a" })
  t.ok(cloud.check_key(ids.keys.ci.id, ids.keys.ci.key))
  t.eq(cloud.get_fragment(ids.fragments.base).name, "base")
  t.eq(cloud.get_robot(ids.machines.loose).location, ids.locations.Main)
end)
