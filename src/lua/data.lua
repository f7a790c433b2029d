-- cloud.data: the Python DataClient's methods over DataService and DataSyncService (issue 12).
-- Names, positional order, defaults and returns are the SDK's, with the organization implicit
-- (`org_id`, named, defaults as everywhere). Each function takes its arguments positionally or
-- as one table of named arguments. SQL and MQL answers are plain tables (src/lua/bson.rs: dates
-- as RFC 3339 strings, ObjectIds as strings, 64-bit integers as integers); an MQL query is an
-- array of stage tables, and `$sort` may be written as {{field, 1}, {field, -1}} to keep order.
-- Times are RFC 3339 strings. Functions of the other data RPCs come from the descriptors.
local cloud = ...
local data = cloud.data
local DATA = "viam.app.data.v1.DataService/"
local SYNC = "viam.app.datasync.v1.DataSyncService/"

local function call(rpc, req, fname, opts)
  local ok, v = cloud._call(rpc, req, fname, nil, opts)
  if not ok then error(v, 0) end
  return v
end

local function invalid(fname, msg) error(cloud._error(fname, "INVALID_ARGUMENT", msg), 0) end

-- One table whose keys are all argument names is a set of named arguments; anything else is
-- the first positional argument (a filter is a table too, but its keys are no argument names).
local function args_of(fname, params, ...)
  local allowed = { org_id = true }
  for _, p in ipairs(params) do allowed[p] = true end
  local first = ...
  if select("#", ...) == 1 and type(first) == "table" and getmetatable(first) == nil and next(first) ~= nil then
    local all_named = true
    for k in pairs(first) do
      if type(k) ~= "string" or not allowed[k] then all_named = false break end
    end
    if all_named then return first end
  end
  if select("#", ...) > #params then
    invalid(fname, string.format("%s takes at most %d positional arguments (%s)", fname, #params,
      table.concat(params, ", ")))
  end
  local a = {}
  for i = 1, select("#", ...) do a[params[i]] = (select(i, ...)) end
  return a
end

-- data.NAME = function(...) body(named_args) end, and its spec for help, types and completion:
-- `params` as "name type" (`?` optional), `returns` as "type name".
local specs = cloud._specs
local function def(name, rpc, params, returns, doc, body)
  local names = {}
  for i, p in ipairs(params) do names[i] = p:match("^(%S+)") end
  local fname = "data." .. name
  local fn = function(...) return body(args_of(fname, names, ...), fname) end
  data[name] = fn
  specs[#specs + 1] = { fname, rpc, area = "data and datasets", params = params, returns = returns, doc = doc,
    fn = fn }
end

local function org(a) return a.org_id or cloud.default_org_id() end

local function rows(raw)
  return cloud._bson_rows(raw or {})
end

-- An SQL or MQL answer's rows, read from the reply's bytes (no Lua string per row first).
local function reply_rows(rpc, req, fname)
  return cloud._bson_reply_rows(call(rpc, req, fname, { reply_bytes = true }))
end

-- An MQL pipeline (an array of stage tables, or BSON strings as given) as the `mql_binary` the
-- RPCs take; `field` names the argument in the error.
local function encode_stages(fname, field, query)
  if type(query) ~= "table" then invalid(fname, field .. ": expected an array of stage tables") end
  local stages = {}
  for i, s in ipairs(query) do stages[i] = type(s) == "string" and s or cloud._bson_encode(s) end
  return stages
end

def("tabular_data_by_sql", DATA .. "TabularDataBySQL",
  { "sql_query string", "org_id string?" },
  { "table[] rows" },
  "Run an SQL query over the readings; rows as plain tables.", function(a, f)
  return reply_rows(DATA .. "TabularDataBySQL", { organization_id = org(a), sql_query = a.sql_query }, f)
end)

def("tabular_data_by_mql", DATA .. "TabularDataByMQL",
  { "query table[]", "use_recent_data boolean?", "tabular_data_source_type string?", "pipeline_id string?", "query_prefix_name string?", "org_id string?" },
  { "table[] rows" },
  "Run an MQL aggregation pipeline (an array of stage tables) over the readings.", function(a, f)
  local stages = encode_stages(f, "query", a.query)
  local source = { type = a.tabular_data_source_type or "TABULAR_DATA_SOURCE_TYPE_STANDARD",
    pipeline_id = a.pipeline_id }
  if a.use_recent_data then source.type = "TABULAR_DATA_SOURCE_TYPE_HOT_STORAGE" end
  return reply_rows(DATA .. "TabularDataByMQL", { organization_id = org(a), mql_binary = stages,
    data_source = source, query_prefix_name = a.query_prefix_name }, f)
end)

local function data_request(a)
  return { filter = a.filter or {}, limit = a.limit, sort_order = a.sort_order, last = a.last }
end

def("tabular_data_by_filter", DATA .. "TabularDataByFilter",
  { "filter table?", "limit integer?", "sort_order string?", "last string?", "count_only boolean?", "include_internal_data boolean?" },
  { "table[] data", "integer count", "string last" },
  "A page of readings matching a filter, the total count and the cursor of the next page.", function(a, f)
    local r = call(DATA .. "TabularDataByFilter", { data_request = data_request(a), count_only = a.count_only,
      include_internal_data = a.include_internal_data }, f)
    local out = {}
    for i, d in ipairs(r.data) do
      out[i] = { data = d.data, metadata = r.metadata[d.metadata_index + 1],
        time_requested = d.time_requested, time_received = d.time_received }
    end
    return out, r.count, r.last
  end)

