-- Tests of rotate_keys.lua, run by `fleetsh test scripts`.

local function key_names()
  local out = {}
  for _, k in ipairs(cloud.list_keys()) do out[#out + 1] = k.api_key.name end
  table.sort(out)
  return out
end

before_each(function(t)
  local loc = cloud.list_locations()[1].id
  cloud.create_key({ { role = "operator", resource_type = "location", resource_id = loc } }, "ci")
end)

test("a dry run plans the rotation and changes no key", function(t)
  local before = key_names()
  local r = t.run("rotate_keys.lua", { name = "ci", out = t.dir .. "/keys.json" }, { dry_run = true })
  t.eq(r.code, 7, r.stderr)
  t.matches(r.stdout, "1 planned for rotation %(none sent%)")
  t.eq(key_names(), before)
end)

test("a real run replaces the key, saves the new one and it authenticates", function(t)
  local out = t.dir .. "/keys.json"
  local r = t.run("rotate_keys.lua", { name = "ci", out = out })
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "1 rotated, 0 failed")
  local saved = json.decode(io.open(out):read("a"))
  local _, entry = next(saved)
  t.ok(cloud.check_key(entry.id, entry.key), "the saved key authenticates")
  t.matches(table.concat(key_names(), ","), "ci %(rotated from ")
  -- Run again: nothing left to rotate under that name.
  local again = t.run("rotate_keys.lua", { name = "ci", out = out })
  t.eq(again.code, 0, again.stderr)
  t.matches(again.stdout, "0 rotated")
end)

test("days=90 rotates a key only once the fleet is 91 days older", function(t)
  local out = t.dir .. "/keys.json"
  local fresh = t.run("rotate_keys.lua", { days = 90, out = out })
  t.eq(fresh.code, 0, fresh.stderr)
  t.matches(fresh.stdout, "0 rotated")
  fleet.clock.advance("91d")
  local created = nil
  for _, k in ipairs(cloud.list_keys()) do
    if k.api_key.name == "ci" then created = time.parse(k.api_key.created_on) end
  end
  t.ok(time.now() - created > 90 * 86400, "the key is 91 days old now")
  local r = t.run("rotate_keys.lua", { days = 90, out = out })
  t.eq(r.code, 0, r.stderr)
  t.matches(r.stdout, "1 rotated, 0 failed")
end)

test("interrupted halfway (the old key's delete refused), a re-run finishes and makes no second key", function(t)
  local out = t.dir .. "/keys.json"
  fleet.fault { method = "DeleteKey", code = "UNAVAILABLE", times = 1 }
  local first = t.run("rotate_keys.lua", { name = "ci", out = out })
  t.eq(first.code, 6, first.stderr)
  local again = t.run("rotate_keys.lua", { name = "ci", out = out })
  t.eq(again.code, 0, again.stderr)
  local names = {}
  for _, k in ipairs(cloud.list_keys()) do names[#names + 1] = k.api_key.name end
  table.sort(names)
  local rotated = 0
  for _, n in ipairs(names) do if n:find("^ci %(rotated from ") then rotated = rotated + 1 end end
  t.eq(rotated, 1, "one replacement: " .. table.concat(names, ", "))
  for _, n in ipairs(names) do t.ok(n ~= "ci", "the old key is gone") end
end)

test("cut in the middle of three rotations, a re-run finishes each: no key lost, none extra", function(t)
  local out = t.dir .. "/keys.json"
  local loc = cloud.list_locations()[1].id
  for _, n in ipairs({ "a", "b" }) do
    cloud.create_key({ { role = "operator", resource_type = "location", resource_id = loc } }, n)
  end
  -- The first rotation completes; the second saves its replacement but cannot delete the old
  -- key; the third cannot create its replacement.
  fleet.fault { method = "DeleteKey", code = "UNAVAILABLE", nth = 2 }
  fleet.fault { method = "CreateKey", code = "UNAVAILABLE", nth = 3 }
  local first = t.run("rotate_keys.lua", { "name=ci", "name=a", "name=b", out = out })
  t.eq(first.code, 6, first.stdout .. first.stderr)
  t.matches(first.stdout, "1 rotated, 2 failed")
  local again = t.run("rotate_keys.lua", { "name=ci", "name=a", "name=b", out = out })
  t.eq(again.code, 0, again.stderr)
  t.matches(again.stdout, "2 rotated, 0 failed")
  local names, ids = {}, {}
  for _, k in ipairs(cloud.list_keys()) do
    names[#names + 1] = k.api_key.name
    ids[k.api_key.id] = k.api_key.name
  end
  local replaced = {}
  for _, n in ipairs(names) do
    t.ok(n ~= "ci" and n ~= "a" and n ~= "b", "an old key is left: " .. n)
    local base = n:match("^(%a+) %(rotated from ")
    if base then replaced[#replaced + 1] = base end
  end
  table.sort(replaced)
  t.eq(replaced, { "a", "b", "ci" }, "one replacement each: " .. table.concat(names, ", "))
  local saved = json.decode(io.open(out):read("a"))
  local count = 0
  for _, entry in pairs(saved) do
    count = count + 1
    t.ok(ids[entry.id], "saved key " .. entry.id .. " exists")
    t.ok(cloud.check_key(entry.id, entry.key), "saved key " .. entry.id .. " authenticates")
  end
  t.eq(count, 3, "one saved key per rotation")
end)
