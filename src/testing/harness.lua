-- `fleetsh test`'s Lua side: `test`, `before_each`, `after_each` and the assertions of `t`.
-- Loaded into each test file's state before the file; the Rust side (src/testing/file.rs)
-- runs what the file registered, one test at a time, each against a fleet of its own.
local registry = ...

-- The calls a test made, for `t.calls()` in failure messages: every call goes through `_call`.
local calls = {}
do
  local raw_call = cloud._call
  cloud._call = function(method, args, name, labels, opts)
    local ok, text = pcall(json.encode, args)
    calls[#calls + 1] = (name or method) .. " " .. (ok and text or "{...}")
    return raw_call(method, args, name, labels, opts)
  end
end
function registry.calls() return table.concat(calls, "\n") end

-- `file:line` of the innermost frame of the test file's own code (registry.user_position is
-- Rust's: the debug library is not loaded in fleetsh's states).
local function where() return registry.user_position() or "?" end

-- An assertion failure: a table the runner recognises, with the position of the assertion.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.where .. ": " .. f.message end
local function fail(message) error(setmetatable({ message = message, where = where() }, Failure), 0) end

function registry.is_failure(v) return getmetatable(v) == Failure end

-- A readable rendering of a value: sorted keys, nested tables indented.
local function render(v, indent, seen)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  seen = seen or {}
  if seen[v] then return "<cycle>" end
  seen[v] = true
  indent = indent or ""
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  if #keys == 0 then return "{}" end
  local inner, out = indent .. "  ", {}
  for _, k in ipairs(keys) do
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or ("[" .. render(k) .. "]")
    out[#out + 1] = inner .. key .. " = " .. render(v[k], inner, seen)
  end
  seen[v] = nil
  return "{\n" .. table.concat(out, ",\n") .. "\n" .. indent .. "}"
end

-- The paths where two values differ: `path: expected X, got Y`, at most 20 of them.
local function diff(want, got, path, out)
  if #out >= 20 then return end
  if type(want) == "table" and type(got) == "table" then
    local keys = {}
    for k in pairs(want) do keys[k] = true end
    for k in pairs(got) do keys[k] = true end
    local sorted = {}
    for k in pairs(keys) do sorted[#sorted + 1] = k end
    table.sort(sorted, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(sorted) do
      local sub = type(k) == "number" and string.format("%s[%d]", path, k) or (path == "" and tostring(k) or path .. "." .. tostring(k))
      diff(want[k], got[k], sub, out)
    end
  elseif want ~= got and not (math.type(want) and math.type(got) and want == got) then
    out[#out + 1] = string.format("  %s: expected %s, got %s", path == "" and "value" or path,
      want == nil and "nothing" or render(want, "  "), got == nil and "nothing" or render(got, "  "))
  end
end

local function equal(a, b)
  local out = {}
  diff(a, b, "", out)
  return #out == 0, out
end

local function new_t(test)
  calls = {}
  local t = {}
  function t.eq(got, want, what)
    local same, lines = equal(want, got)
    if not same then
      fail((what and (what .. ": ") or "") .. "values differ\n" .. table.concat(lines, "\n"))
    end
  end
  function t.ok(v, what)
    if not v then fail(what or ("expected a true value, got " .. render(v))) end
    return v
  end
  function t.matches(s, pattern, what)
    if type(s) ~= "string" or not s:find(pattern) then
      fail(string.format("%s%s does not match %q", what and (what .. ": ") or "", render(s), pattern))
    end
  end
  -- t.raises("NOT_FOUND", fn, ...): fn must raise a cloud error with that code (or, for a
  -- plain error, a message containing it); returns the error.
  function t.raises(code, fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then fail("expected an error " .. tostring(code) .. ", but the call succeeded") end
    if registry.is_failure(err) then error(err, 0) end
    -- A cloud error has a code; Rust's own errors (userdata too) have none and refuse the index.
    local got
    if type(err) == "table" then
      got = err.code
    elseif type(err) == "userdata" then
      local has, c = pcall(function() return err.code end)
      got = has and c or nil
    end
    if code ~= nil and got ~= code and not (got == nil and tostring(err):find(code, 1, true)) then
      fail(string.format("expected an error %s, got %s", code, tostring(err)))
    end
    return err
  end
  -- t.run("scripts/x.lua", {key = value}, {dry_run = true}): the chore as cron runs it, against
  -- this test's fleet: {code, stdout, stderr, plan, audit}.
  function t.run(script, args, opts) return registry.run_chore(script, args, opts) end
  function t.skip(why) error(setmetatable({ skip = true, message = why or "" }, Failure), 0) end
  -- The calls made so far in this test, as `method {args}` lines (for failure messages).
  function t.calls() return registry.calls() end
  t.name = test.name
  -- This test's own temp directory (gone with the test): for files a chore writes.
  t.dir = registry.test_dir()
  return t
end

function registry.new_t(test) return new_t(test) end

function test(name, fn)
  if type(name) ~= "string" or type(fn) ~= "function" then
    error("test(name, function(t) ... end) takes a name and a function", 2)
  end
  registry.tests[#registry.tests + 1] = { name = name, fn = fn, where = where() }
end

-- `fleetsh test --seed FILE`: the file's fleet in every test's fleet, its ids in `t.ids`.
function registry.seed_step(t) t.ids = fleet.seed(registry.seed) end

function before_each(fn) registry.before[#registry.before + 1] = fn end
function after_each(fn) registry.after[#registry.after + 1] = fn end

local function handler(e)
  if registry.is_failure(e) then return e end
  -- Errors from fleetsh's Rust side print as "runtime error: ..." plus a traceback: the
  -- message is the first line.
  local text = tostring(e):gsub("^runtime error: ", ""):match("^[^\n]*")
  if type(e) ~= "string" then
    local at = registry.user_position()
    if at then text = at .. ": " .. text end
  end
  return { message = text }
end

-- Runs fn(t): "pass", or "skip"/"fail" and the message (a failure's starts with file:line).
function registry.run(fn, t)
  local ok, e = xpcall(fn, handler, t)
  if ok then return "pass" end
  if registry.is_failure(e) then
    if e.skip then return "skip", e.message end
    return "fail", e.where .. ": " .. e.message
  end
  return "fail", e.message
end
