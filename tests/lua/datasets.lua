-- Datasets (issue 12): create, list, rename, merge and delete datasets; put binary data in (by id
-- and at upload), find it by a dataset filter, take it out.
local loc = cloud.create_location("datasets-" .. os.time()).id
local part = cloud.get_robot_parts(cloud.new_robot("cam-bot", loc))[1].id
local function image(dataset_ids)
  return cloud.data.binary_data_capture_upload("jpeg bytes", part, "rdk:component:camera", "cam", "GetImages",
    ".jpg", nil, nil, dataset_ids, nil, "image/jpeg")
end
local function members(id)
  local data, count = cloud.data.binary_data_by_filter({ dataset_id = id }, 100, nil, nil, false)
  local ids = {}
  for i, d in ipairs(data) do ids[i] = d.metadata.binary_data_id end
  assert(count == #ids, "count " .. tostring(count) .. " for " .. #ids)
  table.sort(ids)
  return table.concat(ids, ",")
end
local function sorted(...)
  local t = { ... }
  table.sort(t)
  return table.concat(t, ",")
end

local cats = cloud.data.create_dataset("cats")
assert(type(cats) == "string" and cats ~= "", "a dataset id")
local ok, err = pcall(cloud.data.create_dataset, "cats")
assert(not ok and err.code == "ALREADY_EXISTS", tostring(err))

local a, b = image(), image()
local c = image({ cats })
assert(members(cats) == c, members(cats))
cloud.data.add_binary_data_to_dataset_by_ids({ a, b }, cats)
assert(members(cats) == sorted(a, b, c), members(cats))
local meta = cloud.data.binary_data_by_ids({ a }, false)[1].metadata
assert(meta.dataset_ids[1] == cats and #meta.dataset_ids == 1)

cloud.data.remove_binary_data_from_dataset_by_ids{ binary_ids = { b }, dataset_id = cats }
assert(members(cats) == sorted(a, c), members(cats))

local dogs = cloud.data.create_dataset{ name = "dogs", type = "DATASET_TYPE_BINARY_DATA" }
cloud.data.add_binary_data_to_dataset_by_ids({ b }, dogs)
local pets = cloud.data.merge_datasets("pets", { cats, dogs })
assert(members(pets) == sorted(a, b, c), members(pets))

cloud.data.rename_dataset(cats, "felines")
local names = {}
for _, d in ipairs(cloud.data.list_datasets_by_organization_id()) do names[#names + 1] = d.name end
table.sort(names)
assert(table.concat(names, ",") == "dogs,felines,pets", table.concat(names, ","))
assert(#cloud.data.list_datasets_by_organization_id("DATASET_TYPE_SEQUENCE_DATA") == 0)
local listed = cloud.data.list_dataset_by_ids({ cats, dogs })
assert(listed[1].name == "felines" and listed[2].id == dogs and listed[1].organization_id == cloud.default_org_id())

cloud.data.delete_dataset(cats)
ok, err = pcall(cloud.data.list_dataset_by_ids, { cats })
assert(not ok and err.code == "NOT_FOUND", tostring(err))
-- The data stays.
assert(#cloud.data.binary_data_by_ids({ a, c }, false) == 2)
assert(members(pets) == sorted(a, b, c))

print("datasets ok")
