-- rotate_keys.lua: replaces API keys older than N days (or named ones) by new keys with the same
-- authorizations. For each old key: create the replacement (named "<name> (rotated from <old id>)"),
-- save its id and key to OUT (mode 0600, JSON keyed by the old key's id), check that it
-- authenticates, then delete the old key.
-- Safe to re-run after a failure halfway: a replacement that is saved and authenticates is reused;
-- one whose key never reached OUT is deleted and made again; the old key goes last.
-- The key this run authenticates with (VIAM_API_KEY_ID) is never rotated.
--
-- Arguments (key=value): days=N   rotate keys created N or more days ago
--                        name=NAME rotate the key(s) with this name (repeatable)
--                        out=FILE  where new keys are saved (default rotated_keys.json)
-- Exit: 0 done (or nothing to do), 6 some keys failed (the others rotated), 7 with --dry-run
-- when keys would rotate.
-- Example cron line (monthly):
--   0 3 1 * * fleetsh --quiet --lock /run/lock/fleetsh-rotate --audit /var/log/fleetsh.jsonl run /opt/fleetsh/scripts/rotate_keys.lua days=90 out=/etc/fleetsh/keys.json
local common = require("common")
local opt = common.args("usage: rotate_keys.lua days=N | name=NAME... [out=FILE]",
  { days = -1, name = {}, out = "rotated_keys.json" })
if opt.days < 0 and #opt.name == 0 then common.usage("give days=N or name=NAME") end

local saved = {}
local text = common.read(opt.out)
if text and text ~= "" then saved = json.decode(text) end
local function save() write_private(opt.out, json.encode(saved, { indent = true })) end

local keys = cloud.list_keys()
local by_id, by_name = {}, {}
for _, k in ipairs(keys) do
  by_id[k.api_key.id] = k
  by_name[k.api_key.name] = k
end
local wanted = {}
for _, n in ipairs(opt.name) do wanted[n] = true end
local self_id, now = env("VIAM_API_KEY_ID"), time.now()
local max_age = opt.days >= 0 and time.duration(opt.days .. "d") or nil

local function base_name(name) return (name:gsub(" %(rotated from [^)]*%)$", "")) end

local function selected(k)
  local key = k.api_key
  if key.id == self_id then return false end
  -- A replacement whose old key still exists belongs to a rotation under way.
  local of = key.name:match("%(rotated from ([^)]*)%)$")
  if of and by_id[of] then return false end
  if wanted[key.name] then return true end
  local created = (key.created_on or "") ~= "" and time.parse(key.created_on) or nil
  return max_age ~= nil and created ~= nil and now - created >= max_age
end

local function rotate(k)
  local old = k.api_key
  local name = base_name(old.name) .. " (rotated from " .. old.id .. ")"
  local entry, existing = saved[old.id], by_name[name]
  if existing then
    local usable = entry and entry.id == existing.api_key.id and cloud.check_key(entry.id, entry.key)
    if not usable then
      log.warn("replacement", existing.api_key.id, "of", old.id, "was never saved; replacing it")
      cloud.delete_key(existing.api_key.id)
      existing = nil
    end
  end
  if not existing then
    local auths = {}
    for _, a in ipairs(k.authorizations) do
      auths[#auths + 1] = { role = common.role(a), resource_type = a.resource_type, resource_id = a.resource_id }
    end
    local new_key, new_id = cloud.create_key(auths, name)
    if cloud.is_planned(new_id) then
      cloud.delete_key(old.id)
      return
    end
    entry = { id = new_id, key = new_key:reveal(), name = name, replaces = old.id,
      rotated_at = time.format() }
    saved[old.id] = entry
    save()
    local ok, why = cloud.check_key(new_id, new_key)
    if not ok then error("new key " .. new_id .. " does not authenticate (" .. tostring(why) .. "); old key kept", 0) end
  end
  cloud.delete_key(old.id)
  log.info("rotated", old.name, old.id, "->", entry.id)
end

local done, failed = 0, 0
for _, k in ipairs(keys) do
  if selected(k) then
    local ok, err = pcall(rotate, k)
    if ok then
      done = done + 1
    else
      failed = failed + 1
      log.error("rotating", k.api_key.name, k.api_key.id, "failed:", err)
    end
  end
end
print(string.format("rotate_keys: %d %s, %d failed", done,
  cloud.is_dry_run() and "planned for rotation (none sent)" or "rotated", failed))
if failed > 0 then os.exit(6) end
