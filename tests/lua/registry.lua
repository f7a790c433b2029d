-- Registry items: a module is the item of type module; ML models are items of their own;
-- filters, deprecations (of items and of uploaded versions), rename, transfer, delete.
local tag = "reg" .. os.time() .. math.random(1e6)
local org = cloud.get_organization()
local ns = org.public_namespace ~= "" and org.public_namespace or org.id

cloud.create_registry_item(tag .. "mod", "PACKAGE_TYPE_MODULE")
cloud.create_registry_item{ name = tag .. "ml", type = "PACKAGE_TYPE_ML_MODEL" }
local mod_id, ml_id = ns .. ":" .. tag .. "mod", ns .. ":" .. tag .. "ml"
-- The module item is the module.
assert(cloud.get_module(mod_id).name == tag .. "mod")
local item = cloud.get_registry_item(mod_id)
assert(item.type == "PACKAGE_TYPE_MODULE" and item.visibility == "VISIBILITY_PRIVATE", item.type)

cloud.update_registry_item(ml_id, "PACKAGE_TYPE_ML_MODEL", "finds cats", "VISIBILITY_PUBLIC")
item = cloud.get_registry_item{ item_id = ml_id }
assert(item.description == "finds cats" and item.visibility == "VISIBILITY_PUBLIC")
local ok, err = pcall(cloud.update_registry_item, ml_id, "PACKAGE_TYPE_MODULE", "x", "VISIBILITY_PRIVATE")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

local names = {}
for _, x in ipairs(cloud.list_registry_items{ types = { "PACKAGE_TYPE_ML_MODEL" }, search_term = tag }) do
  names[#names + 1] = x.name
end
assert(#names == 1 and names[1] == tag .. "ml", table.concat(names, ","))

-- Versions are uploaded module files.
cloud.upload_module_file({ module_id = mod_id, version = "1.0.0", platform = "linux/amd64" }, "\127ELF")
cloud.deprecate_registry_item_version(mod_id, "1.0.0", "crashes")
item = cloud.get_registry_item(mod_id)
assert(item.module_metadata.versions[1].deprecated_status.message == "crashes")
cloud.undeprecate_registry_item_version(mod_id, "1.0.0")
assert(cloud.get_registry_item(mod_id).module_metadata.versions[1].deprecated_status == nil)
ok, err = pcall(cloud.deprecate_registry_item_version, mod_id, "9.9.9", "m")
assert(not ok and err.code == "NOT_FOUND", tostring(err))

cloud.deprecate_registry_item(ml_id, "use another")
assert(cloud.get_registry_item(ml_id).deprecated_status.message == "use another")
assert(#cloud.list_registry_items{ search_term = tag .. "ml" } == 0)
cloud.undeprecate_registry_item(ml_id)
assert(#cloud.list_registry_items{ search_term = tag .. "ml" } == 1)

-- Made from the descriptors: fields by name, the reply's single field returned.
local renamed = cloud.rename_registry_item{ item_id = ml_id, new_name = tag .. "ml2" }
assert(renamed.item_id == ns .. ":" .. tag .. "ml2", renamed.item_id)
cloud.transfer_registry_item{ item_id = renamed.item_id, new_public_namespace = ns }
cloud.delete_registry_item(renamed.item_id)
ok, err = pcall(cloud.get_registry_item, renamed.item_id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
cloud.delete_registry_item(mod_id)
ok, err = pcall(cloud.get_module, mod_id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
print("registry ok")
