-- tail_errors.lua: follows the error logs of every part in a location at once, one line per entry:
-- "machine/part time level logger message". Runs until stopped (Ctrl-C, or --timeout, which
-- exits 5 by design).
--
-- Arguments (key=value): location=ID       (default: the credentials' location)
--                        match=GLOB        only parts or machines with matching names
--                        errors_only=false all levels instead of errors only
--                        webhook=URL       also POST each entry there as JSON (machine, part, time,
--                                          level, logger, message); a failed post is logged, not fatal
-- Example cron line (hourly error capture, each run follows for 59 minutes):
--   0 * * * * fleetsh --quiet --timeout 59m run /opt/fleetsh/scripts/tail_errors.lua >> /var/log/fleet-errors.log; [ $? -eq 5 ]
local common = require("common")
local opt = common.args("usage: tail_errors.lua [location=ID] [match=GLOB] [errors_only=false] [webhook=URL]",
  { location = "", match = "", errors_only = true, webhook = "" })
local matches = common.glob(opt.match)

local targets = {}
for _, r in ipairs(cloud.list_robots(opt.location ~= "" and opt.location or nil)) do
  for _, p in ipairs(cloud.get_robot_parts(r.id)) do
    if matches(p.name) or matches(r.name) then targets[#targets + 1] = { robot = r, part = p } end
  end
end
if #targets == 0 then
  log.warn("tail_errors: no parts to follow")
  return
end
log.info(string.format("tail_errors: following %d part(s)", #targets))

local _, errors = cloud.parallel(targets, function(t)
  local prefix = t.robot.name .. "/" .. t.part.name
  for e in cloud.tail_robot_part_logs { robot_part_id = t.part.id, errors_only = opt.errors_only } do
    io.write(string.format("%s %s %s %s %s\n", prefix, e.time or "", e.level or "", e.logger_name or "",
      e.message or ""))
    io.stdout:flush()
    if opt.webhook ~= "" then
      local ok, r = pcall(http.post_json, opt.webhook, { machine = t.robot.name, part = t.part.name,
        time = e.time, level = e.level, logger = e.logger_name, message = e.message })
      if not ok or not r.ok then log.warn("tail_errors: webhook:", ok and ("HTTP " .. r.status) or tostring(r)) end
    end
  end
end, { concurrency = #targets })
for _, e in ipairs(errors) do
  log.error(string.format("%s/%s: %s", e.item.robot.name, e.item.part.name, tostring(e.error)))
end
if #errors > 0 then os.exit(#errors == #targets and 1 or 6) end
