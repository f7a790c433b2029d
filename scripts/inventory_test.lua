-- Tests of inventory.lua, run by `fleetsh test scripts`.

before_each(function(t)
  local lab = cloud.create_location("lab")
  cloud.new_robot("rover-1", lab.id)
end)

test("json lists organizations, the location tree, machines and parts, and no secret", function(t)
  local r = t.run("inventory.lua", { format = "json" })
  t.eq(r.code, 0, r.stderr)
  local inv = json.decode(r.stdout)
  local text = r.stdout
  t.matches(text, '"rover%-1"')
  t.matches(text, '"lab"')
  t.ok(not text:find("secret"), "no secret in the inventory")
  t.eq(#inv.organizations, 1, "one entry per organization")
  t.eq(inv.organizations[1].locations[1].name ~= nil, true)
end)

test("csv has a header and one line per part", function(t)
  local out = t.dir .. "/fleet.csv"
  local r = t.run("inventory.lua", { format = "csv", out = out })
  t.eq(r.code, 0, r.stderr)
  local lines = {}
  for l in io.lines(out) do lines[#lines + 1] = l end
  t.ok(#lines >= 2, "header and rows")
  t.matches(table.concat(lines, "\n"), "rover%-1")
end)

test("an unknown format is a usage error", function(t)
  t.eq(t.run("inventory.lua", { format = "xml" }).code, 2)
end)
