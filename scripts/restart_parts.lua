-- restart_parts.lua: marks every part of a location for restart (or only those whose part or
-- machine name matches a glob), concurrently, then prints a summary.
--
-- Arguments (key=value): location=ID    the location (default: the credentials' location)
--                        match=GLOB     part or machine name, e.g. "arm-*" (default: all)
--                        concurrency=N  calls at a time (default 16)
-- Exit: 0 all marked, 6 some failed, 1 all failed, 7 with --dry-run when parts would restart.
-- Example cron line (nightly):
--   30 2 * * * fleetsh --quiet --lock /run/lock/fleetsh-restart run /opt/fleetsh/scripts/restart_parts.lua location=LOC match='cam-*'
local common = require("common")
local opt = common.args("usage: restart_parts.lua [location=ID] [match=GLOB] [concurrency=N]",
  { location = "", match = "", concurrency = 16 })
local matches = common.glob(opt.match)
local location = opt.location ~= "" and opt.location or nil

local robots = cloud.list_robots(location)
local parts_of = cloud.parallel(robots, function(r) return cloud.get_robot_parts(r.id) end,
  { concurrency = opt.concurrency })
local targets = {}
for i, r in ipairs(robots) do
  for _, p in ipairs(parts_of[i] or {}) do
    if matches(p.name) or matches(r.name) then targets[#targets + 1] = { robot = r, part = p } end
  end
end

local _, errors = cloud.parallel(targets, function(t) cloud.mark_part_for_restart(t.part.id) end,
  { concurrency = opt.concurrency })
for _, e in ipairs(errors) do
  log.error(string.format("%s/%s: %s", e.item.robot.name, e.item.part.name, tostring(e.error)))
end
print(string.format("restart_parts: %d of %d part(s) %s, %d failed",
  #targets - #errors, #targets,
  cloud.is_dry_run() and "planned for restart (none sent)" or "marked for restart", #errors))
if #errors > 0 then os.exit(#errors == #targets and 1 or 6) end
