-- Failed calls raise a value with code, message, method and a readable tostring.
local ok, err = pcall(cloud.get_robot, "nope")
assert(not ok)
assert(err.code == "NOT_FOUND", err.code)
assert(err.method == "get_robot")
assert(err.message:find("nope", 1, true), err.message)
assert(tostring(err):find('^get_robot: NOT_FOUND: '), tostring(err))

-- Unknown named argument: a hint, before any call is made.
ok, err = pcall(cloud.new_robot, { nme = "x" })
assert(not ok and err.code == "INVALID_ARGUMENT")
assert(err.message:find("did you mean 'name'", 1, true), err.message)

-- Unknown proto field through the generic path.
ok, err = pcall(cloud.call, "NewRobot", { nme = "x" })
assert(not ok and err.message == "unknown field 'nme' for viam.app.v1.NewRobotRequest; did you mean 'name'?", err.message)

-- Wrong type names the field.
ok, err = pcall(cloud.call, "NewRobot", { name = 5 })
assert(not ok and err.message == "name: expected string, got integer", err.message)

-- Unknown method.
ok, err = pcall(cloud.call, "GetRobt", {})
assert(not ok and err.message:find("did you mean 'GetRobot'", 1, true), err.message)

-- Too many positional arguments.
ok, err = pcall(cloud.get_robot, "a", "b")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

-- Server-side validation comes back as INVALID_ARGUMENT naming the field.
ok, err = pcall(cloud.create_location, "")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

-- error values survive coroutines too.
local co = coroutine.wrap(function() return pcall(cloud.get_location, "missing") end)
ok, err = co()
assert(not ok and err.code == "NOT_FOUND")
print("errors ok")
