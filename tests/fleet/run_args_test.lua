-- t.run(script, args): the words a chore gets are those its command line would give
-- (run by tests/it/fleetsh_test.rs).
test("named arguments become key=value words, a list repeats its key", function(t)
  local r = t.run("chores/print_args.lua", { "first", "second", days = 90, dry = true,
    location = { "lab", "bench", "lab" }, name = "rover-*" })
  t.eq(r.code, 0, r.stderr)
  t.eq(r.stdout, "first\nsecond\ndays=90\ndry=true\nlocation=lab\nlocation=bench\nlocation=lab\nname=rover-*\n")
  local none = t.run("chores/print_args.lua", { tag = {} })
  t.eq(none.stdout, "", "an empty list gives no word")
end)

test("a value that is no word is refused, naming the argument", function(t)
  t.raises("t.run: argument location: a list", t.run, "chores/print_args.lua", { location = { a = 1 } })
  t.raises("t.run: argument location: a string, number, boolean or a list of them, not a table", t.run,
    "chores/print_args.lua", { location = { { "nested" } } })
end)

test("a shipped chore takes a list where its usage says NAME...", function(t)
  local ids = fleet.seed { locations = { { name = "lab", machines = { { name = "a" } } },
    { name = "bench", machines = { { name = "b" } } }, { name = "depot", machines = { { name = "c" } } } } }
  local r = t.run("../../scripts/fleet_status.lua", { format = "json", location = { ids.locations.lab, ids.locations.bench } })
  t.eq(r.code, 0, r.stderr)
  local names = {}
  for _, m in ipairs(json.decode(r.stdout).machines) do names[#names + 1] = m.machine end
  table.sort(names)
  t.eq(names, { "a", "b" }, r.stdout)
end)
