-- Tests of audit_access.lua, run by `fleetsh test scripts`.

test("flags an organization-wide owner key, not a location operator key", function(t)
  local org = cloud.default_org_id()
  local loc = cloud.list_locations()[1].id
  cloud.create_key({ { role = "owner", resource_type = "organization", resource_id = org } }, "wide")
  cloud.create_key({ { role = "operator", resource_type = "location", resource_id = loc } }, "narrow")
  local r = t.run("audit_access.lua", { format = "json" })
  t.eq(r.code, 0, r.stderr)
  local report = json.decode(r.stdout)
  local reasons = {}
  for _, f in ipairs(report.flags) do
    if f.who:find("wide", 1, true) or f.who:find("narrow", 1, true) then reasons[#reasons + 1] = f.reason end
  end
  t.eq(reasons, { "organization-wide owner" })
end)

test("keys older than days= are flagged: none today with days=1", function(t)
  local loc = cloud.list_locations()[1].id
  cloud.create_key({ { role = "operator", resource_type = "location", resource_id = loc } }, "fresh")
  local r = t.run("audit_access.lua", { days = 1 })
  t.eq(r.code, 0, r.stderr)
  t.ok(not r.stdout:find("older than"), r.stdout)
end)
