-- ML training in the local fleet (issue 12): a job is stored and stays pending (nothing is
-- trained) until canceled; only an ended job can be deleted; its log is what happened to it.
-- Python's positional order, the organization implicit. A job trains on one of the
-- organization's datasets: an unknown one is NOT_FOUND.
local bad_ok, bad = pcall(cloud.ml_training.submit_training_job, "no-such-dataset", "detector", "1",
  "MODEL_TYPE_OBJECT_DETECTION", { "cat" })
assert(not bad_ok and bad.code == "NOT_FOUND" and tostring(bad):find("create the dataset first"), tostring(bad))
local dataset = cloud.data.create_dataset("training-images")
local id = cloud.ml_training.submit_training_job(dataset, "detector", "1", "MODEL_TYPE_OBJECT_DETECTION", { "cat" })
local job = cloud.ml_training.get_training_job(id)
assert(job.status == "TRAINING_STATUS_PENDING" and job.model_name == "detector", tostring(job.status))
assert(job.dataset_id == dataset, tostring(job.dataset_id))
assert(job.error_status.message:find("does not train"), "a pending job says why")

local pending = cloud.ml_training.list_training_jobs("TRAINING_STATUS_PENDING")
assert(#pending == 1 and pending[1].id == id)
assert(#cloud.ml_training.list_training_jobs{ training_status = "TRAINING_STATUS_CANCELED" } == 0)
local ok, err = pcall(cloud.ml_training.delete_completed_training_job, { id = id })
assert(not ok and err.code == "FAILED_PRECONDITION", tostring(err))

cloud.ml_training.cancel_training_job(id)
assert(cloud.ml_training.get_training_job{ id = id }.status == "TRAINING_STATUS_CANCELED")
local logs = cloud.ml_training.get_training_job_logs{ id = id }
assert(#logs == 3 and logs[3].message:find("canceled"), tostring(#logs))

local module = cloud.create_module("trainer" .. os.time())
local custom = cloud.ml_training.submit_custom_training_job(dataset, module, "1.0.0", "custom", "1")
assert(cloud.ml_training.get_training_job{ id = custom }.is_custom_job)

cloud.ml_training.delete_completed_training_job{ id = id }
ok, err = pcall(cloud.ml_training.get_training_job, { id = id })
assert(not ok and err.code == "NOT_FOUND", tostring(err))
-- Custom containers are records (generated functions, in the Python clients' shape too).
local supported = cloud.ml_training.list_supported_containers()
assert(next(supported or {}) == nil, "no built-in containers")
local cid = cloud.ml_training.register_custom_training_container("docker.io/acme/trainer:1", "trainer")
assert(cloud.ml_training.get_container(cid).uri == "docker.io/acme/trainer:1")
local containers = cloud.ml_training.list_containers()
assert(#containers == 1 and containers[1].id == cid)
cloud.ml_training.delete_custom_training_container(cid)
assert(#(cloud.ml_training.list_containers() or {}) == 0)
print("ml_training ok")
