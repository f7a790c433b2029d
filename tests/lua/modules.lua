-- Modules: create (a tuple), update, upload a multi-MiB binary file, get, list.
local name = "mod" .. os.time() .. math.random(1e6)
local module_id, url = cloud.create_module(name)
assert(type(module_id) == "string" and module_id ~= "" and type(url) == "string" and url ~= "")
local models = { { api = "rdk:component:base", model = "acme:" .. name .. ":wheeled" } }
local updated = cloud.update_module(module_id, "https://example.com/docs", "A base.", models, "bin/run", false)
assert(type(updated) == "string" and updated ~= "")
local m = cloud.get_module(module_id)
assert(m.name == name and m.description == "A base." and m.entrypoint == "bin/run")
assert(m.visibility == "VISIBILITY_PRIVATE" and m.models[1].model == models[1].model)

-- 6 MiB of every byte value, NULs included: bytes travel as raw Lua strings.
local chunk = {}
for b = 0, 255 do chunk[#chunk + 1] = string.char(b) end
local file = "\127ELF" .. string.rep(table.concat(chunk), 6 * 4096)
assert(#file > 6 * 1024 * 1024)
local info = { module_id = module_id, version = "1.0.0", platform = "linux/amd64" }
local file_url = cloud.upload_module_file(info, file)
assert(type(file_url) == "string" and file_url ~= "")
m = cloud.get_module{ module_id = module_id }
assert(m.versions[1].version == "1.0.0" and m.versions[1].files[1].platform == "linux/amd64")

local found = false
for _, x in ipairs(cloud.list_modules()) do found = found or x.module_id == module_id end
assert(found)
local ok, err = pcall(cloud.create_module, name)
assert(not ok and err.code == "ALREADY_EXISTS", tostring(err))
ok, err = pcall(cloud.upload_module_file, { module_id = "no-such-module", version = "1.0.0", platform = "linux/amd64" }, "x")
assert(not ok and err.code == "NOT_FOUND" and err.method == "upload_module_file", tostring(err))
ok, err = pcall(cloud.get_module, "no-such-module")
assert(not ok and err.code == "NOT_FOUND", tostring(err))
print("modules ok")
