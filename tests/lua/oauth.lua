-- OAuth apps of the organization, stored and returned. These RPCs have no Python method in
-- the SDK this project follows: the functions come from the descriptors (snake_case names).
local config = {
  client_authentication = "CLIENT_AUTHENTICATION_REQUIRED",
  pkce = "PKCE_REQUIRED",
  url_validation = "URL_VALIDATION_EXACT_MATCH",
  redirect_uris = { "https://example.com/cb" },
  enabled_grants = { "ENABLED_GRANT_AUTHORIZATION_CODE", "ENABLED_GRANT_REFRESH_TOKEN" },
}
local made = cloud.create_oauth_app{ client_name = "portal", oauth_config = config }
assert(#made.client_secret >= 32, made.client_id)
assert(tostring(made.client_secret) == "****", "an OAuth client secret is a Secret")
local app = cloud.read_oauth_app{ client_id = made.client_id }
assert(app.client_name == "portal" and #app.client_secret == 0, app.client_name)
assert(app.oauth_config.redirect_uris[1] == "https://example.com/cb")
assert(app.oauth_config.enabled_grants[2] == "ENABLED_GRANT_REFRESH_TOKEN", app.oauth_config.enabled_grants[2])

config.redirect_uris = { "https://example.com/v2/cb" }
cloud.update_oauth_app{ client_id = made.client_id, client_name = "portal v2", oauth_config = config }
app = cloud.read_oauth_app{ client_id = made.client_id }
assert(app.client_name == "portal v2" and app.oauth_config.redirect_uris[1] == "https://example.com/v2/cb")

local found = false
for _, id in ipairs(cloud.list_oauth_apps()) do
  found = found or id == made.client_id
end
assert(found, "the new app is not listed")

config.redirect_uris = { "example.com/cb" }
local ok, err = pcall(cloud.create_oauth_app, { client_name = "bad", oauth_config = config })
assert(not ok and err.code == "INVALID_ARGUMENT" and err.message:find("redirect_uris", 1, true), tostring(err))

-- A user signed up through the app, with tokens of its own; an email signs up once.
local signup = { application_id = made.client_id, email = "ada@example.com", first_name = "Ada",
  last_name = "Lovelace", password = "correct horse battery" }
local user = cloud.create_oauth_app_user(signup)
assert(user.user_id ~= "" and #user.auth_token > 0 and #user.refresh_token > 0, user.user_id)
assert(tostring(user.auth_token) == "****" and tostring(user.refresh_token) == "****", "tokens are secrets")
ok, err = pcall(cloud.create_oauth_app_user, signup)
assert(not ok and err.code == "ALREADY_EXISTS", tostring(err))

cloud.delete_oauth_app{ client_id = made.client_id }
ok, err = pcall(cloud.read_oauth_app, { client_id = made.client_id })
assert(not ok and err.code == "NOT_FOUND", tostring(err))

-- A hosted app declared by a module: its branding, and NOT_FOUND for files never uploaded.
local org = cloud.get_organization().id
-- Raw calls: the Python-shaped update_module takes no apps.
local module_id = cloud.call("CreateModule", { organization_id = org, name = "viewer" }).module_id
cloud.call("UpdateModule", { module_id = module_id, visibility = "VISIBILITY_PRIVATE", url = "https://example.com",
  description = "d", entrypoint = "run.sh",
  apps = { { name = "dashboard", type = "multi_machine", entrypoint = "dist/index.html", logo_path = "logo.png" } } })
local branding = cloud.get_app_branding{ public_namespace = org, name = "dashboard" }
assert(branding.logo_path == "logo.png", tostring(branding.logo_path))
ok, err = pcall(cloud.get_app_content, { public_namespace = org, name = "dashboard" })
assert(not ok and err.code == "NOT_FOUND" and err.message:find("UploadModuleFile", 1, true), tostring(err))
print("oauth ok")
