-- White-label settings, stored and returned: support email, logo (a data: URL back), billing
-- config. These RPCs have no Python method: the functions come from the descriptors.
local org = cloud.get_organization().id
cloud.organization_set_support_email{ org_id = org, email = "help@example.com" }
assert(cloud.organization_get_support_email{ org_id = org } == "help@example.com")
local png = "\137PNG\r\n\26\n" .. string.rep("\0", 16)
cloud.organization_set_logo{ org_id = org, logo = png }
local url = cloud.organization_get_logo{ org_id = org }
assert(url:sub(1, 22) == "data:image/png;base64,", url)
local ok, err = pcall(cloud.organization_set_logo, { org_id = org, logo = "GIF89a" })
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

local address = { address_line_1 = "1 Main St", city = "Springfield", state = "IL", zipcode = "62701", country = "US" }
cloud.enable_billing_service{ org_id = org, billing_address = address }
address.city = "Chicago"
cloud.update_billing_service{ org_id = org, billing_address = address }
local config = cloud.get_billing_service_config{ org_id = org }
assert(config.billing_address.city == "Chicago" and config.support_email == "help@example.com", config.support_email)
assert(config.logo_url == url)
cloud.disable_billing_service{ org_id = org }
assert(cloud.get_billing_service_config{ org_id = org }.billing_address == nil)
ok, err = pcall(cloud.disable_billing_service, { org_id = org })
assert(not ok and err.code == "FAILED_PRECONDITION", tostring(err))
cloud.enable_auth_service{ org_id = org }
ok, err = pcall(cloud.enable_auth_service, { org_id = org })
assert(not ok and err.code == "ALREADY_EXISTS", tostring(err))
cloud.disable_auth_service{ org_id = org }
print("white_label ok")
