-- Tests of restart_parts.lua, run by `fleetsh test scripts`.

before_each(function(t)
  for _, n in ipairs({ "cam-1", "cam-2", "arm-1" }) do cloud.new_robot(n) end
end)


test("a dry run plans one restart per matching part and sends none", function(t)
  local r = t.run("restart_parts.lua", { match = "cam-*" }, { dry_run = true })
  t.eq(r.code, 7, r.stderr)
  t.eq(#r.plan, 2)
  for _, p in ipairs(r.plan) do t.eq(p.rpc, "MarkPartForRestart") end
  t.matches(r.stdout, "2 of 2 part%(s%) planned for restart %(none sent%)")
end)

test("a real run marks the matching parts only", function(t)
  local r = t.run("restart_parts.lua", { match = "cam-*" })
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "2 of 2 part%(s%) marked for restart, 0 failed")
  local marked = {}
  for _, a in ipairs(r.audit) do marked[#marked + 1] = a.outcome end
  t.eq(marked, { "ok", "ok" })
end)

test("a restart the cloud refuses is a partial failure: exit 6, the rest marked", function(t)
  fleet.fault { method = "MarkPartForRestart", code = "UNAVAILABLE", times = 1 }
  local r = t.run("restart_parts.lua", { match = "cam-*" })
  t.eq(r.code, 6, r.stderr)
  t.matches(r.stdout, "1 of 2 part%(s%) marked for restart, 1 failed")
  t.matches(r.stderr, "UNAVAILABLE: fault injected by the test")
end)
