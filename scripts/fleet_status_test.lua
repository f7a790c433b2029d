-- Tests of fleet_status.lua, run by `fleetsh test scripts` (offline durations and the webhook:
-- tests/it/scripts.rs, which can set when a part was last seen).

before_each(function(t)
  local part = cloud.get_robot_parts(cloud.new_robot("seen"))[1].id
  cloud.robot.config { id = part, agent_info = { host = "h", os = "linux", version = "0.51.2", platform = "linux/amd64" } }
  cloud.new_robot("new")
end)

test("lists every machine with its state and version, by location", function(t)
  local r = t.run("fleet_status.lua", { format = "json" })
  t.eq(r.code, 0, r.stderr)
  local by = {}
  for _, m in ipairs(json.decode(r.stdout).machines) do by[m.machine] = m end
  t.eq(by.seen.state, "online")
  t.eq(by.seen.version, "0.51.2")
  t.eq(by.seen.location, "Main")
  t.eq(by.new.state, "never seen")
end)

test("offline_only leaves the online ones out", function(t)
  local r = t.run("fleet_status.lua", { offline_only = "true" })
  t.eq(r.code, 0, r.stderr)
  t.ok(not r.stdout:find("\n  seen ", 1, true), r.stdout)
  t.matches(r.stdout, "1 machine%(s%) listed, 1 not online")
end)

test("an unknown format is a usage error", function(t)
  t.eq(t.run("fleet_status.lua", { format = "xml" }).code, 2)
end)

test("a machine last seen before the clock moved two hours is offline for two hours", function(t)
  fleet.clock.advance("2h")
  local r = t.run("fleet_status.lua", {})
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "seen%s+offline for 2h")
end)

-- Against simulated machines: they report through the part RPCs, and an offline window (on the
-- fleet's clock) makes one offline while the other keeps calling in.
test("simulated machines: the one in its offline window is listed offline, with versions", function(t)
  local sims = fleet.simulate {
    { name = "rover-a", version = "0.60.1", platform = "linux/arm64" },
    { name = "rover-b", version = "0.59.0", offline = { every = "1h", lasting = "30m" } },
  }
  sims["rover-a"]:wait("online")
  sims["rover-b"]:wait("online")
  fleet.clock.advance("40m") -- rover-b in its window; rover-a calls in again at once
  sims["rover-b"]:wait("offline")
  sims["rover-a"]:wait("online")
  local r = t.run("fleet_status.lua", { format = "json" })
  t.eq(r.code, 0, r.stderr)
  local by = {}
  for _, m in ipairs(json.decode(r.stdout).machines) do by[m.machine] = m end
  t.eq(by["rover-a"].state, "online")
  t.eq(by["rover-a"].version, "0.60.1")
  t.eq(by["rover-a"].platform, "linux/arm64")
  t.eq(by["rover-b"].state, "offline")
  t.eq(by["rover-b"].version, "0.59.0", "what it reported before going offline")
  t.ok(by["rover-b"].offline_seconds >= 40 * 60, "offline since the advance: " .. tostring(by["rover-b"].offline_seconds))
  fleet.clock.advance("25m") -- past its window: back
  sims["rover-b"]:wait("online")
  r = t.run("fleet_status.lua", { offline_only = "true" })
  t.ok(not r.stdout:find("rover-", 1, true), r.stdout)
end)
