-- cloud.packages: PackageService, which no SDK client wraps. get_package,
-- list_packages and delete_package come from the descriptors (the request's fields by name or in
-- order, the organization implicit); create_package is written here because it streams: the
-- package's info first, then its bytes, read from `path` while they are sent or taken from
-- `contents`, 1 MiB per message.
local cloud = ...
local PACKAGES = "viam.app.packages.v1.PackageService/"
local CHUNK = 1024 * 1024

local function invalid(fname, msg) error(cloud._error(fname, "INVALID_ARGUMENT", msg), 0) end

local PARAMS = { "name", "version", "type", "path", "contents", "platform", "files", "metadata", "org_id" }

local function args_of(fname, ...)
  local first = ...
  if select("#", ...) == 1 and type(first) == "table" and getmetatable(first) == nil then
    local allowed = {}
    for _, p in ipairs(PARAMS) do allowed[p] = true end
    for k in pairs(first) do
      if not allowed[k] then invalid(fname, string.format("unknown argument %s", tostring(k))) end
    end
    return first
  end
  if select("#", ...) > #PARAMS then invalid(fname, "too many positional arguments") end
  local a = {}
  for i = 1, select("#", ...) do a[PARAMS[i]] = (select(i, ...)) end
  return a
end

local fname = "packages.create_package"
local function create_package(...)
  local a = args_of(fname, ...)
  if (a.path == nil) == (a.contents == nil) then invalid(fname, "pass exactly one of path and contents") end
  local info = { organization_id = a.org_id or cloud.default_org_id(), name = a.name, version = a.version,
    type = a.type, platform = a.platform, files = a.files, metadata = a.metadata }
  local ok, v
  if a.path ~= nil then
    local file, err = io.open(a.path, "rb")
    if not file then invalid(fname, "path: " .. tostring(err)) end
    file:close()
    ok, v = cloud._call(PACKAGES .. "CreatePackage", { { info = info } }, fname, nil,
      { stream_file = { path = a.path, field = "contents", chunk = CHUNK } })
  else
    local msgs = { { info = info } }
    for i = 1, #a.contents, CHUNK do msgs[#msgs + 1] = { contents = a.contents:sub(i, i + CHUNK - 1) } end
    ok, v = cloud._call(PACKAGES .. "CreatePackage", msgs, fname)
  end
  if not ok then error(v, 0) end
  return v
end

cloud.packages.create_package = create_package
cloud._specs[#cloud._specs + 1] = { fname, PACKAGES .. "CreatePackage", area = "packages", fn = create_package,
  params = { "name string", "version string", "type string", "path string?", "contents string?", "platform string?",
    "files table[]?", "metadata table?", "org_id string?" },
  returns = { "table package" },
  doc = "Upload a package version (its bytes from path or contents); {id=, version=}." }
