-- Billing in the local fleet (issue 12): nothing is charged. Usage lists what the organization
-- holds at zero cost, a tier is a stored label, there are no invoices and charges are refused.
local org = cloud.get_organization().id
local loc = cloud.create_location("billing-" .. os.time()).id
cloud.new_robot("billed-bot", loc)

local usage = cloud.billing.get_current_month_usage()
local by_org = usage.resource_usage_costs_by_source[1]
assert(by_org.resource_usage_costs.total_with_discount == 0, "nothing costs anything")
local held = {}
for _, c in ipairs(by_org.resource_usage_costs.usage_costs) do
  assert(c.cost == 0, c.resource_type)
  held[c.resource_type] = true
end
assert(held.USAGE_COST_TYPE_PER_MACHINE, "the machine is listed")

local tiers = cloud.billing.get_available_billing_tiers()
assert(#tiers == 3 and tiers[1] == "free", tostring(tiers[1]))
assert(cloud.billing.get_org_billing_information().billing_tier == "free")
cloud.billing.update_organization_billing_tier{ billing_tier = "pro" }
assert(cloud.billing.get_org_billing_information().billing_tier == "pro")

local summary = cloud.billing.get_invoices_summary()
assert(#(summary.invoices or {}) == 0 and (summary.outstanding_balance or 0) == 0)
local dest = os.tmpname()
os.remove(dest)
local ok, err = pcall(cloud.billing.get_invoice_pdf, "inv-1", dest)
assert(not ok and err.code == "NOT_FOUND", tostring(err))
assert(io.open(dest) == nil, "no file is left for an unknown invoice")
ok, err = pcall(cloud.billing.charge_organization, org, 10, 1, "parts")
assert(not ok and err.code == "FAILED_PRECONDITION", tostring(err))
ok, err = pcall(cloud.billing.create_invoice_and_charge_immediately, { org_id_to_charge = org, amount = 5 })
assert(not ok and err.code == "FAILED_PRECONDITION", tostring(err))

assert(cloud.billing.get_location_billing_organization{ location_id = loc } == org)
cloud.billing.update_location_billing_organization{ location_id = loc, billing_organization_id = org }
cloud.billing.send_payment_required_email{ customer_org_id = org, billing_owner_org_id = org }
print("billing ok")