def("get_latest_tabular_data", DATA .. "GetLatestTabularData",
  { "part_id string", "resource_name string", "resource_api string", "method_name string", "additional_params table?" },
  { "string? time_captured", "string? time_synced", "table? payload" },
  "The latest reading of a source, or nil.", function(a, f)
    local r = call(DATA .. "GetLatestTabularData", { part_id = a.part_id, resource_name = a.resource_name,
      resource_subtype = a.resource_api, method_name = a.method_name, additional_parameters = a.additional_params }, f)
    if r.payload == nil then return nil end
    return r.time_captured, r.time_synced, r.payload
  end)

local function export_stream(a, f)
  return call(DATA .. "ExportTabularData", { part_id = a.part_id, resource_name = a.resource_name,
    resource_subtype = a.resource_api, method_name = a.method_name,
    interval = { start = a.start_time, ["end"] = a.end_time }, additional_parameters = a.additional_params }, f)
end
local function point(r)
  return { part_id = r.part_id, resource_name = r.resource_name, resource_api = r.resource_subtype,
    method_name = r.method_name, time_captured = r.time_captured, organization_id = r.organization_id,
    location_id = r.location_id, robot_name = r.robot_name, robot_id = r.robot_id, part_name = r.part_name,
    method_parameters = r.method_parameters, tags = r.tags, payload = r.payload }
end

