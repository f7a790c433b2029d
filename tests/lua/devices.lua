-- Firebase config and device push tokens: stored and returned, nothing sent to Firebase.
local app_id = "lua-app-" .. os.time() .. math.random(1e6)
cloud.set_firebase_config(app_id, '{"type": "service_account"}')
assert(cloud.get_firebase_config() == app_id)
cloud.upload_device_push_token(app_id, "token-1", "phone-1")
cloud.upload_device_push_token{ app_id = app_id, device_token = "token-2", device_uuid = "phone-2" }
local tokens = cloud.get_device_push_tokens(app_id)
assert(#tokens == 2 and tokens[1] == "token-1" and tokens[2] == "token-2", table.concat(tokens, ","))
cloud.delete_device_push_token(app_id, "phone-1")
assert(#cloud.get_device_push_tokens(app_id) == 1)
cloud.delete_firebase_config(app_id)
local ok, err = pcall(cloud.get_firebase_config)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
print("devices ok")
