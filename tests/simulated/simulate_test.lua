-- fleet.simulate: simulated parts in the test's fleet (run by tests/it/simulate.rs).

local kept -- a handle kept past its test, to show the simulation ended with it

test("machines by name and by seeded id, each with a handle", function(t)
  local ids = fleet.seed { machines = { { name = "seeded", parts = { { name = "arm" } } } } }
  local sims = fleet.simulate {
    { name = "fresh", version = "0.62.0", logs = { rate = "20/s", levels = { error = 1 } } },
    { id = ids.machines.seeded },
  }
  t.eq(sims[1], sims.fresh)
  t.eq(sims.seeded.machine_id, ids.machines.seeded)
  t.eq(sims.seeded.part_id, ids.parts.seeded, "the main part by default")
  local arm = fleet.simulate { { name = "seeded", part = "arm" } }.seeded
  t.eq(arm.part_id, ids.parts["seeded/arm"], "a part by name")
  t.eq(arm.part, "arm")
  arm:wait("online")
  local s = sims.fresh:wait("online")
  t.eq(s.state, "online")
  t.ok(s.live)
  sims.fresh:wait(function(st) return st.logs_sent >= 3 end, "3s")
  local errors = cloud.get_robot_part_logs { robot_part_id = sims.fresh.part_id, log_levels = { "error" }, num_log_entries = 0 }
  t.ok(#errors >= 3, "errors stored: " .. #errors)
  local summaries = cloud.list_machine_summaries()
  local seen = {}
  for _, l in ipairs(summaries) do
    for _, m in ipairs(l.machine_summaries) do seen[m.machine_name] = m.part_summaries[1] end
  end
  t.eq(seen.fresh.online_state, "ONLINE_STATE_ONLINE")
  t.eq(seen.fresh.viam_server_version.major, "0.62.0")
  sims.seeded:stop()
  t.eq(sims.seeded:wait("stopped").state, "stopped")
  kept = sims.fresh
end)

test("a simulation ends with its test", function(t)
  t.eq(kept:status().state, "stopped")
end)

test("the fleet clock moves offline windows", function(t)
  local h = fleet.simulate { { name = "flaky", offline = { every = "10m", lasting = "5m" } } }.flaky
  h:wait("online")
  fleet.clock.advance("6m")
  h:wait("offline")
  fleet.clock.advance("5m")
  t.ok(h:wait("online").live)
end)

test("mistakes are named", function(t)
  t.raises("unknown field `rat`", fleet.simulate, { { name = "x", logs = { rat = 1 } } })
  t.raises("not a state", function() fleet.simulate { { name = "y" } }.y:wait("asleep") end)
  local h = fleet.simulate { { name = "z", offline = { { at = "0s", lasting = "1h" } } } }.z
  t.raises("simulated machine z: not online after 200ms (state offline", h.wait, h, "online", "200ms")
end)

test("a part calls as itself (its own secret), and retries a refused call", function(t)
  local h = fleet.simulate { { name = "p" } }.p
  h:wait("online")
  fleet.fault { method = "Config", principal = h.part_id, code = "UNAVAILABLE", times = 1 }
  fleet.clock.advance("1s") -- an online part calls in at once after the clock moves
  local s = h:wait(function(st) return st.last_error ~= nil end)
  t.matches(s.last_error, "fault injected")
  t.ok(h:wait("online").live, "back after the retry")
end)

test("a part's readings arrive in its data, as the part, and move", function(t)
  local h = fleet.simulate { { name = "weather", readings = { rate = "20/s",
    components = { { name = "temp", values = { temperature = { 20, 21, 22 } } } } } } }.weather
  h:wait(function(st) return st.readings_sent >= 6 end, "3s")
  local rows = cloud.data.tabular_data_by_filter { filter = { part_id = h.part_id, component_name = "temp" },
    sort_order = "ORDER_ASCENDING" }
  t.ok(#rows >= 6, "readings stored: " .. #rows)
  local temps = {}
  for i = 1, 6 do temps[i] = rows[i].data.readings.temperature end
  t.eq(temps, { 20, 21, 22, 20, 21, 22 })
  t.eq(rows[1].metadata.robot_name, "weather")
  local captured, _, payload = cloud.data.get_latest_tabular_data(h.part_id, "temp", "rdk:component:sensor", "Readings")
  t.ok(captured ~= nil, "a latest reading")
  t.ok(payload.readings.temperature >= 20)
end)
