-- Tests of cleanup_locations.lua, run by `fleetsh test scripts` (each test on a fresh fleet).

local function names()
  local out = {}
  for _, l in ipairs(cloud.list_locations()) do out[#out + 1] = l.name end
  table.sort(out)
  return out
end

before_each(function(t)
  cloud.create_location("tmp-a")
  local b = cloud.create_location("tmp-b")
  cloud.create_location("tmp-c", b.id)
  local d = cloud.create_location("tmp-d")
  cloud.new_robot("busy", d.id)
  cloud.create_location("keep")
end)

test("a dry run plans the empty matching trees and changes nothing", function(t)
  local before = names()
  local r = t.run("cleanup_locations.lua", { match = "tmp-*" }, { dry_run = true })
  t.eq(r.code, 7, "exit code")
  t.eq(#r.plan, 3, "planned deletions")
  t.matches(r.stdout, "3 planned for deletion %(none sent%)")
  t.eq(names(), before)
end)

test("a real run deletes them, deepest first, and keeps busy and unmatched ones", function(t)
  local r = t.run("cleanup_locations.lua", { match = "tmp-*" })
  t.eq(r.code, 0, r.stderr)
  t.eq(names(), { "Main", "keep", "tmp-d" })
  t.eq(#r.audit, 3)
  for _, line in ipairs(r.audit) do t.eq(line.outcome, "ok") end
end)

test("a pattern is required", function(t)
  local r = t.run("cleanup_locations.lua")
  t.eq(r.code, 2)
  t.matches(r.stderr, "match= is required")
end)

test("a delete the cloud refuses is reported, and a re-run finishes the job", function(t)
  fleet.fault { method = "DeleteLocation", code = "UNAVAILABLE", times = 1 }
  local r = t.run("cleanup_locations.lua", { match = "tmp-*" })
  t.eq(r.code, 6, r.stderr)
  t.matches(r.stderr, "UNAVAILABLE")
  local again = t.run("cleanup_locations.lua", { match = "tmp-*" })
  t.eq(again.code, 0, again.stderr)
  t.eq(names(), { "Main", "keep", "tmp-d" })
end)
