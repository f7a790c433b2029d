-- Packages: cloud.packages.create_package streams a version's bytes from a
-- file or a string; get_package, list_packages and delete_package come from the descriptors.
local org = cloud.default_org_id()
local path = os.tmpname()
local f = assert(io.open(path, "wb"))
local bytes = string.rep("model-bytes-", 100000)
f:write(bytes)
f:close()
local made = cloud.packages.create_package("detector", "1", "PACKAGE_TYPE_ML_MODEL", path)
os.remove(path)
assert(made.id == org .. "/detector" and made.version == "1", tostring(made.id))
cloud.packages.create_package{ name = "detector", version = "2", type = "PACKAGE_TYPE_ML_MODEL", contents = "two" }

local got = cloud.packages.get_package{ id = made.id, version = "1", include_url = true }
assert(got.info.name == "detector" and got.info.type == "PACKAGE_TYPE_ML_MODEL", tostring(got.info.name))
assert(got.url:match("^https?://127%.0%.0%.1:%d+/signed%-url/%w+$"), got.url)
local fetched = http.request{ url = got.url }
assert(fetched.status == 200 and fetched.body == bytes, "the URL serves the bytes as uploaded")
assert(cloud.packages.get_package(made.id, "latest").info.version == "2")
local listed = cloud.packages.list_packages{ name = "detector" }
assert(#listed == 2 and listed[1].info.version == "2", "newest first: " .. #listed)

local ok, err = pcall(cloud.packages.create_package, "../evil", "1", "PACKAGE_TYPE_ARCHIVE", nil, "x")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
cloud.packages.delete_package(made.id, "1", "PACKAGE_TYPE_ML_MODEL")
ok, err = pcall(cloud.packages.get_package, made.id, "1")
assert(not ok and err.code == "NOT_FOUND", tostring(err))
assert(#cloud.packages.list_packages() == 1)
print("packages ok")
