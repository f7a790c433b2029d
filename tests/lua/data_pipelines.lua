-- Data pipelines: the Python DataClient's pipeline methods, MQL as stage
-- tables; a backfilling pipeline runs the windows since the oldest reading; its results are
-- queried back from the sink; enable and disable come from the descriptors.
local loc = cloud.create_location("pipes-" .. os.time()).id
local part = cloud.get_robot_parts(cloud.new_robot("pipe-bot", loc))[1].id
local now = os.time()
local function at(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end
cloud.data.tabular_data_capture_upload(
  { { readings = { temp = 10.0 } }, { readings = { temp = 30.0 } } },
  part, "rdk:component:sensor", "temp", "Readings",
  { { at(now - 3 * 3600), at(now - 3 * 3600) }, { at(now - 3 * 3600), at(now - 3 * 3600) } })

local mql = { { ["$match"] = { component_name = "temp" } },
  { ["$group"] = { _id = "$component_name", n = { ["$sum"] = 1 }, avg = { ["$avg"] = "$data.readings.temp" } } } }
local id = cloud.data.create_data_pipeline("hourly", mql, "0 * * * *", true)
local p = cloud.data.get_data_pipeline(id)
assert(p.name == "hourly" and p.enabled and p.schedule == "0 * * * *", tostring(p.name))
assert(p.mql_binary[1]["$match"].component_name == "temp", "the MQL comes back as tables")
assert(#cloud.data.list_data_pipelines() == 1)

-- The reading's hour and the two after it have ended: three runs, newest first.
local page = cloud.data.list_data_pipeline_runs(id, 2)
assert(page.pipeline_id == id and #page.runs == 2 and page.next_page_token ~= "", #page.runs)
local rest = page:next_page()
assert(#rest.runs == 1 and rest.runs[1].status == "DATA_PIPELINE_RUN_STATUS_COMPLETED", tostring(#rest.runs))
assert(#rest:next_page().runs == 0)
local sink = cloud.data.tabular_data_by_mql({ { ["$limit"] = 10 } }, nil, "TABULAR_DATA_SOURCE_TYPE_PIPELINE_SINK", id)
assert(#sink == 1 and sink[1].n == 2 and sink[1].avg == 20.0, "the run's result: " .. #sink)
assert(sink[1]._viam_pipeline_run.organization_id == cloud.default_org_id())

-- Another hour passes: one more run (with nothing in its window).
cloud.admin.advance_clock("1h")
assert(#cloud.data.list_data_pipeline_runs{ id = id, page_size = 10 }.runs == 4)
local seen, last_start = 0, nil
for run in cloud.data.iter_data_pipeline_runs(id, 3) do
  seen = seen + 1
  assert(last_start == nil or run.data_start_time < last_start, "newest first")
  last_start = run.data_start_time
end
assert(seen == 4, "iterated " .. seen)

cloud.data.disable_data_pipeline(id)
assert(not cloud.data.get_data_pipeline(id).enabled)
cloud.data.enable_data_pipeline(id)
assert(cloud.data.get_data_pipeline{ id = id }.enabled)
cloud.data.rename_data_pipeline(id, "renamed")
assert(cloud.data.list_data_pipelines()[1].name == "renamed")
local ok, err = pcall(cloud.data.create_data_pipeline, "bad", { { ["$lookup"] = {} } }, "0 * * * *", false)
assert(not ok and err.code == "INVALID_ARGUMENT" and tostring(err):find("$lookup", 1, true), tostring(err))
cloud.data.delete_data_pipeline(id)
ok, err = pcall(cloud.data.get_data_pipeline, id)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
print("data_pipelines ok")
