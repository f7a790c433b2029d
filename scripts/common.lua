-- common.lua: shared by the scripts in this folder (found by `require` next to the script):
-- key=value arguments, name globs, reading files (times: the `time` global).
local M = {}

local usage_text = ""

function M.usage(msg)
  io.stderr:write((msg and (msg .. "\n") or ""), usage_text, "\n")
  os.exit(2)
end

-- Parses `key=value` arguments against `defaults`: a table default collects repeated keys, a
-- number or boolean default converts the value. Unknown keys are a usage error (exit 2).
function M.args(usage, defaults)
  usage_text = usage
  local o = {}
  for k, v in pairs(defaults) do o[k] = type(v) == "table" and {} or v end
  for i = 1, #arg do
    if arg[i]:match("^%-%-") then
      M.usage(arg[i] .. " is a fleetsh option: put it before the script's path (fleetsh run " .. arg[i] ..
        " SCRIPT ...)")
    end
    local k, v = arg[i]:match("^([%w_]+)=(.*)$")
    local d = k and defaults[k]
    if d == nil then M.usage("unknown argument: " .. arg[i]) end
    if type(d) == "table" then
      table.insert(o[k], v)
    elseif type(d) == "number" then
      o[k] = tonumber(v) or M.usage(k .. " must be a number")
    elseif type(d) == "boolean" then
      o[k] = (v == "true" or v == "yes" or v == "1")
    else
      o[k] = v
    end
  end
  return o
end

-- A shell-style glob (`*`, `?`) as a matcher function; nil or "" matches everything.
function M.glob(pattern)
  if pattern == nil or pattern == "" or pattern == "*" then return function() return true end end
  local p = pattern:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".")
  p = "^" .. p .. "$"
  return function(name) return name ~= nil and name:match(p) ~= nil end
end

function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

-- The role of an authorization ("location_operator" on a location -> "operator").
function M.role(a)
  return (a.authorization_id:gsub("^" .. a.resource_type .. "_", ""))
end

return M
