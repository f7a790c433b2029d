-- The ergonomic `cloud` functions on top of the Rust core `cloud._call`. Names, positional order,
-- defaults and return shapes follow the Python SDK's AppClient, except that `org_id` is implicit:
-- a named argument defaulting to the credentials' organization. Every function also takes one
-- table of named arguments: cloud.new_robot{name = "r", location_id = loc}.
local cloud = ...

local function raise(err) error(err, 0) end

-- Async calls wait by yielding a "pending" marker to the runner. Inside a script's own coroutine
-- that yield would land in the script's `resume`; pass it on to the runner and resume again, so
-- cloud calls work in generators and coroutine.wrap as well.
do
  local pending, raw_resume, raw_yield = cloud._pending, coroutine.resume, coroutine.yield
  local function resume(co, ...)
    local r = table.pack(raw_resume(co, ...))
    while r[1] and r.n == 2 and r[2] == pending and coroutine.isyieldable() do
      r = table.pack(raw_resume(co, raw_yield(pending)))
    end
    return table.unpack(r, 1, r.n)
  end
  coroutine.resume = resume
  coroutine.wrap = function(f)
    local co = coroutine.create(f)
    return function(...)
      local r = table.pack(resume(co, ...))
      if not r[1] then error(r[2], 0) end
      return table.unpack(r, 2, r.n)
    end
  end
end

-- Lazy lists (a reply's long list of messages, lazy.rs) are raw-empty until forced: the raw
-- accessors force them first, so that they see the array the list stands for, and so does
-- setmetatable: it then refuses the list as it refuses an eager one (mlua's array metatable
-- is protected), instead of replacing the lazy metatable that reads the elements.
-- getmetatable answers `false` for a lazy list, as for an eager one (protected).
do
  local raw_next, raw_len, raw_get, raw_set = next, rawlen, rawget, rawset
  local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
  local type, select, error = type, select, error
  local function lazy(t)
    local mt = raw_getmetatable(t)
    return type(mt) == "table" and raw_get(mt, "__lazy") and mt
  end
  local function force(t)
    local mt = lazy(t)
    if mt then mt.__force(t) end
  end
  -- The wrappers' own argument errors, worded and placed (the caller's line) as Lua's: the
  -- raw functions, tail-called from here, would name the function '?'.
  local function bad(i, name, what, ...)
    local got = select("#", ...) < i and "no value" or type((select(i, ...)))
    error(("bad argument #%d to '%s' (%s expected, got %s)"):format(i, name, what, got), 3)
  end
  local function missing(i, name)
    error(("bad argument #%d to '%s' (value expected)"):format(i, name), 3)
  end
  function next(...)
    local t, k = ...
    if type(t) ~= "table" then bad(1, "next", "table", ...) end
    force(t)
    return raw_next(t, k)
  end
  function rawlen(...)
    local t = ...
    local ty = type(t)
    if ty ~= "table" and ty ~= "string" then bad(1, "rawlen", "table or string", ...) end
    force(t)
    return raw_len(t)
  end
  function rawget(...)
    local t, k = ...
    if type(t) ~= "table" then bad(1, "rawget", "table", ...) end
    if select("#", ...) < 2 then missing(2, "rawget") end
    force(t)
    return raw_get(t, k)
  end
  function rawset(...)
    local t, k, v = ...
    if type(t) ~= "table" then bad(1, "rawset", "table", ...) end
    if select("#", ...) < 3 then missing(3, "rawset") end
    force(t)
    return raw_set(t, k, v)
  end
  function getmetatable(v)
    if lazy(v) then return false end
    return raw_getmetatable(v)
  end
  function setmetatable(t, mt)
    force(t)
    if type(t) == "table" and raw_getmetatable(t) == false then
      error("cannot change a protected metatable (a reply's list keeps the array metatable "
        .. "json writes as []); set yours on a copy: setmetatable(table.move(t, 1, #t, 1, {}), mt)", 2)
    end
    return raw_setmetatable(t, mt)
  end
end

-- `labels` (request field -> argument name) lets conversion errors name what the user wrote.
local function call(method, args, name, labels)
  local ok, v = cloud._call(method, args, name, labels)
  if not ok then raise(v) end
  return v
end


local function invalid(fname, msg) raise(cloud._error(fname, "INVALID_ARGUMENT", msg)) end

