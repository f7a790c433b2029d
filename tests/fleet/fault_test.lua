-- fleet.fault: a rule read as a `--faults` file's rule is, so the same fields mean and are
-- refused the same (run by tests/it/fleetsh_test.rs).
test("a fault rule answers the calls it names", function(t)
  fleet.fault { method = "GetOrganization", code = "NOT_FOUND", message = "gone for now", nth = 2 }
  local org = cloud.default_org_id()
  cloud.get_organization(org)
  local e = t.raises("NOT_FOUND", cloud.get_organization, org)
  t.eq(e.message, "gone for now")
  cloud.get_organization(org)
end)

test("a bad rule is refused as in a faults file, naming the field", function(t)
  for _, case in ipairs {
    { { method = "GetRobot", code = "UNAVAIL" },
      "fleet.fault: field 'code': 'UNAVAIL' is not a gRPC code name (e.g. UNAVAILABLE; OK for a latency only)" },
    { { method = "GetRobot", nth = 0 }, "fleet.fault: field 'nth': expected a whole number of at least 1, got 0" },
    { { method = "GetRobot", tiems = 2 }, "fleet.fault: field 'tiems': unknown field (the fields: method," },
    { { code = "UNAVAILABLE" }, "fleet.fault: field 'method': required" },
    { {}, "fleet.fault: field 'method': required" },
    { { method = "GetRobot", latency = "soon" }, "fleet.fault: field 'latency': 'soon' is not a duration" },
    { { method = "GetRobot", probability = 2 }, "fleet.fault: field 'probability': expected a number from 0 to 1, got 2" },
  } do
    t.raises(case[2], fleet.fault, case[1])
  end
  -- None of them was added: every call is served.
  cloud.get_organization(cloud.default_org_id())
end)
