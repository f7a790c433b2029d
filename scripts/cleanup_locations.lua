-- cleanup_locations.lua: deletes empty locations (no machines, no remaining sub-locations) whose
-- name matches a glob, deepest first, so a tree of empty locations goes in one run. Try it with
-- --dry-run first: the plan lists every location it would delete.
--
-- Arguments (key=value): match=GLOB  location names to consider, e.g. "test-*" (required)
-- Exit: 0 done, 6 some deletions failed, 7 with --dry-run when locations would be deleted.
-- Example cron line (weekly):
--   0 4 * * 0 fleetsh --quiet --audit /var/log/fleetsh.jsonl run /opt/fleetsh/scripts/cleanup_locations.lua match='ci-*'
local common = require("common")
local opt = common.args("usage: cleanup_locations.lua match=GLOB", { match = "" })
if opt.match == "" then common.usage("match= is required (use match='*' to consider all)") end
local matches = common.glob(opt.match)

local locations = cloud.list_locations()
local children = {}
for _, l in ipairs(locations) do
  local p = l.parent_location_id or ""
  children[p] = children[p] or {}
  table.insert(children[p], l)
end

local deleted, failed = {}, 0
-- Post-order: a parent is empty only if all its children went.
local function visit(l)
  local all_gone = true
  for _, c in ipairs(children[l.id] or {}) do
    if not visit(c) then all_gone = false end
  end
  if not (all_gone and matches(l.name)) then return false end
  if #cloud.list_robots(l.id) > 0 then return false end
  local ok, err = pcall(cloud.delete_location, l.id)
  if not ok then
    failed = failed + 1
    log.error("deleting", l.name, l.id, "failed:", err)
    return false
  end
  deleted[#deleted + 1] = l.name
  return true
end
for _, root in ipairs(children[""] or {}) do visit(root) end
print(string.format("cleanup_locations: %d %s%s", #deleted,
  cloud.is_dry_run() and "planned for deletion (none sent)" or "deleted",
  #deleted > 0 and (" (" .. table.concat(deleted, ", ") .. ")") or ""))
if failed > 0 then os.exit(6) end
