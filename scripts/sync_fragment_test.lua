-- Tests of sync_fragment.lua, run by `fleetsh test scripts`.

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

test("updates a fragment only when the file differs", function(t)
  local frag = cloud.create_fragment("base", { a = 1 })
  local file = t.dir .. "/base.json"
  write(file, '{"a": 2, "list": [1, 2]}')
  local args = { fragment = frag.id, file = file }
  local dry = t.run("sync_fragment.lua", args, { dry_run = true })
  t.eq(dry.code, 7, dry.stderr)
  t.matches(dry.stdout, "update planned %(none sent%)")
  t.eq(cloud.get_fragment(frag.id).fragment, { a = 1 })
  local r = t.run("sync_fragment.lua", args)
  t.eq(r.code, 0, r.stderr)
  t.eq(cloud.get_fragment(frag.id).fragment, { a = 2, list = { 1, 2 } })
  local again = t.run("sync_fragment.lua", args)
  t.matches(again.stdout, "is up to date")
  t.eq(#again.audit, 0, "no change sent")
end)
