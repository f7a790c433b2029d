-- cloud.parallel: one coroutine per item, results in order, errors collected.
local loc = cloud.create_location("parallel").id
local names = {}
for i = 1, 12 do names[i] = "m" .. i end
local ids, errs = cloud.parallel(names, function(name) return cloud.new_robot(name, loc) end, { concurrency = 4 })
assert(#errs == 0, "no errors")
assert(#ids == 12)
for i, id in ipairs(ids) do assert(cloud.get_robot(id).name == names[i], "results keep input order") end

-- Mixed: failures are reported with their index and error value, successes kept.
local probe = { ids[1], "missing", ids[3] }
local robots, errs2 = cloud.parallel(probe, function(id, i)
  assert(math.type(i) == "integer")
  return cloud.get_robot(id)
end)
assert(robots[1].id == ids[1] and robots[2] == nil and robots[3].id == ids[3])
assert(#errs2 == 1 and errs2[1].index == 2 and errs2[1].item == "missing")
assert(errs2[1].error.code == "NOT_FOUND", tostring(errs2[1].error))

-- More items than coroutines, so each runs several in turn: failures (any error value) come
-- back in item order whatever order they finish in, and every success keeps its place.
local many = {}
for i = 1, 40 do many[i] = i end
local doubled, errs3 = cloud.parallel(many, function(n)
  -- Item 4k fails after 4k+2, which starts later.
  if n % 4 == 0 then sleep(0.01) end
  if n % 2 == 0 then error({ n = n }) end
  return n * 2
end, { concurrency = 3 })
assert(#errs3 == 20, #errs3)
for k, e in ipairs(errs3) do
  assert(e.index == k * 2 and e.item == k * 2 and e.error.n == k * 2, "failure " .. k .. " in order")
end
for i = 1, 40 do
  assert(doubled[i] == (i % 2 == 1 and i * 2 or nil), "result " .. i)
end

-- sleep is async: 8 one-second sleeps in parallel take about one second, not eight.
local start = os.time()
cloud.parallel({ 1, 2, 3, 4, 5, 6, 7, 8 }, function() sleep(1) end, { concurrency = 8 })
assert(os.time() - start < 4, "sleeps overlapped")
print("parallel ok")
