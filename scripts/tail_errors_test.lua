-- Tests of tail_errors.lua, run by `fleetsh test scripts`: the chore follows while the test
-- logs, both in one cloud.parallel (t.run waits without blocking the other coroutine).

local function entry(level, message)
  return { level = level, message = message, time = time.format(), host = "h", logger_name = "rdk",
    caller = {}, fields = {} }
end

test("follows the errors of every part until its --timeout", function(t)
  local parts = {}
  for _, name in ipairs({ "m1", "m2" }) do
    parts[name] = cloud.get_robot_parts(cloud.new_robot(name))[1].id
  end
  local results = cloud.parallel({ "tail", "log" }, function(job)
    if job == "tail" then return t.run("tail_errors.lua", {}, { timeout = "5s" }) end
    -- Log every half second: whenever the chore's tails open (a loaded machine starts them
    -- late), entries keep arriving after that.
    for _ = 1, 8 do
      sleep(0.5)
      for name, id in pairs(parts) do
        cloud.robot.log { id = id, logs = { entry("error", "boom on " .. name), entry("info", "calm") } }
      end
    end
  end, { concurrency = 2 })
  local r = results[1]
  t.eq(r.code, 5, r.stderr) -- stopped by --timeout, as in the cron example
  t.matches(r.stdout, "m1/[%w-]+ %S+ error rdk boom on m1")
  t.matches(r.stdout, "m2/[%w-]+ %S+ error rdk boom on m2")
  t.ok(not r.stdout:find("calm"), "errors only by default")
end)

test("no parts to follow is a warning, not a failure", function(t)
  local r = t.run("tail_errors.lua", { match = "nothing-*" })
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stderr, "no parts to follow")
end)

-- Against simulated machines logging on their own (through the part's Log RPC): the chore
-- follows each part's errors as they arrive, and only errors.
test("simulated machines: follows the errors each part logs as it runs", function(t)
  local sims = fleet.simulate {
    { name = "sim-1", logs = { rate = "10/s", levels = { info = 3, error = 1 }, messages = { error = "stalled on sim-1" } } },
    { name = "sim-2", logs = { rate = "10/s", levels = { info = 3, error = 1 }, messages = { error = "stalled on sim-2" } } },
  }
  for _, h in ipairs(sims) do h:wait("online") end
  local r = t.run("tail_errors.lua", { match = "sim-*" }, { timeout = "3s" })
  t.eq(r.code, 5, r.stderr)
  t.matches(r.stdout, "sim%-1/[%w-]+ %S+ error rdk%.sim stalled on sim%-1")
  t.matches(r.stdout, "sim%-2/[%w-]+ %S+ error rdk%.sim stalled on sim%-2")
  t.ok(not r.stdout:find(" info ", 1, true), "errors only by default")
  t.ok(sims["sim-1"]:status().by_level.error > 0)
end)