local cached_org
local function default_org(fname)
  if cached_org then return cached_org end
  cached_org = cloud._defaults.org_id
  if cached_org then return cached_org end
  local orgs = call("ListOrganizations", {}, fname).organizations
  if #orgs == 1 then
    cached_org = orgs[1].id
    return cached_org
  end
  if #orgs == 0 then
    raise(cloud._error(fname, "FAILED_PRECONDITION", "no organization is reachable with these credentials"))
  end
  local names = {}
  for _, o in ipairs(orgs) do names[#names + 1] = string.format("%s (%s)", o.id, o.name) end
  raise(cloud._error(fname, "FAILED_PRECONDITION",
    "several organizations are reachable; pass org_id = one of: " .. table.concat(names, ", ")))
end


-- The location that `location_id` defaults to: the profile's, else the only one in the default org.
local cached_location

-- A state pointed at another fleet (`fleetsh test`: one per test) looks its defaults up again.
function cloud._forget_defaults() cached_org, cached_location = nil, nil end
local function default_location(fname)
  if cached_location then return cached_location end
  cached_location = cloud._defaults.location_id
  if cached_location then return cached_location end
  local locs = call("ListLocations", { organization_id = default_org(fname) }, fname).locations
  if #locs == 1 then
    cached_location = locs[1].id
    return cached_location
  end
  local names = {}
  for _, l in ipairs(locs) do names[#names + 1] = string.format("%s (%s)", l.id, l.name) end
  raise(cloud._error(fname, "FAILED_PRECONDITION", #locs == 0 and "the organization has no locations; pass location_id"
    or "several locations are reachable; pass location_id = one of: " .. table.concat(names, ", ")))
end

-- One table argument whose keys are all strings is a set of named arguments.
local function is_named(t)
  for k in pairs(t) do if type(k) ~= "string" then return false end end
  return true
end

-- "; did you mean 'x'?" when `k` looks like a typo of one of `names`, else the list of them.
local function hint(k, names, what)
  local near = type(k) == "string" and cloud._closest(k, names)
  return near and ("; did you mean '" .. near .. "'?") or string.format(" (%s: %s)", what, table.concat(names, ", "))
end

local function args_of(fname, params, allowed, ...)
  local n = select("#", ...)
  local first = ...
  if n == 1 and type(first) == "table" and is_named(first) and getmetatable(first) == nil then
    for k in pairs(first) do
      if not allowed[k] then
        local names = {}
        for p in pairs(allowed) do names[#names + 1] = p end
        table.sort(names)
        invalid(fname, string.format("unknown argument '%s' for %s%s", k, fname, hint(k, names, "arguments")))
      end
    end
    return first
  end
  if n > #params then
    invalid(fname, string.format("%s takes at most %d positional argument%s (%s), got %d",
      fname, #params, #params == 1 and "" or "s", table.concat(params, ", "), n))
  end
  local a = {}
  for i = 1, n do a[params[i]] = (select(i, ...)) end
  return a
end

local function lua_type(v) return math.type(v) or type(v) end

-- Checks the arguments a `build` function reads, with the generic path's error shape
-- ("fname: INVALID_ARGUMENT: arg: expected T, got U"). A type is a Lua type name, {T} (an array
-- of T) or {field = T, ...} (a table whose present fields have those types, and no others: args_of
-- has checked the top level's names already); nil always passes.
local function check(fname, path, v, want)
  if v == nil then return end
  if type(want) == "string" then
    if type(v) ~= want then invalid(fname, string.format("%s: expected %s, got %s", path, want, lua_type(v))) end
    return
  end
  local array = want[1] ~= nil
  if type(v) ~= "table" then
    invalid(fname, string.format("%s: expected %s, got %s", path, array and "array" or "table", lua_type(v)))
  end
  local function sub(k) return path == "" and k or path .. "." .. k end
  if not array then
    for k, t in pairs(want) do check(fname, sub(k), v[k], t) end
    if path == "" then return end
    for k in pairs(v) do
      if want[k] == nil then
        local names = {}
        for f in pairs(want) do names[#names + 1] = f end
        table.sort(names)
        invalid(fname, string.format("%s: unknown field '%s'%s", path, tostring(k), hint(k, names, "fields")))
      end
    end
    return
  end
  local n = #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      invalid(fname, string.format("%s: expected an array, found key '%s'", path, tostring(k)))
    end
  end
  for i = 1, n do check(fname, string.format("%s[%d]", path, i), v[i], want[1]) end
end

local function unwrap(resp, ret)
  if ret == nil then return end
  if type(ret) == "string" then return resp[ret] end
  local out = {}
  for i, f in ipairs(ret) do out[i] = resp[f] end
  return table.unpack(out, 1, #ret)
end

local VISIBILITY = {
  private = "FRAGMENT_VISIBILITY_PRIVATE", public = "FRAGMENT_VISIBILITY_PUBLIC",
  public_unlisted = "FRAGMENT_VISIBILITY_PUBLIC_UNLISTED", unspecified = "FRAGMENT_VISIBILITY_UNSPECIFIED",
}
local function visibility(v) return VISIBILITY[v] or v end

local function empty(t) return t == nil or (type(t) == "table" and next(t) == nil) end

-- An empty Lua table is no Struct to the converter; absent metadata clears it all the same.
local function no_empty_data(req) if empty(req.data) then req.data = nil end end

-- The Authorization that Python's add_role / create_key build from (role, resource_type, resource_id).
local function authorization(a, org, identity_type)
  return {
    authorization_type = "role",
    authorization_id = tostring(a.resource_type) .. "_" .. tostring(a.role),
    resource_type = a.resource_type, resource_id = a.resource_id,
    identity_id = a.identity_id or "", identity_type = identity_type, organization_id = org,
  }
end

-- The fields of a role binding, as add_role takes them and create_key's authorizations hold them.
local ROLE = { identity_id = "string", role = "string", resource_type = "string", resource_id = "string" }

-- One line per function; help, `fleetsh types` and the coverage tests read this table.
-- {name, RPC, args = positional names, org = request field filled from org_id,
--  loc = true: location_id defaults to the credentials' location, map = arg -> request field,
--  defaults = arg -> value, ret = field | {fields} (multiple returns) | nil, build = custom request,
--  types = the arguments' types (see `check`), required with build: it bypasses field conversion}
-- A function written by hand instead has `fn` (called with the named-arguments table, or with
-- the raw arguments when `named = false`), `params` ("name type", `?` = optional), `returns`
-- ("type name"), `doc` (one line of meaning), `defaults_doc` ({param, text} pairs) and, without
-- an RPC, `area`. RPCs that no line names get a function made from the descriptors (below).
local specs = {
  -- organizations
  { "create_organization", "CreateOrganization", args = { "name" }, ret = "organization" },
  { "list_organizations", "ListOrganizations", ret = "organizations" },
  { "list_organizations_by_user", "ListOrganizationsByUser", args = { "user_id" }, ret = "orgs" },
  { "get_organization", "GetOrganization", args = { "org_id" }, org = "organization_id", ret = "organization" },
  { "get_organization_namespace_availability", "GetOrganizationNamespaceAvailability",
    args = { "public_namespace" }, ret = "available" },
  { "list_organization_members", "ListOrganizationMembers", org = "organization_id", ret = { "members", "invites" } },
  { "create_organization_invite", "CreateOrganizationInvite", args = { "email", "authorizations", "send_email_invite" },
    org = "organization_id", defaults = { send_email_invite = true }, ret = "invite" },
  { "update_organization_invite_authorizations", "UpdateOrganizationInviteAuthorizations",
    args = { "email", "add_authorizations", "remove_authorizations" }, org = "organization_id", ret = "invite" },
  { "delete_organization_member", "DeleteOrganizationMember", args = { "user_id" }, org = "organization_id" },
  { "delete_organization_invite", "DeleteOrganizationInvite", args = { "email" }, org = "organization_id" },
  { "resend_organization_invite", "ResendOrganizationInvite", args = { "email" }, org = "organization_id", ret = "invite" },
  { "get_organization_metadata", "GetOrganizationMetadata", args = { "org_id" }, org = "organization_id", ret = "data" },
  { "update_organization_metadata", "UpdateOrganizationMetadata", args = { "org_id", "metadata" },
    org = "organization_id", map = { metadata = "data" }, fix = no_empty_data },
  { "update_organization", "UpdateOrganization",
    args = { "org_id", "name", "public_namespace", "region", "cid", "default_fragments" }, org = "organization_id",
    ret = "organization",
    fix = function(req)
      if req.default_fragments ~= nil then req.default_fragments = { fragments = req.default_fragments } end
    end },
  -- No implicit organization: deleting one is never a default.
  { "get_user_id_by_email", "GetUserIDByEmail", args = { "email" }, ret = "user_id" },
  { "delete_organization", "DeleteOrganization", args = { "org_id" }, types = { org_id = "string" },
    build = function(a)
      if a.org_id == nil then invalid("delete_organization", "org_id is required") end
      return { organization_id = a.org_id }
    end },
  -- locations
  { "create_location", "CreateLocation", args = { "name", "parent_location_id" }, org = "organization_id", ret = "location" },
  { "get_location", "GetLocation", args = { "location_id" }, loc = true, ret = "location" },
  { "update_location", "UpdateLocation", args = { "location_id", "name", "parent_location_id" }, ret = "location" },
  { "delete_location", "DeleteLocation", args = { "location_id" } },
  { "list_locations", "ListLocations", org = "organization_id", ret = "locations" },
  { "location_auth", "LocationAuth", args = { "location_id" }, loc = true, ret = "auth" },
  { "create_location_secret", "CreateLocationSecret", args = { "location_id" }, loc = true, ret = "auth" },
  { "delete_location_secret", "DeleteLocationSecret", args = { "secret_id", "location_id" }, loc = true },
  { "share_location", "ShareLocation", args = { "organization_id", "location_id" }, loc = true },
  { "unshare_location", "UnshareLocation", args = { "organization_id", "location_id" }, loc = true },
  { "get_organizations_with_access_to_location", "GetOrganizationsWithAccessToLocation", args = { "location_id" },
    loc = true, ret = "organization_identities" },
  { "get_location_metadata", "GetLocationMetadata", args = { "location_id" }, loc = true, ret = "data" },
  { "update_location_metadata", "UpdateLocationMetadata", args = { "location_id", "metadata" }, loc = true,
    map = { metadata = "data" }, fix = no_empty_data },
  -- robots and parts
  { "get_robot", "GetRobot", args = { "robot_id" }, map = { robot_id = "id" }, ret = "robot" },
  { "get_rover_rental_robots", "GetRoverRentalRobots", org = "org_id", ret = "robots" },
  { "get_robot_parts", "GetRobotParts", args = { "robot_id" }, ret = "parts" },
  { "get_robot_part_history", "GetRobotPartHistory", args = { "robot_part_id", "start", "end", "page_limit" },
    map = { robot_part_id = "id" }, ret = "history" },
  { "update_robot_part", "UpdateRobotPart",
    args = { "robot_part_id", "name", "robot_config", "last_known_update", "robot_config_json" },
    map = { robot_part_id = "id" }, ret = "part",
    fix = function(req)
      if empty(req.robot_config) then req.robot_config = nil end
      if req.robot_config_json == "" then req.robot_config_json = nil end
    end },
  { "new_robot_part", "NewRobotPart", args = { "robot_id", "part_name" }, ret = "part_id" },
  { "delete_robot_part", "DeleteRobotPart", args = { "robot_part_id" }, map = { robot_part_id = "part_id" } },
  { "mark_part_as_main", "MarkPartAsMain", args = { "robot_part_id" }, map = { robot_part_id = "part_id" } },
  { "mark_part_for_restart", "MarkPartForRestart", args = { "robot_part_id" }, map = { robot_part_id = "part_id" } },
  { "create_robot_part_secret", "CreateRobotPartSecret", args = { "robot_part_id" },
    map = { robot_part_id = "part_id" }, ret = "part" },
  { "delete_robot_part_secret", "DeleteRobotPartSecret", args = { "robot_part_id", "secret_id" },
    map = { robot_part_id = "part_id" } },
  { "list_robots", "ListRobots", args = { "location_id" }, loc = true, ret = "robots" },
  { "new_robot", "NewRobot", args = { "name", "location_id" }, loc = true, map = { location_id = "location" }, ret = "id" },
  { "update_robot", "UpdateRobot", args = { "robot_id", "name", "location_id" }, loc = true,
    map = { robot_id = "id", location_id = "location" }, ret = "robot" },
  { "delete_robot", "DeleteRobot", args = { "robot_id" }, map = { robot_id = "id" } },
  { "get_robot_metadata", "GetRobotMetadata", args = { "robot_id" }, map = { robot_id = "id" }, ret = "data" },
  { "update_robot_metadata", "UpdateRobotMetadata", args = { "robot_id", "metadata" },
    map = { robot_id = "id", metadata = "data" }, fix = no_empty_data },
  { "get_robot_part_metadata", "GetRobotPartMetadata", args = { "robot_part_id" }, map = { robot_part_id = "id" },
    ret = "data" },
  { "update_robot_part_metadata", "UpdateRobotPartMetadata", args = { "robot_part_id", "metadata" },
    map = { robot_part_id = "id", metadata = "data" }, fix = no_empty_data },
  { "set_config_property", "SetConfigProperty", args = { "robot_part_id", "property_changes" },
    ret = "property_changes", types = { robot_part_id = "string", property_changes = "table" },
    build = function(a)
      -- Python takes {path = value}; sorted so the changes apply in a stable order.
      local paths, changes = {}, {}
      for path in pairs(a.property_changes or {}) do paths[#paths + 1] = path end
      table.sort(paths)
      for i, path in ipairs(paths) do changes[i] = { path = path, value = a.property_changes[path] } end
      return { robot_part_id = a.robot_part_id, property_changes = changes }
    end },
  { "list_robots_for_locations", "ListRobotsForLocations", args = { "location_ids" }, ret = "robots" },
  { "add_favorite_machine", "AddFavoriteMachine", args = { "machine_id" } },
  { "remove_favorite_machine", "RemoveFavoriteMachine", args = { "machine_id" } },
  { "list_favorite_machines", "ListFavoriteMachines", ret = "favorites" },
  -- fragments
  { "list_fragments", "ListFragments", args = { "show_public", "visibilities" }, org = "organization_id",
    defaults = { show_public = true }, map = { visibilities = "fragment_visibility" }, ret = "fragments",
    fix = function(req)
      for i, v in ipairs(req.fragment_visibility or {}) do req.fragment_visibility[i] = visibility(v) end
    end },
  { "get_fragment", "GetFragment", args = { "fragment_id", "version" }, map = { fragment_id = "id" }, ret = "fragment" },
  -- No Python method; spelled out because a generated function returns nothing for a
  -- reply of two fields.
  { "list_machine_fragments", "ListMachineFragments", args = { "machine_id", "additional_fragment_ids", "additional_fragments" },
    ret = { "fragments", "resolved_fragments" } },
  { "list_nested_fragments", "ListNestedFragments", args = { "fragment_id", "additional_fragments" },
    ret = { "fragments", "resolved_fragments" } },
  { "get_fragment_history", "GetFragmentHistory", args = { "id", "page_token", "page_limit" },
    defaults = { page_limit = 10 }, ret = "history" },
  { "create_fragment", "CreateFragment", args = { "name", "config" }, org = "organization_id", ret = "fragment",
    fix = function(req) if empty(req.config) then req.config = nil end end },
  { "update_fragment", "UpdateFragment",
    args = { "fragment_id", "name", "config", "public", "visibility", "last_known_update" },
    map = { fragment_id = "id" }, ret = "fragment",
    fix = function(req) if req.visibility then req.visibility = visibility(req.visibility) end end },
  { "delete_fragment", "DeleteFragment", args = { "fragment_id" }, map = { fragment_id = "id" } },
  -- authorization
  { "add_role", "AddRole", args = { "identity_id", "role", "resource_type", "resource_id" }, org = true,
    types = ROLE, build = function(a, org) return { authorization = authorization(a, org, "") } end },
  { "remove_role", "RemoveRole", args = { "identity_id", "role", "resource_type", "resource_id" }, org = true,
    types = ROLE, build = function(a, org) return { authorization = authorization(a, org, "") } end },
  { "list_authorizations", "ListAuthorizations", args = { "resource_ids" }, org = "organization_id",
    ret = "authorizations" },
  { "check_permissions", "CheckPermissions", args = { "permissions" }, ret = "authorized_permissions" },
  { "change_role", "ChangeRole", args = { "old_identity_id", "old_role", "old_resource_type", "old_resource_id",
    "new_identity_id", "new_role", "new_resource_type", "new_resource_id" }, org = true,
    types = { old_identity_id = "string", old_role = "string", old_resource_type = "string",
      old_resource_id = "string", new_identity_id = "string", new_role = "string", new_resource_type = "string",
      new_resource_id = "string" },
    build = function(a, org)
      local function side(p)
        return authorization({ identity_id = a[p .. "identity_id"], role = a[p .. "role"],
          resource_type = a[p .. "resource_type"], resource_id = a[p .. "resource_id"] }, org, "")
      end
      return { old_authorization = side("old_"), new_authorization = side("new_") }
    end },
  -- modules
  { "create_module", "CreateModule", args = { "name" }, org = "organization_id", ret = { "module_id", "url" } },
  { "update_module", "UpdateModule", args = { "module_id", "url", "description", "models", "entrypoint", "public" },
    ret = "url",
    types = { module_id = "string", url = "string", description = "string", entrypoint = "string",
      public = "boolean",
      models = { { api = "string", model = "string", markdown_documentation = "string", description = "string" } } },
    build = function(a)
      return {
        module_id = a.module_id, url = a.url, description = a.description, models = a.models,
        entrypoint = a.entrypoint, visibility = a.public and "VISIBILITY_PUBLIC" or "VISIBILITY_PRIVATE",
      }
    end },
  { "upload_module_file", "UploadModuleFile", args = { "module_file_info", "file" }, ret = "url",
    types = { file = "string",
      module_file_info = { module_id = "string", version = "string", platform = "string", platform_tags = { "string" } } },
    build = function(a) return { { module_file_info = a.module_file_info }, { file = a.file } } end },
  { "get_module", "GetModule", args = { "module_id" }, ret = "module" },
  { "list_modules", "ListModules", org = "organization_id", ret = "modules" },
  -- registry items (a module is the item of type PACKAGE_TYPE_MODULE); rename_registry_item and
  -- transfer_registry_item have no Python method and come from the descriptors
  { "get_registry_item", "GetRegistryItem", args = { "item_id", "include_markdown_documentation" },
    defaults = { include_markdown_documentation = false }, ret = "item" },
  { "create_registry_item", "CreateRegistryItem", args = { "name", "type" }, org = "organization_id" },
  { "update_registry_item", "UpdateRegistryItem", args = { "item_id", "type", "description", "visibility" } },
  { "list_registry_items", "ListRegistryItems",
    args = { "types", "visibilities", "platforms", "statuses", "search_term", "page_token" },
    org = "organization_id", ret = "items" },
  { "delete_registry_item", "DeleteRegistryItem", args = { "item_id" } },
  { "deprecate_registry_item", "DeprecateRegistryItem", args = { "item_id", "message" } },
  { "undeprecate_registry_item", "UndeprecateRegistryItem", args = { "item_id" } },
  { "deprecate_registry_item_version", "DeprecateRegistryItemVersion", args = { "item_id", "version", "message" } },
  { "undeprecate_registry_item_version", "UndeprecateRegistryItemVersion", args = { "item_id", "version" } },
  -- API keys
  { "create_key", "CreateKey", args = { "authorizations", "name" }, org = true, ret = { "key", "id" },
    types = { authorizations = { ROLE }, name = "string" }, build = function(a, org)
      local auths = {}
      for i, x in ipairs(a.authorizations or {}) do auths[i] = authorization(x, org, "api-key") end
      return { authorizations = auths, name = a.name or os.date("%Y-%m-%d %H:%M:%S") }
    end },
  { "delete_key", "DeleteKey", args = { "id" } },
  { "rotate_key", "RotateKey", args = { "id" }, ret = { "key", "id" } },
  { "list_keys", "ListKeys", org = "org_id", ret = "api_keys" },
  { "create_key_from_existing_key_authorizations", "CreateKeyFromExistingKeyAuthorizations", args = { "id" },
    ret = { "key", "id" } },
  -- apps and branding (stored and returned; nothing is sent to Firebase)
  { "upload_device_push_token", "UploadDevicePushToken", args = { "app_id", "device_token", "device_uuid" } },
  { "delete_device_push_token", "DeleteDevicePushToken", args = { "app_id", "device_uuid" } },
  { "get_device_push_tokens", "GetDevicePushTokens", args = { "app_id" }, ret = "device_tokens" },
  { "set_firebase_config", "SetFirebaseConfig", args = { "app_id", "config_json" }, org = "org_id" },
  { "get_firebase_config", "GetFirebaseConfig", org = "org_id", ret = "app_id" },
  { "delete_firebase_config", "DeleteFirebaseConfig", args = { "app_id" }, org = "org_id" },
  { "get_robot_api_keys", "GetRobotAPIKeys", args = { "robot_id" }, ret = "api_keys" },
  -- No Python method; a spec because a generated function returns nothing for a two-field reply.
  { "rename_key", "RenameKey", args = { "id", "name" }, ret = { "id", "name" } },
}

local function allowed_of(spec, extra)
  local allowed = {}
  for _, p in ipairs(spec.args or {}) do allowed[p] = true end
  if spec.org then allowed.org_id = true end
  for _, p in ipairs(extra or {}) do allowed[p] = true end
  return allowed
end

local function request_of(spec, fname, a)
  if spec.build then
    check(fname, "", a, spec.types)
    check(fname, "org_id", a.org_id, "string")
  end
  local org = a.org_id
  if spec.org and org == nil then org = default_org(fname) end
  if spec.build then return spec.build(a, org) end
  local req = {}
  if type(spec.org) == "string" then req[spec.org] = org end
  for _, p in ipairs(spec.args or {}) do
    local v = a[p]
    if v == nil and spec.defaults then v = spec.defaults[p] end
    if v == nil and p == "location_id" and spec.loc then v = default_location(fname) end
    if v ~= nil and p ~= "org_id" then req[(spec.map and spec.map[p]) or p] = v end
  end
  if spec.fix then spec.fix(req) end
  return req
end

-- request_of of positional arguments (a spec without build or fix), in the same order of
-- defaults and fields, without first making the named-arguments table args_of would.
local function positional_request(spec, fname, params, n, ...)
  local org
  for i = 1, n do
    if params[i] == "org_id" then org = (select(i, ...)) end
  end
  if spec.org and org == nil then org = default_org(fname) end
  local req = {}
  if type(spec.org) == "string" then req[spec.org] = org end
  local defaults, map = spec.defaults, spec.map
  for i, p in ipairs(params) do
    local v
    if i <= n then v = (select(i, ...)) end
    if v == nil and defaults then v = defaults[p] end
    if v == nil and p == "location_id" and spec.loc then v = default_location(fname) end
    if v ~= nil and p ~= "org_id" then req[(map and map[p]) or p] = v end
  end
  return req
end

-- The positional fast path of a spec of one to three positional arguments without org,
-- defaults, build or fix: its request is made in one table constructor from the arguments as
-- they come, without positional_request's loops, select calls and the table's growth. Returns
-- the number of arguments (0: no fast path), the request fields they go to and which one is
-- location_id (defaulted).
local function direct_plan(spec, params, positional)
  local np = #params
  if not positional or spec.org or spec.defaults or np < 1 or np > 3 then return 0 end
  local fields, loc = {}, nil
  for i, p in ipairs(params) do
    if p == "org_id" then return 0 end
    if p == "location_id" and spec.loc then loc = i end
    fields[i] = (spec.map and spec.map[p]) or p
  end
  return np, fields[1], fields[2], fields[3], loc
end

-- Request field -> argument name, for the fields whose names differ.
local function labels_of(spec)
  local labels = {}
  for arg, field in pairs(spec.map or {}) do labels[field] = arg end
  if type(spec.org) == "string" and spec.org ~= "org_id" then labels[spec.org] = "org_id" end
  return labels
end

-- The argument names of a hand-written spec, from its "name type" params.
local function param_names(spec)
  local names = {}
  for i, p in ipairs(spec.params) do names[i] = p:match("^(%S+)") end
  return names
end

local function define(spec)
  local fname, rpc = spec[1], spec[2]
  if spec.fn then
    if spec.named == false then cloud[fname] = spec.fn; return end
    local params = param_names(spec)
    local allowed = allowed_of({ args = params })
    local fn = spec.fn
    cloud[fname] = function(...) return fn(args_of(fname, params, allowed, ...)) end
    return
  end
  assert(spec.build == nil or spec.types, fname .. ": a spec with build needs types")
  -- The function exists from the start (pairs(cloud), help and `==` see it as always), but what
  -- it calls with is made at its first call: making every spec's tables and fast path at each
  -- start cost ~0.5 M instructions, for the one or two functions a script calls.
  local params, allowed, labels, general
  -- The positional fast path (direct_plan); np == 0: none.
  local np, f1, f2, f3, loc, ret
  local function setup()
    params, allowed, labels = spec.args or {}, allowed_of(spec), labels_of(spec)
    -- Positional calls of a spec without build/fix skip the named-arguments table.
    local positional = not (spec.build or spec.fix)
    np, f1, f2, f3, loc = direct_plan(spec, params, positional)
    ret = spec.ret
    general = function(...)
      if positional and type((...)) ~= "table" then
        local n = select("#", ...)
        if n <= #params then
          return unwrap(call(rpc, positional_request(spec, fname, params, n, ...), fname, labels), ret)
        end
      end
      local a = args_of(fname, params, allowed, ...)
      return unwrap(call(rpc, request_of(spec, fname, a), fname, labels), ret)
    end
  end
  cloud[fname] = function(...)
    if not general then setup() end
    local a1, a2, a3 = ...
    if np == 0 or type(a1) == "table" or select("#", ...) > np then return general(...) end
    if loc == 1 and a1 == nil then a1 = default_location(fname)
    elseif loc == 2 and a2 == nil then a2 = default_location(fname)
    elseif loc == 3 and a3 == nil then a3 = default_location(fname) end
    local req
    if np == 1 then req = { [f1] = a1 }
    elseif np == 2 then req = { [f1] = a1, [f2] = a2 }
    else req = { [f1] = a1, [f2] = a2, [f3] = a3 } end
    return unwrap(call(rpc, req, fname, labels), ret)
  end
end

-- Specs of every function, for help, types and tests (Rust-defined ones add theirs too).
local all_specs = cloud._specs or {}
cloud._specs = all_specs
local function add(spec)
  all_specs[#all_specs + 1] = spec
  define(spec)
end
for _, spec in ipairs(specs) do add(spec) end

add { "call", fn = call, named = false, params = { "method string", "args table?", "name string?" },
  returns = { "table|any result" }, defaults_doc = { { "args", "{}" } },
  doc = 'Any method by its RPC name, e.g. cloud.call("GetRobot", {id = id}) or "pkg.Service/Method".' }

add { "default_org_id", area = "organizations", fn = function() return default_org("default_org_id") end,
  params = {}, returns = { "string org_id" }, doc = "The organization that `org_id` defaults to." }

-- get_robot_part(robot_part_id, dest, indent): like Python, `dest` receives the config as JSON.
do
  local fname = "get_robot_part"
  local function get_robot_part(a)
    local resp = call("GetRobotPart", { id = a.robot_part_id }, fname, { id = "robot_part_id" })
    if a.dest then
      local f = assert(io.open(a.dest, "w"))
      f:write(json.encode(json.decode(resp.config_json ~= "" and resp.config_json or "{}"), { indent = true }))
      f:close()
    end
    return resp.part
  end
  add { fname, "GetRobotPart", fn = get_robot_part,
    params = { "robot_part_id string", "dest string?", "indent integer?" }, returns = { "cloud.RobotPart part" },
    doc = "A machine part; `dest` receives its config as JSON." }
end

-- get_robot_part_logs: pages until num_log_entries (default 100; 0 = all) are collected or the
-- server has no next page, exactly as the Python SDK does.
do
  local fname = "get_robot_part_logs"
  local function get_robot_part_logs(a)
    local want = a.num_log_entries or 100
    if math.type(want) ~= "integer" or want < 0 then
      invalid(fname, "num_log_entries must be a non-negative integer")
    end
    local out, token = {}, ""
    repeat
      local resp = call("GetRobotPartLogs", {
        id = a.robot_part_id, filter = a.filter or "", page_token = token, levels = a.log_levels or {},
        start = a.start, ["end"] = a["end"], order = a.order, range = a.range,
      }, fname, { id = "robot_part_id", levels = "log_levels" })
      for _, e in ipairs(resp.logs) do
        if want ~= 0 and #out >= want then break end
        out[#out + 1] = e
      end
      token = resp.next_page_token
    until token == "" or (want ~= 0 and #out >= want)
    if a.dest then
      local f = assert(io.open(a.dest, "w"))
      -- As the SDK writes it: time, LEVEL, logger, file:line padded to 64, message.
      for _, e in ipairs(out) do
        local caller = type(e.caller) == "table" and e.caller or {}
        local where = string.format("%s:%d", caller.File or "", math.tointeger(tonumber(caller.Line) or 0) or 0)
        f:write(string.format("%s\t%s\t%s\t%-64s%s\n", e.time or "", string.upper(e.level or ""),
          (e.logger_name or ""):match("^[^.]*"), where, e.message or ""))
      end
      f:close()
    end
    return out
  end
  add { fname, "GetRobotPartLogs", fn = get_robot_part_logs,
    params = { "robot_part_id string", "filter string?", "dest string?", "log_levels string[]?",
      "num_log_entries integer?", "start string?", "end string?", "order string?", "range table?" },
    returns = { "cloud.LogEntry[] logs" }, defaults_doc = { { "num_log_entries", "100 (0 = all)" } },
    doc = "Logs of a machine part, paged until num_log_entries; `dest` receives them as text." }
end

-- tail_robot_part_logs{robot_part_id=, errors_only=true, filter=}: an iterator over entries.
-- The loop's closing value closes the current stream, so `break` cancels it on the server.
-- A lost stream (an error such as UNAVAILABLE, or the server ending it) is reopened with backoff.
-- When the server named a cursor (the local fleet's `fleetsh-log-cursor` header, src/server/logs.rs)
-- the new stream resumes from it: it replays what was stored since the last entry taken,
-- whatever its timestamps. Otherwise (the cloud) entries logged meanwhile are fetched with
-- GetRobotPartLogs from the newest time yielded, and entries already yielded are skipped by
-- identity, so nothing repeats.
do
  local fname = "tail_robot_part_logs"
  local sleep, warn = sleep, log.warn
  local TRANSIENT = { UNAVAILABLE = true, UNKNOWN = true, INTERNAL = true, CANCELLED = true,
    DEADLINE_EXCEEDED = true, ABORTED = true }
  local MAX_REOPENS = 10 -- about 30 s of backoff before giving up
  local CURSOR, RESUME, DELIVERED = "fleetsh-log-cursor", "fleetsh-log-resume", "fleetsh-log-delivered"

  -- Timestamps print with 0, 3, 6 or 9 fraction digits: pad to 9 so that strings compare in time order.
  local function time_key(t)
    local base, frac = (t or ""):match("^(%d+%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.?(%d*)Z$")
    if not base then return t or "" end
    return base .. "." .. (frac .. "000000000"):sub(1, 9)
  end
  local function identity(e)
    return table.concat({ e.time or "", e.level or "", e.logger_name or "", e.host or "", e.message or "" }, "\0")
  end

  local function tail_robot_part_logs(a)
    local errors_only = a.errors_only
    if errors_only == nil then errors_only = true end
    local req = { id = a.robot_part_id, errors_only = errors_only, filter = a.filter or "" }
    local labels = { id = "robot_part_id" }
    -- The current stream's cursor (nil: the server gave none) and the entries taken from it.
    local cursor, delivered = nil, 0
    local function open()
      local opts = cursor and { metadata = { [RESUME] = cursor, [DELIVERED] = tostring(delivered) } } or nil
      return cloud._call("TailRobotPartLogs", req, fname, labels, opts)
    end
    local ok, stream = open()
    if not ok then raise(stream) end
    cursor = stream:header(CURSOR)
    local function close()
      if stream then stream:close(); stream = nil end
    end
    local closer = setmetatable({}, { __close = close })
    -- For the time-based resume: the newest time yielded (as key and as text), the identities
    -- yielded at that time, and the identities fetched to fill the last gap (the new stream
    -- may deliver them again).
    local last_key, last_time, at_last, gap = nil, nil, {}, {}
    local buf, i, buf_is_gap = {}, 0, false

    local function fresh(e)
      local k, id = time_key(e.time), identity(e)
      if gap[id] and not buf_is_gap then return false end
      -- A stream with a cursor repeats nothing: only a time-based gap overlaps what was yielded.
      if (buf_is_gap or not cursor) and k == last_key and at_last[id] then return false end
      if last_key == nil or k > last_key then last_key, last_time, at_last = k, e.time, {} end
      if k == last_key then at_last[id] = true end
      return true
    end

    -- Reopens the stream; returns the entries to yield before the new stream's (by time, when
    -- there is no cursor to resume from).
    local function reopen(err)
      local delay = 0.2
      for _ = 1, MAX_REOPENS do
        warn(string.format("%s: stream lost (%s); reconnecting in %.1fs", fname, tostring(err), delay))
        sleep(delay * (0.5 + math.random()))
        delay = math.min(delay * 2, 5)
        local resumed = cursor ~= nil
        local s
        ok, s = open()
        if not ok then
          if not TRANSIENT[s.code] then raise(s) end
          err = s
        else
          stream = s
          cursor, delivered = s:header(CURSOR), 0
          if resumed and cursor then gap = {}; return {} end
          if last_time == nil then return {} end
          local fetched
          ok, fetched = pcall(cloud.get_robot_part_logs, {
            robot_part_id = a.robot_part_id, filter = a.filter, start = last_time, num_log_entries = 0,
            order = "LOG_ORDER_ASCENDING", log_levels = errors_only and { "error" } or nil,
          })
          if ok then
            gap = {}
            for _, e in ipairs(fetched) do gap[identity(e)] = true end
            return fetched
          end
          stream:close(); stream = nil
          if type(fetched) ~= "userdata" or not TRANSIENT[fetched.code] then raise(fetched) end
          err = fetched
        end
      end
      raise(err)
    end

    local function iter()
      while true do
        i = i + 1
        local e = buf[i]
        if e ~= nil then
          if not buf_is_gap then delivered = delivered + 1 end
          if fresh(e) then return e end
        else
          if stream == nil then return nil end -- closed: a loop resumed after break
          local got, resp = stream:next()
          if not got and not TRANSIENT[resp.code] then close(); raise(resp) end
          if not got or resp == nil then
            -- An error, or the server ended the stream (e.g. on restart): resume.
            stream:close(); stream = nil
            buf, i, buf_is_gap = reopen(got and "stream ended" or resp), 0, true
          elseif #resp.logs == 0 then
            -- Like the SDK: the first empty response ends the tail.
            close(); return nil
          else
            buf, i, buf_is_gap = resp.logs, 0, false
          end
        end
      end
    end
    return iter, nil, nil, closer
  end
  add { fname, "TailRobotPartLogs", fn = tail_robot_part_logs,
    params = { "robot_part_id string", "errors_only boolean?", "filter string?" },
    returns = { "fun():cloud.LogEntry? iterator" }, defaults_doc = { { "errors_only", "true" } },
    doc = "Live logs: for e in cloud.tail_robot_part_logs{...} do; `break` cancels." }
end

-- Functions made from the descriptors for the RPCs that no spec names (see src/lua/generated.rs
-- for their shape), built on first use so that a script's start does not need the descriptor
-- pool. Reading any other public name is an error that says what exists.
do
  -- Specs grow as the area files load (data.lua, billing.lua, ...): each lookup takes in
  -- the ones added since, so an RPC a file names is never offered twice.
  local covered, seen = {}, 0
  local function is_covered(shape, area)
    for i = seen + 1, #all_specs do
      local s = all_specs[i]
      if s[2] then covered[s[2]] = true end
    end
    seen = #all_specs
    return covered[shape.rpc] or (area == "" and covered[shape.method])
  end

  local function iterate(stream)
    local closer = setmetatable({}, { __close = function() stream:close() end })
    return function()
      local ok, v = stream:next()
      if not ok then stream:close(); raise(v) end
      return v
    end, nil, nil, closer
  end

  local function generated(shape, fname)
    local params, org, ret = shape.params, shape.org, shape.ret
    if shape.client_streaming then
      return function(messages) return unwrap(call(shape.rpc, messages, fname), ret) end
    end
    local allowed = { org_id = org and true or nil, limit = shape.paged or nil }
    for _, p in ipairs(params) do allowed[p] = true end
    if org then allowed[org] = true end
    return function(...)
      local a = args_of(fname, params, allowed, ...)
      local req = {}
      for k, v in pairs(a) do if k ~= "org_id" and k ~= "limit" then req[k] = v end end
      if org and req[org] == nil then req[org] = a.org_id or default_org(fname) end
      local labels = org and org ~= "org_id" and { [org] = "org_id" } or nil
      if shape.server_streaming then return iterate(call(shape.rpc, req, fname, labels)) end
      if not shape.paged then
        local resp = call(shape.rpc, req, fname, labels)
        -- Without a single field to return, the whole reply (as generated.rs documents).
        if ret == nil then return resp end
        return unwrap(resp, ret)
      end
      local limit = a.limit
      if limit ~= nil and (math.type(limit) ~= "integer" or limit < 0) then
        invalid(fname, "limit must be a non-negative integer")
      end
      local out, token = {}, ""
      repeat
        req.page_token = token
        local resp = call(shape.rpc, req, fname, labels)
        for _, x in ipairs(resp[ret]) do
          if limit and #out >= limit then break end
          out[#out + 1] = x
        end
        token = resp.next_page_token
      until token == "" or (limit and #out >= limit)
      return out
    end
  end

  -- The public names of an area's table: what is defined plus what would be generated.
  local function names_of(t, area)
    local names = {}
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" and (type(v) == "function" or type(v) == "table") then
        names[#names + 1] = k
      end
    end
    for _, n in ipairs(cloud._generated(area)) do
      if rawget(t, n) == nil then
        local shape = cloud._shape(area, n)
        if not is_covered(shape, area) then names[#names + 1] = n end
      end
    end
    if area == "" then
      for _, a in ipairs(cloud._areas()) do if rawget(t, a) == nil then names[#names + 1] = a end end
    end
    table.sort(names)
    return names
  end

  -- Areas whose functions are Lua files of their own (data.lua, billing.lua: src/lua/mod.rs),
  -- loaded when their area is first read: parsing them is most of a state's setup, which a
  -- script that never reads them should not pay for at every start.
  local loaded_files = {}
  local function load_file_of(area)
    local file = cloud._area_file(area)
    if file and not loaded_files[file] then
      loaded_files[file] = true
      cloud._area_chunk(file)(cloud)
    end
  end

  local install
  install = function(t, area)
    local prefix = area == "" and "cloud." or "cloud." .. area .. "."
    setmetatable(t, { __index = function(self, k)
      if type(k) ~= "string" or k:sub(1, 1) == "_" then return nil end
      if area == "" then
        for _, a in ipairs(cloud._areas()) do
          if a == k then
            local sub = {}
            install(sub, a)
            rawset(self, k, sub)
            load_file_of(a)
            return sub
          end
        end
      end
      local shape = cloud._shape(area, k)
      if shape and not is_covered(shape, area) then
        local f = generated(shape, prefix:sub(7) .. k)
        rawset(self, k, f)
        return f
      end
      local near = cloud._closest(k, names_of(self, area))
      error(string.format("%s%s does not exist; %s", prefix, k,
        near and ("did you mean " .. prefix .. near .. "?") or "help() lists the functions"), 2)
    end })
    -- `cloud._functions()` / `cloud.robot._functions()`: every public name, generated included.
    rawset(t, "_functions", function() return names_of(t, area) end)
  end
  install(cloud, "")
end
