-- The same fleet as lab.seed.json, as a Lua table (`fleetsh test --seed FILE` takes either).
return {
  fragments = { { name = "base", config = { modules = {} }, revisions = { { components = { { name = "cam" } } } } } },
  locations = { { name = "lab", machines = {
    { name = "rover-1", logs = { { level = "error", message = "motor stalled" } },
      readings = { { component = "temp", every = "1m", values = { { celsius = 20 }, { celsius = 21.5 } } } } },
    { name = "rover-2" },
  } } },
  keys = { { name = "ci", roles = { { role = "operator", location = "lab" } } } },
  invites = { { email = "ana@example.com", roles = { { role = "operator", location = "lab" } } } },
  members = { { email = "bo@example.com", roles = { { role = "operator", machine = "rover-1" } } } },
  metadata = { team = "robotics" },
}
