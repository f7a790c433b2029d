-- Captured data (issue 12): upload readings, query them by filter, SQL and MQL, get the latest,
-- export them, delete by age; binary data by file, capture and stream, by ids and filter, tags
-- and bounding boxes.
local loc = cloud.create_location("data-" .. os.time()).id
local part = cloud.get_robot_parts(cloud.new_robot("sensor-bot", loc))[1].id
local now = os.time()
local function at(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- Readings: one 30 days old, two recent.
local file_id = cloud.data.tabular_data_capture_upload(
  { { readings = { temp = 5.0 } }, { readings = { temp = 21.5 } }, { readings = { temp = 23.0 } } },
  part, "rdk:component:sensor", "temp", "Readings",
  { { at(now - 30 * 86400), at(now - 30 * 86400) }, { at(now - 20), at(now - 19) }, { at(now - 10), at(now - 9) } },
  nil, { "lab" })
assert(type(file_id) == "string" and file_id ~= "", "an upload id")

local rows, count, last = cloud.data.tabular_data_by_filter({ component_name = "temp" }, 2, "ORDER_ASCENDING")
assert(count == 3 and #rows == 2, "count " .. tostring(count) .. ", page " .. #rows)
assert(rows[1].data.readings.temp == 5.0 and rows[2].metadata.robot_name == "sensor-bot")
local more = cloud.data.tabular_data_by_filter{ filter = { component_name = "temp" }, last = last }
assert(#more == 1 and more[1].data.readings.temp == 23.0, "the next page")

local captured, synced, payload = cloud.data.get_latest_tabular_data(part, "temp", "rdk:component:sensor", "Readings")
assert(payload.readings.temp == 23.0 and captured == at(now - 10), tostring(captured))
assert(type(synced) == "string")
assert(cloud.data.get_latest_tabular_data(part, "nothing", "rdk:component:sensor", "Readings") == nil)

local exported = cloud.data.export_tabular_data(part, "temp", "rdk:component:sensor", "Readings", at(now - 3600))
assert(#exported == 2 and exported[2].payload.readings.temp == 23.0 and exported[1].robot_name == "sensor-bot")
local n = 0
for p in cloud.data.iter_export_tabular_data{ part_id = part, resource_name = "temp" } do
  n = n + 1
  assert(p.part_id == part)
end
assert(n == 3, "iterated " .. n)

-- SQL: plain tables, dates as strings, integers as integers.
local sql = cloud.data.tabular_data_by_sql(
  "SELECT component_name, data ->> '$.readings.temp' AS t, time_requested, tags, COUNT(*) OVER () AS n " ..
  "FROM readings ORDER BY t DESC")
assert(#sql == 3 and sql[1].t == 23.0 and sql[1].tags[1] == "lab", json.encode(sql[1]))
assert(math.type(sql[1].n) == "integer" and sql[1].n == 3)
assert(sql[1].time_requested:match("^%d%d%d%d%-%d%d%-%d%dT.*Z$"), sql[1].time_requested)
local ok, err = pcall(cloud.data.tabular_data_by_sql, "DELETE FROM readings")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

-- MQL: stages as tables; $sort with pairs keeps its order.
local groups = cloud.data.tabular_data_by_mql({
  { ["$match"] = { ["data.readings.temp"] = { ["$gt"] = 10 } } },
  { ["$group"] = { _id = "$component_name", n = { ["$sum"] = 1 }, avg = { ["$avg"] = "$data.readings.temp" } } },
})
assert(#groups == 1 and groups[1]._id == "temp" and groups[1].n == 2 and groups[1].avg == 22.25, json.encode(groups))
local sorted = cloud.data.tabular_data_by_mql{ query = {
  { ["$sort"] = { { "component_name", 1 }, { "data.readings.temp", -1 } } },
  { ["$project"] = { t = "$data.readings.temp" } },
  { ["$limit"] = 2 },
} }
assert(#sorted == 2 and sorted[1].t == 23.0 and sorted[2].t == 21.5, json.encode(sorted))
-- Times as RFC 3339 text compare with the readings' dates.
local recent = cloud.data.tabular_data_by_mql({ { ["$match"] = { time_requested = { ["$gte"] = at(now - 3600) } } },
  { ["$count"] = "n" } })
assert(recent[1].n == 2, json.encode(recent))
ok, err = pcall(cloud.data.tabular_data_by_mql, { { ["$lookup"] = { from = "x" } } })
assert(not ok and tostring(err):find("$lookup", 1, true), tostring(err))

-- Delete what is older than a week: the 30-day-old reading only.
assert(cloud.data.delete_tabular_data(7) == 1)
assert(#cloud.data.tabular_data_by_sql("SELECT 1 AS x FROM readings") == 2)

-- Binary data: a file, a capture and a stream.
local tmp = os.tmpname()
local f = assert(io.open(tmp .. ".txt", "wb"))
f:write(string.rep("x", 3 * 1024 * 1024 + 7))
f:close()
local big = cloud.data.file_upload_from_path(tmp .. ".txt", part, nil, "files")
os.remove(tmp .. ".txt")
os.remove(tmp)
local small = cloud.data.file_upload(part, "hello", nil, "files", nil, "greeting", nil, ".txt", { "raw" })
local jpg = cloud.data.binary_data_capture_upload("jpeg bytes", part, "rdk:component:camera", "cam", "GetImages",
  "jpg", nil, nil, nil, nil, "image/jpeg")
local streamed = cloud.data.streaming_data_capture_upload(string.rep("s", 100000), part, "bin", nil, "stream")

local got = cloud.data.binary_data_by_ids({ big, small })
assert(#got == 2 and #got[1].binary == 3 * 1024 * 1024 + 7 and got[2].binary == "hello")
assert(got[2].metadata.file_name == "greeting" and got[2].metadata.file_ext == ".txt")
local dest = os.tmpname()
cloud.data.binary_data_by_ids({ streamed }, true, dest)
local df = assert(io.open(dest, "rb"))
assert(#df:read("a") == 100000)
df:close()
os.remove(dest)
assert(cloud.data.binary_data_by_ids({ jpg }, false)[1].binary == "")

local page, total = cloud.data.binary_data_by_filter({ mime_type = { "image/jpeg" } })
assert(total == 1 and page[1].binary == "jpeg bytes" and page[1].metadata.capture_metadata.mime_type == "image/jpeg")

-- Tags.
cloud.data.add_tags_to_binary_data_by_ids({ "cat", "dog" }, { jpg })
assert(cloud.data.remove_tags_from_binary_data_by_ids({ "dog" }, { jpg }) == 1)
cloud.data.add_tags_to_binary_data_by_filter({ "file" }, { component_name = "files" })
assert(cloud.data.remove_tags_from_binary_data_by_filter({ "file" }, { component_name = "files" }) == 2)
local tags = cloud.data.tags_by_filter()
assert(table.concat(tags, ",") == "cat,lab,raw", table.concat(tags, ","))

-- Bounding boxes and their labels.
local box = cloud.data.add_bounding_box_to_image_by_id(jpg, "cat", 0.1, 0.1, 0.5, 0.5)
cloud.data.update_bounding_box(jpg, box, "lion", 0.1, 0.1, 0.6, 0.6, 0.9)
assert(table.concat(cloud.data.bounding_box_labels_by_filter(), ",") == "lion")
local b = cloud.data.binary_data_by_ids({ jpg }, false)[1].metadata.annotations.bboxes[1]
assert(b.label == "lion" and b.x_max_normalized == 0.6 and b.confidence == 0.9)
cloud.data.remove_bounding_box_from_image_by_id(box, jpg)
assert(#cloud.data.bounding_box_labels_by_filter() == 0)

-- Deletion.
assert(cloud.data.delete_binary_data_by_ids({ big }) == 1)
assert(cloud.data.delete_binary_data_by_filter({ component_name = "files" }) == 1)
local _, left = cloud.data.binary_data_by_filter()
assert(left == 2, "left " .. tostring(left))

-- The database connection: nothing remote on the local fleet.
assert(cloud.data.get_database_connection() == "")
cloud.data.configure_database_user("long enough")
ok, err = pcall(cloud.data.configure_database_user, "short")
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

print("data ok")
