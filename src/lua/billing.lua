-- cloud.billing and cloud.ml_training: the Python BillingClient's and MLTrainingClient's
-- methods (issue 12). Names, positional order, defaults and returns are the SDK's, with the
-- organization implicit (`org_id`, named, defaults as everywhere). Each function takes its
-- arguments positionally or as one table of named arguments. RPCs no SDK method wraps
-- (GetTrainingJobLogs, the location billing RPCs, ...) get functions from the descriptors.
local cloud = ...
local BILLING = "viam.app.v1.BillingService/"
local TRAINING = "viam.app.mltraining.v1.MLTrainingService/"

local function call(rpc, req, fname)
  local ok, v = cloud._call(rpc, req, fname)
  if not ok then error(v, 0) end
  return v
end

-- One table whose keys are all argument names is a set of named arguments; anything else is
-- the first positional argument.
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
    error(cloud._error(fname, "INVALID_ARGUMENT", string.format("%s takes at most %d positional arguments (%s)",
      fname, #params, table.concat(params, ", "))), 0)
  end
  local a = {}
  for i = 1, select("#", ...) do a[params[i]] = (select(i, ...)) end
  return a
end

-- AREA.NAME = function(...) body(named_args) end, and its spec for help, types and completion.
local specs = cloud._specs
local function def(area, title, name, rpc, params, returns, doc, body)
  local names = {}
  for i, p in ipairs(params) do names[i] = p:match("^(%S+)") end
  local fname = area .. "." .. name
  local fn = function(...) return body(args_of(fname, names, ...), fname) end
  cloud[area][name] = fn
  specs[#specs + 1] = { fname, rpc, area = title, params = params, returns = returns, doc = doc, fn = fn }
end

local function org(a) return a.org_id or cloud.default_org_id() end

-- Billing: the local fleet charges nothing (README, "Local-fleet conventions").
local function billing(name, rpc, params, returns, doc, body)
  def("billing", "billing", name, BILLING .. rpc, params, returns, doc, body)
end

billing("get_current_month_usage", "GetCurrentMonthUsage", {}, { "table usage" },
  "This month's usage and its cost (zero in the local fleet).", function(a, f)
    return call(BILLING .. "GetCurrentMonthUsage", { org_id = org(a) }, f)
  end)

billing("get_invoice_pdf", "GetInvoicePdf", { "invoice_id string", "dest string" }, {},
  "Writes an invoice's PDF to dest.", function(a, f)
    local stream = call(BILLING .. "GetInvoicePdf", { id = a.invoice_id, org_id = org(a) }, f)
    local chunks = {}
    while true do
      local ok, r = stream:next()
      if not ok then stream:close(); error(r, 0) end
      if r == nil then break end
      chunks[#chunks + 1] = r.chunk
    end
    stream:close()
    -- Opened only once the whole PDF arrived: an unknown invoice leaves no empty file behind.
    local file = assert(io.open(a.dest, "wb"))
    file:write(table.concat(chunks))
    file:close()
  end)

billing("get_invoices_summary", "GetInvoicesSummary", {}, { "table summary" },
  "The organization's invoices and outstanding balance.", function(a, f)
    return call(BILLING .. "GetInvoicesSummary", { org_id = org(a) }, f)
  end)

billing("get_org_billing_information", "GetOrgBillingInformation", {}, { "table info" },
  "Payment method type, billing email and tier.", function(a, f)
    return call(BILLING .. "GetOrgBillingInformation", { org_id = org(a) }, f)
  end)

billing("charge_organization", "ChargeOrganization",
  { "org_id_to_charge string", "subtotal number", "tax number", "description string?",
    "org_id_for_branding string?", "disable_confirmation_email boolean?" },
  { "string invoice_id" }, "Charges an organization (refused by the local fleet).", function(a, f)
    return call(BILLING .. "ChargeOrganization", { org_id_to_charge = a.org_id_to_charge, subtotal = a.subtotal,
      tax = a.tax, description = a.description, org_id_for_branding = a.org_id_for_branding,
      disable_confirmation_email = a.disable_confirmation_email or false }, f).invoice_id
  end)

billing("create_invoice_and_charge_immediately", "CreateInvoiceAndChargeImmediately",
  { "org_id_to_charge string", "amount number", "description string?", "org_id_for_branding string?",
    "disable_email boolean?" },
  { "string invoice_id" }, "Invoices and charges an organization (refused by the local fleet).", function(a, f)
    return call(BILLING .. "CreateInvoiceAndChargeImmediately", { org_id_to_charge = a.org_id_to_charge,
      amount = a.amount, description = a.description, org_id_for_branding = a.org_id_for_branding,
      disable_email = a.disable_email or false }, f).invoice_id
  end)

-- ML training: the local fleet stores jobs and trains nothing.
local function training(name, rpc, params, returns, doc, body)
  def("ml_training", "ML training", name, TRAINING .. rpc, params, returns, doc, body)
end

training("submit_training_job", "SubmitTrainingJob",
  { "dataset_id string", "model_name string", "model_version string", "model_type string", "tags string[]" },
  { "string id" }, "Submits a training job; its id.", function(a, f)
    return call(TRAINING .. "SubmitTrainingJob", { organization_id = org(a), dataset_id = a.dataset_id,
      model_name = a.model_name, model_version = a.model_version, model_type = a.model_type, tags = a.tags }, f).id
  end)

training("submit_custom_training_job", "SubmitCustomTrainingJob",
  { "dataset_id string", "registry_item_id string", "registry_item_version string", "model_name string",
    "model_version string", "container_id string?" },
  { "string id" }, "Submits a job running a registry item's training script; its id.", function(a, f)
    return call(TRAINING .. "SubmitCustomTrainingJob", { organization_id = org(a), dataset_id = a.dataset_id,
      registry_item_id = a.registry_item_id, registry_item_version = a.registry_item_version,
      model_name = a.model_name, model_version = a.model_version, container_id = a.container_id or "" }, f).id
  end)

training("get_training_job", "GetTrainingJob", { "id string" }, { "table metadata" },
  "A training job's metadata.", function(a, f)
    return call(TRAINING .. "GetTrainingJob", { id = a.id }, f).metadata
  end)

training("list_training_jobs", "ListTrainingJobs", { "training_status string?" }, { "table[] jobs" },
  "The organization's training jobs, of one status or all.", function(a, f)
    return call(TRAINING .. "ListTrainingJobs", { organization_id = org(a),
      status = a.training_status or "TRAINING_STATUS_UNSPECIFIED" }, f).jobs or {}
  end)

training("cancel_training_job", "CancelTrainingJob", { "id string" }, {},
  "Cancels a pending training job.", function(a, f)
    call(TRAINING .. "CancelTrainingJob", { id = a.id }, f)
  end)

training("delete_completed_training_job", "DeleteCompletedTrainingJob", { "id string" }, {},
  "Deletes a completed, failed or canceled training job.", function(a, f)
    call(TRAINING .. "DeleteCompletedTrainingJob", { id = a.id }, f)
  end)
