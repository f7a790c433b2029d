-- Sequences (issue 12): create, get, update, list (a page, every page as a list and as an
-- iterator), the binary data a sequence selects (its bytes, paged), sequence datasets, delete.
local loc = cloud.create_location("sequences-" .. os.time()).id
local part = cloud.get_robot_parts(cloud.new_robot("cam-bot", loc))[1].id
local function frame(bytes, component, method, time)
  return cloud.data.binary_data_capture_upload(bytes, part, "rdk:component:camera", component, method, ".jpg",
    nil, nil, nil, { time, time }, "image/jpeg")
end
local f0 = frame("frame-0", "cam", "GetImages", "2024-01-01T00:00:00Z")
local f1 = frame("frame-1", "cam", "GetImages", "2024-01-01T00:00:10Z")
local pc = frame("cloud", "cam", "NextPointCloud", "2024-01-01T00:00:20Z")
frame("late", "cam", "GetImages", "2024-01-02T00:00:00Z")

local id = cloud.data.create_sequence(part, { { resource_name = "cam", method_name = "GetImages" } },
  "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", { "run-b", "run-a" })
assert(type(id) == "string" and id ~= "", "a sequence id")
local s = cloud.data.get_sequence(id)
assert(s.id == id and s.part_id == part, tostring(s.part_id))
assert(table.concat(s.sequence_tags, ",") == "run-a,run-b", table.concat(s.sequence_tags, ","))
assert(s.resources[1].resource_name == "cam" and s.resources[1].method_name == "GetImages")
assert(s.start_time == "2024-01-01T00:00:00Z", tostring(s.start_time))

-- One page as Python returns it, then every page.
local data, token = cloud.data.get_sequence_binary_data(id, nil, 1)
assert(#data == 1 and data[1].binary == "frame-0" and data[1].metadata.binary_data_id == f0)
assert(token ~= "", "a next page")
data, token = cloud.data.get_sequence_binary_data{ sequence_id = id, page_token = token, page_size = 1 }
assert(#data == 1 and data[1].metadata.binary_data_id == f1 and token == "", tostring(token))
local ids = {}
for d in cloud.data.iter_get_sequence_binary_data(id, 1) do ids[#ids + 1] = d.metadata.binary_data_id end
assert(table.concat(ids, ",") == f0 .. "," .. f1, table.concat(ids, ","))

-- Only the named fields change: any method of cam now, tags cleared.
cloud.data.update_sequence{ id = id, resources = { { resource_name = "cam" } }, sequence_tags = {} }
s = cloud.data.get_sequence(id)
assert(#s.sequence_tags == 0 and s.resources[1].method_name == "")
assert(s.end_time == "2024-01-01T01:00:00Z", tostring(s.end_time))
local all = cloud.data.get_sequence_binary_data_all(id)
assert(#all == 3 and all[3].metadata.binary_data_id == pc and all[3].binary == "cloud", #all)
local ok, err = pcall(cloud.data.update_sequence, id)
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
ok, err = pcall(cloud.data.update_sequence, id, nil, nil, "2024-01-03T00:00:00Z")
assert(not ok and err.code == "INVALID_ARGUMENT" and tostring(err):find("end_time"), tostring(err))

local second = cloud.data.create_sequence{ part_id = part, resources = { { resource_name = "cam" } },
  start_time = "2024-01-02T00:00:00Z", end_time = "2024-01-03T00:00:00Z" }
local page, next_token = cloud.data.list_sequences(nil, 1)
assert(#page == 1 and page[1].id == id and next_token ~= "")
local listed = {}
for q in cloud.data.iter_list_sequences{ page_size = 1 } do listed[#listed + 1] = q.id end
assert(table.concat(listed, ",") == id .. "," .. second, table.concat(listed, ","))
assert(#cloud.data.list_sequences_all() == 2)

-- Sequence datasets.
local clips = cloud.data.create_dataset("clips", "DATASET_TYPE_SEQUENCE_DATA")
cloud.data.add_sequences_to_dataset(clips, { id, second })
local in_clips, _, count = cloud.data.sequences_by_dataset_id(clips)
assert(#in_clips == 2 and count == 2, tostring(count))
local _, _, only = cloud.data.sequences_by_dataset_id{ dataset_id = clips, count_only = true }
assert(only == 2)
assert(cloud.data.get_sequence(id).dataset_ids[1] == clips)
cloud.data.remove_sequences_from_dataset(clips, { id })
local left = {}
for q in cloud.data.iter_sequences_by_dataset_id(clips, 1) do left[#left + 1] = q.id end
assert(table.concat(left, ",") == second, table.concat(left, ","))
assert(#cloud.data.sequences_by_dataset_id_all(clips) == 1)
local frames = cloud.data.create_dataset("frames")
ok, err = pcall(cloud.data.add_sequences_to_dataset, frames, { id })
assert(not ok and err.code == "FAILED_PRECONDITION", tostring(err))

cloud.data.delete_sequence(id)
ok, err = pcall(cloud.data.get_sequence, id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
-- Its data stays.
assert(#cloud.data.binary_data_by_ids({ f0, f1 }, false) == 2)

print("sequences ok")
