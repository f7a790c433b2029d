-- sync_fragment.lua: makes a fragment's config equal to a JSON file. Sends an update only when
-- they differ, with last_known_update, so a concurrent edit is refused instead of overwritten.
--
-- Arguments (key=value): fragment=ID  the fragment
--                        file=PATH    the JSON config it should have
-- Exit: 0 in sync (or updated), 1 on error (ABORTED: someone else edited it; run again),
-- 7 with --dry-run when an update is needed.
-- Example cron line (every 10 minutes, from a config repository):
--   */10 * * * * fleetsh --quiet --lock /run/lock/fleetsh-sync run /opt/fleetsh/scripts/sync_fragment.lua fragment=FRAG file=/srv/fleet-config/base.json
local common = require("common")
local opt = common.args("usage: sync_fragment.lua fragment=ID file=PATH", { fragment = "", file = "" })
if opt.fragment == "" or opt.file == "" then common.usage("fragment= and file= are required") end

-- Struct numbers come back as floats: compare 1 and 1.0 as equal, keys sorted by json.encode.
local function canonical(v)
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) ~= "table" then return v end
  local mt = getmetatable(v)
  local out = setmetatable({}, type(mt) == "table" and mt or nil)
  for k, x in pairs(v) do out[k] = canonical(x) end
  return out
end

local text = assert(common.read(opt.file))
local want = json.decode(text)
local frag = cloud.get_fragment(opt.fragment)
if json.encode(canonical(frag.fragment or {})) == json.encode(canonical(want)) then
  print("sync_fragment: " .. frag.name .. " is up to date")
  return
end
cloud.update_fragment { fragment_id = frag.id, name = frag.name, config = want,
  last_known_update = frag.last_updated }
print("sync_fragment: " .. frag.name .. (cloud.is_dry_run() and " update planned (none sent) from " or " updated from ")
  .. opt.file)
