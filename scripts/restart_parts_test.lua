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

-- Against simulated machines (the before_each's, found by name): a marked part sees the flag
-- through NeedsRestart, logs its restart and comes back; an unmarked one keeps running.
local function simulate_all()
  local spec = {}
  for i, n in ipairs({ "cam-1", "cam-2", "arm-1" }) do
    spec[i] = { name = n, restart_check = "100ms", restart_takes = "200ms" }
  end
  local sims = fleet.simulate(spec)
  for _, h in ipairs(sims) do h:wait("online") end
  return sims
end

local function restarted(h) return h:wait(function(s) return s.restarts == 1 and s.live end, "5s") end

test("simulated machines: the matching parts restart and come back, the others do not", function(t)
  local sims = simulate_all()
  local dry = t.run("restart_parts.lua", { match = "cam-*" }, { dry_run = true })
  t.eq(dry.code, 7, dry.stderr)
  local r = t.run("restart_parts.lua", { match = "cam-*" })
  t.eq(r.code, 0, r.stderr)
  restarted(sims["cam-1"])
  restarted(sims["cam-2"])
  sleep(0.3) -- three restart checks: a part that was not marked would have restarted by now
  t.eq(sims["arm-1"]:status().restarts, 0, "arm-1 was not marked (nor by the dry run)")
  local lines = {}
  for _, e in ipairs(cloud.get_robot_part_logs(sims["cam-1"].part_id)) do lines[#lines + 1] = e.message end
  t.ok(table.concat(lines, "\n"):find("restarting: the cloud marked this part for restart", 1, true),
    table.concat(lines, "\n"))
end)

test("simulated machines: under a fault, only the part the cloud marked restarts", function(t)
  local sims = simulate_all()
  fleet.fault { method = "MarkPartForRestart", code = "UNAVAILABLE", times = 1 }
  local r = t.run("restart_parts.lua", { match = "cam-*", concurrency = 1 })
  t.eq(r.code, 6, r.stderr)
  local function restarts() return sims["cam-1"]:status().restarts + sims["cam-2"]:status().restarts end
  for _ = 1, 50 do
    if restarts() > 0 then break end
    sleep(0.1)
  end
  sleep(0.3) -- three restart checks: the refused one would have restarted by now if marked
  t.eq(restarts(), 1, "one of the two was marked")
end)
