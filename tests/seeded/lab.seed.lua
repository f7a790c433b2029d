-- The same fleet as lab.seed.json, as a Lua table (`fleetsh test --seed FILE` takes either).
return {
  locations = { { name = "lab", machines = { { name = "rover-1" }, { name = "rover-2" } } } },
  keys = { { name = "ci", roles = { { role = "operator", location = "lab" } } } },
}