-- The whole export as a list, as Python returns it.
def("export_tabular_data", DATA .. "ExportTabularData",
  { "part_id string", "resource_name string", "resource_api string", "method_name string", "start_time string?", "end_time string?", "additional_params table?" },
  { "table[] points" },
  "Every reading of a source between two times, as a list.", function(a, f)
  local stream, out = export_stream(a, f), {}
  while true do
    local ok, r = stream:next()
    if not ok then stream:close(); error(r, 0) end
    if r == nil then break end
    out[#out + 1] = point(r)
  end
  stream:close()
  return out
end)

-- The export one point at a time: `for p in cloud.data.iter_export_tabular_data{...}`, any size.
def("iter_export_tabular_data", nil,
  { "part_id string", "resource_name string", "resource_api string", "method_name string", "start_time string?", "end_time string?", "additional_params table?" },
  { "fun():table? iterator" },
  "The export one reading at a time: for p in cloud.data.iter_export_tabular_data{...}.", function(a, f)
  local stream = export_stream(a, f)
  local closer = setmetatable({}, { __close = function() stream:close() end })
  return function()
    local ok, r = stream:next()
    if not ok then stream:close(); error(r, 0) end
    if r == nil then return nil end
    return point(r)
  end, nil, nil, closer
end)

def("binary_data_by_filter", DATA .. "BinaryDataByFilter",
  { "filter table?", "limit integer?", "sort_order string?", "last string?", "include_binary_data boolean?", "count_only boolean?", "include_internal_data boolean?" },
  { "cloud.BinaryData[] data", "integer count", "string last" },
  "A page of binary data matching a filter (with the bytes by default), the count and the next cursor.", function(a, f)
  local include = a.include_binary_data
  if include == nil then include = true end
  local r = call(DATA .. "BinaryDataByFilter", { data_request = data_request(a), include_binary = include,
    count_only = a.count_only, include_internal_data = a.include_internal_data }, f)
  return r.data, r.count, r.last
end)

-- Binary data by id; with `dest`, the first one's bytes are written to that file.
def("binary_data_by_ids", DATA .. "BinaryDataByIDs",
  { "binary_ids string[]", "include_binary_data boolean?", "dest string?" },
  { "cloud.BinaryData[] data" },
  "Binary data by id; dest receives the bytes of the first.", function(a, f)
  local include = a.include_binary_data
  if include == nil then include = true end
  local r = call(DATA .. "BinaryDataByIDs", { binary_data_ids = a.binary_ids, include_binary = include }, f)
  if a.dest and r.data[1] then
    local file = assert(io.open(a.dest, "wb"))
    file:write(r.data[1].binary)
    file:close()
  end
  return r.data
end)

def("delete_tabular_data", DATA .. "DeleteTabularData",
  { "delete_older_than_days integer", "filter table?", "org_id string?" },
  { "integer deleted_count" },
  "Delete readings captured more than N days ago (0: all); returns how many.", function(a, f)
  return call(DATA .. "DeleteTabularData", { organization_id = org(a),
    delete_older_than_days = a.delete_older_than_days, filter = a.filter }, f).deleted_count
end)

def("delete_binary_data_by_filter", DATA .. "DeleteBinaryDataByFilter",
  { "filter table?" },
  { "integer deleted_count" },
  "Delete the binary data matching a filter; returns how many.", function(a, f)
  return call(DATA .. "DeleteBinaryDataByFilter", { filter = a.filter or {} }, f).deleted_count
end)

def("delete_binary_data_by_ids", DATA .. "DeleteBinaryDataByIDs",
  { "binary_ids string[]" },
  { "integer deleted_count" },
  "Delete binary data by id; returns how many.", function(a, f)
  return call(DATA .. "DeleteBinaryDataByIDs", { binary_data_ids = a.binary_ids }, f).deleted_count
end)

def("add_tags_to_binary_data_by_ids", DATA .. "AddTagsToBinaryDataByIDs",
  { "tags string[]", "binary_ids string[]" },
  {},
  "Tag binary data by id.", function(a, f)
  call(DATA .. "AddTagsToBinaryDataByIDs", { tags = a.tags, binary_data_ids = a.binary_ids }, f)
end)

def("add_tags_to_binary_data_by_filter", DATA .. "AddTagsToBinaryDataByFilter",
  { "tags string[]", "filter table?" },
  {},
  "Tag the binary data matching a filter.", function(a, f)
  call(DATA .. "AddTagsToBinaryDataByFilter", { tags = a.tags, filter = a.filter or {} }, f)
end)

def("remove_tags_from_binary_data_by_ids", DATA .. "RemoveTagsFromBinaryDataByIDs",
  { "tags string[]", "binary_ids string[]" },
  { "integer deleted_count" },
  "Untag binary data by id; returns how many tags were removed.", function(a, f)
  return call(DATA .. "RemoveTagsFromBinaryDataByIDs", { tags = a.tags, binary_data_ids = a.binary_ids }, f)
    .deleted_count
end)

def("remove_tags_from_binary_data_by_filter", DATA .. "RemoveTagsFromBinaryDataByFilter",
  { "tags string[]", "filter table?" },
  { "integer deleted_count" },
  "Untag the binary data matching a filter; returns how many tags were removed.", function(a, f)
  return call(DATA .. "RemoveTagsFromBinaryDataByFilter", { tags = a.tags, filter = a.filter or {} }, f)
    .deleted_count
end)

def("tags_by_filter", DATA .. "TagsByFilter",
  { "filter table?" },
  { "string[] tags" },
  "The distinct tags of the data matching a filter.", function(a, f)
  return call(DATA .. "TagsByFilter", { filter = a.filter or {} }, f).tags
end)

local BOX = { "x_min_normalized", "y_min_normalized", "x_max_normalized", "y_max_normalized" }

def("add_bounding_box_to_image_by_id", DATA .. "AddBoundingBoxToImageByID",
  { "binary_id string", "label string", "x_min_normalized number", "y_min_normalized number", "x_max_normalized number", "y_max_normalized number", "confidence_score number?" },
  { "string bbox_id" },
  "Add a labelled bounding box to an image; returns its id.", function(a, f)
    local req = { binary_data_id = a.binary_id, label = a.label, confidence = a.confidence_score }
    for _, k in ipairs(BOX) do req[k] = a[k] end
    return call(DATA .. "AddBoundingBoxToImageByID", req, f).bbox_id
  end)

def("update_bounding_box", DATA .. "UpdateBoundingBox",
  { "binary_id string", "bbox_id string", "label string?", "x_min_normalized number?", "y_min_normalized number?", "x_max_normalized number?", "y_max_normalized number?", "confidence_score number?" },
  {},
  "Change a bounding box.", function(a, f)
    local req = { binary_data_id = a.binary_id, bbox_id = a.bbox_id, label = a.label, confidence = a.confidence_score }
    for _, k in ipairs(BOX) do req[k] = a[k] end
    call(DATA .. "UpdateBoundingBox", req, f)
  end)

def("remove_bounding_box_from_image_by_id", DATA .. "RemoveBoundingBoxFromImageByID",
  { "bbox_id string", "binary_id string" },
  {},
  "Remove a bounding box from an image.", function(a, f)
  call(DATA .. "RemoveBoundingBoxFromImageByID", { bbox_id = a.bbox_id, binary_data_id = a.binary_id }, f)
end)

def("bounding_box_labels_by_filter", DATA .. "BoundingBoxLabelsByFilter",
  { "filter table?" },
  { "string[] labels" },
  "The distinct bounding-box labels of the images matching a filter.", function(a, f)
  return call(DATA .. "BoundingBoxLabelsByFilter", { filter = a.filter or {} }, f).labels
end)

-- The local fleet serves no database: the hostname is empty (the README says so).
def("get_database_connection", DATA .. "GetDatabaseConnection",
  { "org_id string?" },
  { "string hostname" },
  "The hostname of the organization's MongoDB endpoint (empty on the local fleet).", function(a, f)
  return call(DATA .. "GetDatabaseConnection", { organization_id = org(a) }, f).hostname
end)

def("configure_database_user", DATA .. "ConfigureDatabaseUser",
  { "password string", "org_id string?" },
  {},
  "Set the password of the organization's database user.", function(a, f)
  call(DATA .. "ConfigureDatabaseUser", { organization_id = org(a), password = a.password }, f)
end)

-- Datasets (issue 12): named sets of an organization's binary data. A type is a DatasetType
-- name ("DATASET_TYPE_BINARY_DATA", the default, or "DATASET_TYPE_SEQUENCE_DATA").
local DATASET = "viam.app.dataset.v1.DatasetService/"

def("create_dataset", DATASET .. "CreateDataset",
  { "name string", "type string?", "org_id string?" },
  { "string id" },
  "Create an empty dataset (names are unique in an organization); returns its id.", function(a, f)
  return call(DATASET .. "CreateDataset", { name = a.name, organization_id = org(a), type = a.type }, f).id
end)

def("merge_datasets", DATASET .. "MergeDatasets",
  { "name string", "dataset_ids string[]", "org_id string?" },
  { "string dataset_id" },
  "Make a new dataset holding the binary data of several; returns its id.", function(a, f)
  return call(DATASET .. "MergeDatasets", { name = a.name, organization_id = org(a), dataset_ids = a.dataset_ids }, f)
    .dataset_id
end)

def("list_dataset_by_ids", DATASET .. "ListDatasetsByIDs",
  { "ids string[]" },
  { "cloud.Dataset[] datasets" },
  "Datasets by id.", function(a, f)
  return call(DATASET .. "ListDatasetsByIDs", { ids = a.ids }, f).datasets
end)

def("list_datasets_by_organization_id", DATASET .. "ListDatasetsByOrganizationID",
  { "dataset_type string?", "org_id string?" },
  { "cloud.Dataset[] datasets" },
  "The organization's datasets (of one type when given).", function(a, f)
  return call(DATASET .. "ListDatasetsByOrganizationID", { organization_id = org(a), type = a.dataset_type }, f)
    .datasets
end)

def("rename_dataset", DATASET .. "RenameDataset",
  { "id string", "name string" },
  {},
  "Give a dataset a new name.", function(a, f)
  call(DATASET .. "RenameDataset", { id = a.id, name = a.name }, f)
end)

def("delete_dataset", DATASET .. "DeleteDataset",
  { "id string" },
  {},
  "Delete a dataset; the binary data in it stays.", function(a, f)
  call(DATASET .. "DeleteDataset", { id = a.id }, f)
end)

def("add_binary_data_to_dataset_by_ids", DATA .. "AddBinaryDataToDatasetByIDs",
  { "binary_ids string[]", "dataset_id string" },
  {},
  "Put binary data (by id) into a dataset of its organization.", function(a, f)
  call(DATA .. "AddBinaryDataToDatasetByIDs", { binary_data_ids = a.binary_ids, dataset_id = a.dataset_id }, f)
end)

def("remove_binary_data_from_dataset_by_ids", DATA .. "RemoveBinaryDataFromDatasetByIDs",
  { "binary_ids string[]", "dataset_id string" },
  {},
  "Take binary data (by id) out of a dataset; the data stays.", function(a, f)
  call(DATA .. "RemoveBinaryDataFromDatasetByIDs", { binary_data_ids = a.binary_ids, dataset_id = a.dataset_id }, f)
end)

-- Sequence dataset exports, as the Python DataClient has them. The
-- archive is a tar of manifest.json (the dataset, its sequences, their binary data's metadata)
-- and binary/<binary data id> (the bytes); fetch the download_url with http.request or any HTTP
-- client, no key needed, until expires_at.
def("start_sequence_dataset_export", DATASET .. "StartSequenceDatasetExport",
  { "dataset_id string" },
  { "string job_id" },
  "Start exporting a DATASET_TYPE_SEQUENCE_DATA dataset as a tar archive; returns the job's id.", function(a, f)
  return call(DATASET .. "StartSequenceDatasetExport", { dataset_id = a.dataset_id }, f).job_id
end)

def("get_sequence_dataset_export", DATASET .. "GetSequenceDatasetExport",
  { "job_id string" },
  { "cloud.GetSequenceDatasetExportResponse export" },
  "An export job: its status (SEQUENCE_DATASET_EXPORT_STATUS_RUNNING, _COMPLETED or _FAILED with error_message) "
    .. "and, once completed, a download_url of the archive valid until expires_at (15 minutes; each call signs a new one).",
  function(a, f)
    return call(DATASET .. "GetSequenceDatasetExport", { job_id = a.job_id }, f)
  end)

-- Sequences (issue 12): a part's binary data between two times from named resources, each
-- {resource_name = "cam", method_name = "GetImages"?} (no method_name: every method). Python's
-- paged methods return one page and the next token; `iter_NAME` walks every page one item at a
-- time (`for s in cloud.data.iter_list_sequences() do ... end`) and `NAME_all` returns them all.
local function pager(rpc, req, field, f)
  local items, i, token, done = {}, 0, req.page_token or "", false
  return function()
    while i >= #items do
      if done then return nil end
      req.page_token = token
      local r = call(rpc, req, f)
      items, i, token = r[field] or {}, 0, r.next_page_token or ""
      done = token == ""
    end
    i = i + 1
    return items[i]
  end
end

local function collect(next_item)
  local out = {}
  for x in next_item do out[#out + 1] = x end
  return out
end

-- def() for a paged RPC: NAME (one page, as Python), iter_NAME and NAME_all (every page) of
-- `what` (a noun phrase for their docs).
local function def_paged(name, rpc, params, page_returns, item, doc, what, req_of, field, page_of)
  local rest = {}
  for _, p in ipairs(params) do
    if not (p:match("^page_token ") or p:match("^count_only ")) then rest[#rest + 1] = p end
  end
  def(name, rpc, params, page_returns, doc, function(a, f)
    return page_of(call(rpc, req_of(a), f))
  end)
  def("iter_" .. name, nil, rest, { "fun():" .. item .. "? iterator" },
    what:gsub("^%l", string.upper) .. ", one at a time over every page.", function(a, f)
    return pager(rpc, req_of(a), field, f)
  end)
  def(name .. "_all", nil, rest, { item .. "[] " .. field },
    what:gsub("^%l", string.upper) .. ", every page as one list.", function(a, f)
    return collect(pager(rpc, req_of(a), field, f))
  end)
end

def("create_sequence", DATA .. "CreateSequence",
  { "part_id string", "resources cloud.SequenceResourceFilter[]", "start_time string", "end_time string", "sequence_tags string[]?" },
  { "string id" },
  "Group a part's binary data of some resources between two times into a sequence; returns its id.", function(a, f)
  return call(DATA .. "CreateSequence", { part_id = a.part_id, resources = a.resources, start_time = a.start_time,
    end_time = a.end_time, sequence_tags = a.sequence_tags }, f).id
end)

def("get_sequence", DATA .. "GetSequence",
  { "id string" },
  { "cloud.Sequence sequence" },
  "A sequence by id, with the datasets it is in.", function(a, f)
  return call(DATA .. "GetSequence", { id = a.id }, f).sequence
end)

local SEQUENCE_FIELDS = { "resources", "sequence_tags", "start_time", "end_time" }

def("update_sequence", DATA .. "UpdateSequence",
  { "id string", "resources cloud.SequenceResourceFilter[]?", "sequence_tags string[]?", "start_time string?", "end_time string?" },
  {},
  "Change the given fields of a sequence (an empty sequence_tags clears them); at least one.", function(a, f)
  local req, paths = { id = a.id }, {}
  for _, k in ipairs(SEQUENCE_FIELDS) do
    if a[k] ~= nil then req[k] = a[k]; paths[#paths + 1] = k end
  end
  if #paths == 0 then
    invalid(f, "update_sequence requires at least one of: " .. table.concat(SEQUENCE_FIELDS, ", "))
  end
  req.field_mask = { paths = paths }
  call(DATA .. "UpdateSequence", req, f)
end)

def("delete_sequence", DATA .. "DeleteSequence",
  { "id string" },
  {},
  "Delete a sequence; its binary data stays.", function(a, f)
  call(DATA .. "DeleteSequence", { id = a.id }, f)
end)

def_paged("list_sequences", DATA .. "ListSequences",
  { "page_token string?", "page_size integer?", "org_id string?" },
  { "cloud.Sequence[] sequences", "string next_page_token" }, "cloud.Sequence",
  "A page of the organization's sequences and the next page's token.", "the organization's sequences", function(a)
    return { organization_id = org(a), page_token = a.page_token, page_size = a.page_size }
  end, "sequences", function(r) return r.sequences, r.next_page_token end)

def_paged("sequences_by_dataset_id", DATA .. "SequencesByDatasetID",
  { "dataset_id string", "page_token string?", "page_size integer?", "count_only boolean?" },
  { "cloud.Sequence[] sequences", "string next_page_token", "integer count" }, "cloud.Sequence",
  "A page of the sequences in a dataset, the next page's token and their count (count_only: just the count).",
  "the sequences in a dataset", function(a)
    return { dataset_id = a.dataset_id, page_token = a.page_token, page_size = a.page_size, count_only = a.count_only }
  end, "sequences", function(r) return r.sequences, r.next_page_token, r.count end)

def_paged("get_sequence_binary_data", DATA .. "GetSequenceBinaryData",
  { "sequence_id string", "page_token string?", "page_size integer?" },
  { "cloud.BinaryData[] data", "string next_page_token" }, "cloud.BinaryData",
  "A page of the binary data (bytes and metadata) a sequence selects, in capture order, and the next page's token.",
  "the binary data a sequence selects", function(a)
    return { sequence_id = a.sequence_id, page_token = a.page_token, page_size = a.page_size }
  end, "data", function(r) return r.data, r.next_page_token end)

def("add_sequences_to_dataset", DATA .. "AddSequencesToDataset",
  { "dataset_id string", "sequence_ids string[]" },
  {},
  "Put sequences into a DATASET_TYPE_SEQUENCE_DATA dataset of their organization.", function(a, f)
  call(DATA .. "AddSequencesToDataset", { dataset_id = a.dataset_id, sequence_ids = a.sequence_ids }, f)
end)

def("remove_sequences_from_dataset", DATA .. "RemoveSequencesFromDataset",
  { "dataset_id string", "sequence_ids string[]" },
  {},
  "Take sequences out of a dataset; they stay.", function(a, f)
  call(DATA .. "RemoveSequencesFromDataset", { dataset_id = a.dataset_id, sequence_ids = a.sequence_ids }, f)
end)

-- Uploads. `data_request_times` holds {time_requested, time_received} pairs (RFC 3339).
local function sensor_metadata(times)
  if times == nil then return nil end
  return { time_requested = times[1], time_received = times[2] }
end

local function dotted(ext)
  if ext == nil or ext == "" or ext:sub(1, 1) == "." then return ext end
  return "." .. ext
end

def("tabular_data_capture_upload", SYNC .. "DataCaptureUpload",
  { "tabular_data table[]", "part_id string", "component_type string", "component_name string", "method_name string", "data_request_times table[]", "method_parameters table?", "tags string[]?" },
  { "string file_id" },
  "Upload readings of a component, each with its {time_requested, time_received}.", function(a, f)
  local readings, times = a.tabular_data or {}, a.data_request_times or {}
  if #times ~= #readings then invalid(f, "data_request_times and tabular_data lengths must be equal") end
  local contents = {}
  for i, r in ipairs(readings) do contents[i] = { metadata = sensor_metadata(times[i]), struct = r } end
  return call(SYNC .. "DataCaptureUpload", {
    metadata = { part_id = a.part_id, component_type = a.component_type, component_name = a.component_name,
      method_name = a.method_name, type = "DATA_TYPE_TABULAR_SENSOR", method_parameters = a.method_parameters,
      tags = a.tags },
    sensor_contents = contents }, f).file_id
end)

def("binary_data_capture_upload", nil,
  { "binary_data string", "part_id string", "component_type string", "component_name string", "method_name string", "file_extension string", "method_parameters table?", "tags string[]?", "dataset_ids string[]?", "data_request_times table?", "mime_type string?" },
  { "string binary_data_id" },
  "Upload one captured binary (an image, a point cloud).", function(a, f)
  return call(SYNC .. "DataCaptureUpload", {
    metadata = { part_id = a.part_id, component_type = a.component_type, component_name = a.component_name,
      method_name = a.method_name, type = "DATA_TYPE_BINARY_SENSOR", method_parameters = a.method_parameters,
      tags = a.tags, dataset_ids = a.dataset_ids, mime_type = a.mime_type, file_extension = dotted(a.file_extension) },
    sensor_contents = { { metadata = sensor_metadata(a.data_request_times), binary = a.binary_data } } }, f)
    .binary_data_id
end)

-- A client stream of `data` in chunks after its metadata message.
local CHUNK = 1024 * 1024
local function chunks(first, data, wrap)
  local msgs = { first }
  for i = 1, #data, CHUNK do msgs[#msgs + 1] = wrap(data:sub(i, i + CHUNK - 1)) end
  return msgs
end

local function upload_metadata(a, file_name, ext)
  return { part_id = a.part_id, component_type = a.component_type, component_name = a.component_name,
    method_name = a.method_name, type = "DATA_TYPE_FILE", file_name = file_name,
    method_parameters = a.method_parameters, file_extension = ext, tags = a.tags, dataset_ids = a.dataset_ids,
    mime_type = a.mime_type }
end

def("file_upload", SYNC .. "FileUpload",
  { "part_id string", "data string", "component_type string?", "component_name string?", "method_name string?", "file_name string?", "method_parameters table?", "file_extension string?", "tags string[]?", "dataset_ids string[]?", "mime_type string?" },
  { "string binary_data_id" },
  "Upload the bytes of a file, sent in 1 MiB messages.", function(a, f)
  local meta = upload_metadata(a, a.file_name, a.file_extension)
  return call(SYNC .. "FileUpload", chunks({ metadata = meta }, a.data or "",
    function(c) return { file_contents = { data = c } } end), f).binary_data_id
end)

-- The file's name and extension as Python takes them (stem, suffix); its bytes are read by the
-- call while it is sent, 1 MiB per message, so a file of any size is never held whole.
def("file_upload_from_path", nil,
  { "filepath string", "part_id string", "component_type string?", "component_name string?", "method_name string?", "method_parameters table?", "tags string[]?", "dataset_ids string[]?", "mime_type string?", "file_name string?" },
  { "string binary_data_id" },
  "Upload a file from disk (its name and extension from the path).", function(a, f)
  local file, err = io.open(a.filepath or "", "rb")
  if not file then invalid(f, "filepath: " .. tostring(err)) end
  file:close()
  local base = a.filepath:match("([^/\\]+)$") or a.filepath
  local stem, suffix = base:match("^(.+)(%.[^.]+)$")
  local meta = upload_metadata(a, a.file_name or stem or base, suffix or "")
  local ok, v = cloud._call(SYNC .. "FileUpload", { { metadata = meta } }, f, nil,
    { stream_file = { path = a.filepath, field = "file_contents.data", chunk = CHUNK } })
  if not ok then error(v, 0) end
  return v.binary_data_id
end)

def("streaming_data_capture_upload", SYNC .. "StreamingDataCaptureUpload",
  { "data string", "part_id string", "file_ext string", "component_type string?", "component_name string?", "method_name string?", "method_parameters table?", "data_request_times table?", "tags string[]?", "dataset_ids string[]?", "mime_type string?" },
  { "string binary_data_id" },
  "Upload one large captured binary in a stream of messages.", function(a, f)
  local meta = {
    upload_metadata = { part_id = a.part_id, component_type = a.component_type, component_name = a.component_name,
      method_name = a.method_name, method_parameters = a.method_parameters, type = "DATA_TYPE_BINARY_SENSOR",
      file_extension = dotted(a.file_ext), tags = a.tags, dataset_ids = a.dataset_ids, mime_type = a.mime_type },
    sensor_metadata = sensor_metadata(a.data_request_times) or {},
  }
  return call(SYNC .. "StreamingDataCaptureUpload", chunks({ metadata = meta }, a.data or "",
    function(c) return { data = c } end), f).binary_data_id
end)
-- Saved queries, custom indexes and signed URLs. Saved queries have no
-- DataClient method: their functions are the RPCs' snake_case names. A saved query is returned
-- with its stages decoded (`query`, as tabular_data_by_mql takes them) beside the stored BSON
-- (`mql_binary`); tabular_data_by_mql{query_prefix_name = NAME} runs one, then its own stages.
local function stages_of(fname, query, required)
  if query == nil and not required then return nil end
  return encode_stages(fname, "query", query)
end
local function saved_query(q)
  q.query = rows(q.mql_binary)
  return q
end
def("create_saved_query", DATA .. "CreateSavedQuery",
  { "name string", "query table[]", "org_id string?" },
  { "string id" },
  "Save an MQL pipeline (an array of stage tables) under a name unique in the organization; returns its id.",
  function(a, f)
    return call(DATA .. "CreateSavedQuery", { organization_id = org(a), name = a.name,
      mql_binary = stages_of(f, a.query, true) }, f).id
  end)
def("update_saved_query", DATA .. "UpdateSavedQuery",
  { "id string", "name string?", "query table[]?" },
  {},
  "Rename a saved query, replace its pipeline, or both (what is left out stays).", function(a, f)
  call(DATA .. "UpdateSavedQuery", { id = a.id, name = a.name, mql_binary = stages_of(f, a.query, false) }, f)
end)
def("get_saved_query", DATA .. "GetSavedQuery",
  { "id string" },
  { "table saved_query" },
  "A saved query: id, organization_id, name, query (its stages), mql_binary, created_on, updated_at.",
  function(a, f)
    return saved_query(call(DATA .. "GetSavedQuery", { id = a.id }, f).saved_query)
  end)
def("delete_saved_query", DATA .. "DeleteSavedQuery",
  { "id string" },
  {},
  "Delete a saved query.", function(a, f)
  call(DATA .. "DeleteSavedQuery", { id = a.id }, f)
end)
def("list_saved_queries", DATA .. "ListSavedQueries",
  { "limit integer?", "org_id string?" },
  { "table[] queries" },
  "The organization's saved queries, oldest first (at most `limit` when given).", function(a, f)
  local out = {}
  for i, q in ipairs(call(DATA .. "ListSavedQueries", { organization_id = org(a), limit = a.limit }, f).queries) do
    out[i] = saved_query(q)
  end
  return out
end)
-- An index spec is {key = KEY, options = {name = ..., unique = ...}} or a bare KEY; a KEY is
-- {field = 1} or, where the order of several fields matters, {{"a", 1}, {"b", -1}}. It is sent
-- as the key's and the options' JSON (the Go CLI's form), so the key keeps its order.
local function json_key(fname, key)
  if type(key) ~= "table" or next(key) == nil then
    invalid(fname, "index_spec: expected a key such as {[\"data.readings.temperature\"] = 1}")
  end
  local parts = {}
  if key[1] ~= nil then
    for _, p in ipairs(key) do
      if type(p) ~= "table" or type(p[1]) ~= "string" then
        invalid(fname, "index_spec: an ordered key is an array of {field, direction} pairs")
      end
      parts[#parts + 1] = json.encode(p[1]) .. ":" .. json.encode(p[2])
    end
  else
    local fields = {}
    for k in pairs(key) do fields[#fields + 1] = k end
    table.sort(fields)
    for _, k in ipairs(fields) do parts[#parts + 1] = json.encode(k) .. ":" .. json.encode(key[k]) end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
local function spec_parts(fname, spec)
  if type(spec) ~= "table" then invalid(fname, "index_spec: expected a table") end
  if spec.key == nil then return { json_key(fname, spec) } end
  local parts = { json_key(fname, spec.key) }
  if spec.options ~= nil then parts[2] = json.encode(spec.options) end
  return parts
end
-- A stored spec's parts as tables, whichever form (BSON or JSON) they were sent in.
local function spec_tables(parts)
  local out = {}
  for i, p in ipairs(parts or {}) do
    local ok, d = pcall(cloud._bson_decode, p)
    if not ok then ok, d = pcall(json.decode, p) end
    out[i] = ok and d or p
  end
  return out
end
def("create_index", DATA .. "CreateIndex",
  { "collection_type string", "index_spec table", "pipeline_name string?", "org_id string?" },
  {},
  "Record a custom index (INDEXABLE_COLLECTION_HOT_STORE, or _PIPELINE_SINK with pipeline_name).",
  function(a, f)
    call(DATA .. "CreateIndex", { organization_id = org(a), collection_type = a.collection_type,
      index_spec = spec_parts(f, a.index_spec), pipeline_name = a.pipeline_name }, f)
  end)
def("list_indexes", DATA .. "ListIndexes",
  { "collection_type string", "pipeline_name string?", "org_id string?" },
  { "table[] indexes" },
  "The custom indexes of a collection: index_name, index_spec (its parts as tables), created_by.",
  function(a, f)
    local r = call(DATA .. "ListIndexes", { organization_id = org(a), collection_type = a.collection_type,
      pipeline_name = a.pipeline_name }, f)
    for _, ix in ipairs(r.indexes) do ix.index_spec = spec_tables(ix.index_spec) end
    return r.indexes
  end)
def("delete_index", DATA .. "DeleteIndex",
  { "collection_type string", "index_name string", "pipeline_name string?", "org_id string?" },
  {},
  "Drop a custom index by name.", function(a, f)
  call(DATA .. "DeleteIndex", { organization_id = org(a), collection_type = a.collection_type,
    index_name = a.index_name, pipeline_name = a.pipeline_name }, f)
end)
def("create_binary_data_signed_url", DATA .. "CreateBinaryDataSignedURL",
  { "binary_data_id string", "expiration_minutes integer?" },
  { "string signed_url", "string expires_at" },
  "A URL that fetches binary data's bytes without a key, until it expires (15 minutes by default).",
  function(a, f)
    local r = call(DATA .. "CreateBinaryDataSignedURL", { binary_data_id = a.binary_data_id,
      expiration_minutes = a.expiration_minutes }, f)
    return r.signed_url, r.expires_at
  end)

-- Data pipelines, as the Python DataClient has them (an MQL pipeline is an
-- array of stage tables, as for tabular_data_by_mql). EnableDataPipeline and DisableDataPipeline,
-- which the SDK does not wrap, come from the descriptors: data.enable_data_pipeline(id).
local PIPELINES = "viam.app.datapipelines.v1.DataPipelinesService/"

local function pipeline_of(p)
  if p == nil then return nil end
  p.mql_binary = rows(p.mql_binary)
  return p
end

def("get_data_pipeline", PIPELINES .. "GetDataPipeline", { "id string" }, { "table pipeline" },
  "A data pipeline, its MQL as stage tables.", function(a, f)
  return pipeline_of(call(PIPELINES .. "GetDataPipeline", { id = a.id }, f).data_pipeline)
end)

def("list_data_pipelines", PIPELINES .. "ListDataPipelines", { "org_id string?" }, { "table[] pipelines" },
  "The organization's data pipelines.", function(a, f)
  local out = call(PIPELINES .. "ListDataPipelines", { organization_id = org(a) }, f).data_pipelines or {}
  for i, p in ipairs(out) do out[i] = pipeline_of(p) end
  return out
end)

def("create_data_pipeline", PIPELINES .. "CreateDataPipeline",
  { "name string", "mql_binary table[]", "schedule string", "enable_backfill boolean", "data_source_type string?", "org_id string?" },
  { "string id" },
  "Define a pipeline that runs MQL stages on a cron schedule (UTC); its id.", function(a, f)
  local stages = encode_stages(f, "mql_binary", a.mql_binary)
  return call(PIPELINES .. "CreateDataPipeline", { organization_id = org(a), name = a.name, mql_binary = stages,
    schedule = a.schedule, enable_backfill = a.enable_backfill or false,
    data_source_type = a.data_source_type or "TABULAR_DATA_SOURCE_TYPE_STANDARD" }, f).id
end)

def("rename_data_pipeline", PIPELINES .. "RenameDataPipeline", { "id string", "name string" }, {},
  "Give a data pipeline a new name.", function(a, f)
  call(PIPELINES .. "RenameDataPipeline", { id = a.id, name = a.name }, f)
end)

def("delete_data_pipeline", PIPELINES .. "DeleteDataPipeline", { "id string" }, {},
  "Delete a data pipeline with its runs and results.", function(a, f)
  call(PIPELINES .. "DeleteDataPipeline", { id = a.id }, f)
end)

-- One page of runs, newest first, as Python's DataPipelineRunsPage: page:next_page() fetches the
-- next (an empty page after the last).
local function runs_page(id, size, token, f)
  local r = call(PIPELINES .. "ListDataPipelineRuns", { id = id, page_size = size, page_token = token }, f)
  local page = { pipeline_id = r.pipeline_id, runs = r.runs or {}, next_page_token = r.next_page_token or "",
    page_size = size }
  function page:next_page()
    if self.next_page_token == "" then
      return { pipeline_id = self.pipeline_id, runs = {}, next_page_token = "", page_size = size,
        next_page = self.next_page }
    end
    return runs_page(id, size, self.next_page_token, f)
  end
  return page
end

-- Every run, newest first, fetched a page at a time: for run in data.iter_data_pipeline_runs(id) do.
def("iter_data_pipeline_runs", nil, { "id string", "page_size integer?" },
  { "fun():table? iterator" },
  "Iterate over all of a pipeline's runs, newest first, a page at a time.", function(a, f)
  local page, i = runs_page(a.id, a.page_size or 100, "", f), 0
  return function()
    i = i + 1
    if page.runs[i] == nil and page.next_page_token ~= "" then
      page, i = page:next_page(), 1
    end
    return page.runs[i]
  end
end)

def("list_data_pipeline_runs", PIPELINES .. "ListDataPipelineRuns", { "id string", "page_size integer?" },
  { "table page" },
  "A page of a pipeline's runs, newest first (its due windows run first); page:next_page().", function(a, f)
  return runs_page(a.id, a.page_size or 10, "", f)
end)
