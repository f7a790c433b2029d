-- Saved queries, custom indexes and signed URLs: a saved pipeline runs by
-- name before the query's own stages, indexes are recorded per collection and listed back, and
-- a signed URL fetched over plain HTTP gives the uploaded bytes (the embedded fleet's URL points
-- at its own socket).
local loc = cloud.create_location("queries-" .. os.time()).id
local part = cloud.get_robot_parts(cloud.new_robot("q-bot", loc))[1].id
cloud.data.tabular_data_capture_upload({ { readings = { temp = 20 } }, { readings = { temp = 30 } } }, part,
  "rdk:component:sensor", "temp", "Readings",
  { { "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z" }, { "2024-01-01T00:01:00Z", "2024-01-01T00:01:01Z" } })
cloud.data.tabular_data_capture_upload({ { readings = { temp = 99 } } }, part, "rdk:component:sensor", "other",
  "Readings", { { "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z" } })

-- Saved queries.
local newest_temp = { { ["$match"] = { component_name = "temp" } }, { ["$sort"] = { { "time_requested", -1 } } } }
local id = cloud.data.create_saved_query("temps", newest_temp)
local q = cloud.data.get_saved_query(id)
assert(q.id == id and q.name == "temps" and q.organization_id == cloud.default_org_id(), q.name)
assert(#q.query == 2 and q.query[1]["$match"].component_name == "temp" and #q.mql_binary == 2)
assert(q.created_on == q.updated_at, tostring(q.created_on) .. " " .. tostring(q.updated_at))
local ok, err = pcall(cloud.data.create_saved_query, "temps", { { ["$limit"] = 1 } })
assert(not ok and err.code == "ALREADY_EXISTS", tostring(err))
ok, err = pcall(cloud.data.create_saved_query, "empty", {})
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

local rows = cloud.data.tabular_data_by_mql{ query = { { ["$limit"] = 1 } }, query_prefix_name = "temps" }
assert(#rows == 1 and rows[1].data.readings.temp == 30, "the saved stages ran first: " .. #rows)
ok, err = pcall(cloud.data.tabular_data_by_mql, { query = {}, query_prefix_name = "nope" })
assert(not ok and err.code == "NOT_FOUND", tostring(err))

cloud.data.update_saved_query(id, "hot", { { ["$match"] = { component_name = "other" } } })
q = cloud.data.get_saved_query(id)
assert(q.name == "hot" and #q.query == 1 and q.query[1]["$match"].component_name == "other")
rows = cloud.data.tabular_data_by_mql{ query = {}, query_prefix_name = "hot" }
assert(#rows == 1 and rows[1].data.readings.temp == 99)
cloud.data.update_saved_query{ id = id, name = "renamed" }
assert(#cloud.data.get_saved_query(id).query == 1, "a rename keeps the pipeline")

local second = cloud.data.create_saved_query{ name = "second", query = { { ["$count"] = "n" } } }
local all = cloud.data.list_saved_queries()
assert(#all == 2 and all[1].id == id and all[2].id == second and all[2].query[1]["$count"] == "n")
assert(#cloud.data.list_saved_queries(1) == 1)
cloud.data.delete_saved_query(id)
ok, err = pcall(cloud.data.get_saved_query, id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
assert(#cloud.data.list_saved_queries() == 1)

-- Custom indexes.
local HOT = "INDEXABLE_COLLECTION_HOT_STORE"
cloud.data.create_index(HOT, { key = { { "component_name", 1 }, { "time_received", -1 } },
  options = { name = "by_component" } })
cloud.data.create_index(HOT, { ["data.readings.temp"] = 1 })
local ixs = cloud.data.list_indexes(HOT)
assert(#ixs == 2 and ixs[1].index_name == "by_component" and ixs[2].index_name == "data.readings.temp_1",
  tostring(#ixs))
assert(ixs[1].created_by == "INDEX_CREATOR_CUSTOMER" and ixs[1].collection_type == HOT)
assert(ixs[1].index_spec[1].time_received == -1 and ixs[1].index_spec[2].name == "by_component")
ok, err = pcall(cloud.data.create_index, HOT, { key = { component_name = 1 }, options = { name = "by_component" } })
assert(not ok and err.code == "ALREADY_EXISTS", tostring(err))
ok, err = pcall(cloud.data.create_index, HOT, { component_name = 2 })
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
cloud.data.create_index{ collection_type = "INDEXABLE_COLLECTION_PIPELINE_SINK", pipeline_name = "p1",
  index_spec = { robot_id = 1 } }
local sink = cloud.data.list_indexes("INDEXABLE_COLLECTION_PIPELINE_SINK", "p1")
assert(#sink == 1 and sink[1].index_name == "robot_id_1" and sink[1].pipeline_name == "p1")
cloud.data.delete_index(HOT, "by_component")
ixs = cloud.data.list_indexes(HOT)
assert(#ixs == 1 and ixs[1].index_name == "data.readings.temp_1")
ok, err = pcall(cloud.data.delete_index, HOT, "by_component")
assert(not ok and err.code == "NOT_FOUND", tostring(err))

-- Signed URLs.
local bytes = "\0\1png\255" .. string.rep("x", 100000)
local bin = cloud.data.binary_data_capture_upload(bytes, part, "rdk:component:camera", "cam", "GetImages", ".png",
  nil, nil, nil, nil, "image/png")
local url, expires = cloud.data.create_binary_data_signed_url(bin, 5)
assert(url:match("^https?://127%.0%.0%.1:%d+/signed%-url/%w+$"), url)
assert(type(expires) == "string" and expires:match("^%d%d%d%d%-"), tostring(expires))
local r = http.request{ url = url }
assert(r.status == 200 and r.body == bytes and r.headers["content-type"] == "image/png", tostring(r.status))
local last = url:sub(-1)
local altered = url:sub(1, -2) .. (last == "a" and "b" or "a")
assert(http.request{ url = altered }.status == 403)
ok, err = pcall(cloud.data.create_binary_data_signed_url, bin, 0)
assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))

print("data_queries ok")
