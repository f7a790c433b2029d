-- Sequence dataset exports: start an export of a sequence dataset,
-- wait for it to complete, download the archive from its URL (the embedded fleet's URL points
-- at its own socket) and read the tar: the manifest and each selected frame's bytes.
local loc = cloud.create_location("exports-" .. os.time()).id
local part = cloud.get_robot_parts(cloud.new_robot("cam-bot", loc))[1].id
local function frame(bytes, time)
  return cloud.data.binary_data_capture_upload(bytes, part, "rdk:component:camera", "cam", "GetImages", ".jpg",
    nil, nil, nil, { time, time }, "image/jpeg")
end
local f0 = frame("frame-0", "2024-01-01T00:00:00Z")
local f1 = frame("frame-1\0\255", "2024-01-01T00:00:10Z")
frame("late", "2024-01-02T00:00:00Z")
local seq = cloud.data.create_sequence(part, { { resource_name = "cam" } }, "2024-01-01T00:00:00Z",
  "2024-01-01T01:00:00Z")
local clips = cloud.data.create_dataset("clips", "DATASET_TYPE_SEQUENCE_DATA")
cloud.data.add_sequences_to_dataset(clips, { seq })

local job = cloud.data.start_sequence_dataset_export(clips)
assert(type(job) == "string" and job ~= "", "a job id")
local e
for _ = 1, 200 do
  e = cloud.data.get_sequence_dataset_export{ job_id = job }
  if e.status ~= "SEQUENCE_DATASET_EXPORT_STATUS_RUNNING" then break end
  sleep(0.05)
end
assert(e.status == "SEQUENCE_DATASET_EXPORT_STATUS_COMPLETED", tostring(e.status) .. " " .. tostring(e.error_message))
assert(e.job_id == job and e.created_at:match("^%d%d%d%d%-") and e.completed_at and e.expires_at, tostring(e.job_id))
assert(e.download_url:match("^https?://127%.0%.0%.1:%d+/signed%-url/%w+$"), e.download_url)

local r = http.request{ url = e.download_url }
assert(r.status == 200 and r.headers["content-type"] == "application/x-tar", tostring(r.status))
-- A tar: 512-byte headers (name at 0, octal size at 124), each entry padded to 512 bytes.
local files, at = {}, 1
while at + 512 <= #r.body do
  local name = r.body:sub(at, at + 99):match("^[^%z]*")
  if name == "" then break end
  local size = tonumber(r.body:sub(at + 124, at + 135):match("[0-7]+"), 8)
  files[name] = r.body:sub(at + 512, at + 511 + size)
  at = at + 512 + math.ceil(size / 512) * 512
end
assert(files["binary/" .. f0] == "frame-0", "the first frame's bytes")
assert(files["binary/" .. f1] == "frame-1\0\255", "the second frame's bytes")
local count = 0
for _ in pairs(files) do count = count + 1 end
assert(count == 3, "manifest and two frames, not " .. count)
local m = json.decode(files["manifest.json"])
assert(m.dataset.id == clips and m.dataset.name == "clips", tostring(m.dataset.id))
assert(#m.sequences == 1 and m.sequences[1].id == seq, "one sequence")
assert(table.concat(m.sequences[1].binary_data_ids, ",") == f0 .. "," .. f1, "in capture order")

local frames = cloud.data.create_dataset("frames")
local ok, err = pcall(cloud.data.start_sequence_dataset_export, frames)
assert(not ok and err.code == "FAILED_PRECONDITION", tostring(err))
ok, err = pcall(cloud.data.get_sequence_dataset_export, "not-a-job")
assert(not ok and err.code == "NOT_FOUND", tostring(err))

print("sequence_exports ok")
