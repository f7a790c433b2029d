-- fleet.seed: a fleet described as data, ids returned by name (run by tests/it/fleetsh_test.rs).
test("a fleet described as data", function(t)
  local ids = fleet.seed {
    fragments = { { name = "base", config = { modules = {} } } },
    locations = { { name = "lab", locations = { { name = "bench" } },
      machines = { { name = "rover-1", config = { components = {} }, parts = { { name = "arm" } },
        logs = { { level = "error", message = "boom" } }, metadata = { team = "a" } } } } },
    machines = { { name = "loose" } },
    keys = { { name = "ci", roles = { { role = "operator", location = "lab" } } } },
  }
  t.eq(cloud.get_robot(ids.machines["rover-1"]).location, ids.locations.lab)
  t.eq(cloud.get_location(ids.locations.bench).parent_location_id, ids.locations.lab)
  t.eq(#cloud.get_robot_parts(ids.machines["rover-1"]), 2)
  t.eq(cloud.get_robot_part_logs(ids.parts["rover-1"])[1].message, "boom")
  t.eq(cloud.get_robot_metadata(ids.machines["rover-1"]), { team = "a" })
  t.ok(cloud.check_key(ids.keys.ci.id, ids.keys.ci.key))
  t.eq(cloud.get_fragment(ids.fragments.base).name, "base")
  t.eq(cloud.get_robot(ids.machines.loose).location, ids.locations.Main)
end)

test("organizations, invites, fragment revisions, part logs and readings", function(t)
  local ids = fleet.seed {
    fragments = { { name = "base", config = { modules = {} },
      revisions = { { components = { { name = "a" } } }, { components = { { name = "b" } } } } } },
    locations = { { name = "lab", machines = { { name = "rover-1",
      parts = { { name = "arm", logs = { { level = "warn", message = "hot" } } } },
      readings = { { component = "temp", every = "1m", values = { { celsius = 20 }, { celsius = 21 }, { celsius = 22 } } } } } } } },
    invites = { { email = "ana@example.com", roles = { { role = "operator", location = "lab" } } } },
    organizations = { { name = "acme", metadata = { tier = "gold" },
      locations = { { name = "plant", machines = { { name = "press" } } } },
      fragments = { { name = "acme-base" } },
      keys = { { name = "acme-ci", roles = { { role = "operator", location = "plant" } } } },
      invites = { { email = "bo@example.com" } } } },
  }
  -- The fleet's own organization by name, beside the new one.
  local home = cloud.default_org_id()
  t.eq(ids.organizations[cloud.get_organization(home).name], home)
  local acme = ids.organizations.acme
  t.eq(cloud.get_organization(acme).name, "acme")
  t.eq(cloud.get_organization_metadata(acme), { tier = "gold" })
  t.eq(cloud.list_locations { org_id = acme }[1].id, ids.locations.plant)
  t.eq(cloud.get_robot(ids.machines.press).location, ids.locations.plant)
  t.eq(cloud.get_fragment(ids.fragments["acme-base"]).organization_owner, acme)
  t.ok(cloud.check_key(ids.keys["acme-ci"].id, ids.keys["acme-ci"].key))

  -- Invites are pending, with the roles asked for.
  local _, invites = cloud.list_organization_members()
  t.eq(#invites, 1)
  t.eq(invites[1].email, "ana@example.com")
  t.eq(invites[1].authorizations[1].resource_id, ids.locations.lab)
  t.eq(invites[1].authorizations[1].authorization_id, "location_operator")
  local _, acme_invites = cloud.list_organization_members { org_id = acme }
  t.eq(acme_invites[1].email, "bo@example.com")
  t.eq(acme_invites[1].authorizations[1].authorization_id, "organization_owner")

  -- Every revision is kept, the last one current.
  t.eq(cloud.get_fragment(ids.fragments.base).fragment.components[1].name, "b")
  t.eq(#cloud.get_fragment_history(ids.fragments.base), 3)

  -- Logs on a named part; readings on the main part, one `every` apart, the last now.
  t.eq(cloud.get_robot_part_logs(ids.parts["rover-1/arm"])[1].message, "hot")
  local rows = cloud.data.tabular_data_by_filter { filter = { part_id = ids.parts["rover-1"] }, sort_order = "ORDER_ASCENDING" }
  t.eq(#rows, 3)
  t.eq({ rows[1].data.readings.celsius, rows[3].data.readings.celsius }, { 20, 22 })
  t.eq(rows[1].metadata.component_name, "temp")
  t.eq(time.parse(rows[3].time_requested) - time.parse(rows[1].time_requested), 120)
  t.ok(math.abs(time.parse(rows[3].time_requested) - time.now()) < 60)
end)

test("members, at the top level and in organizations, with their roles", function(t)
  local ids = fleet.seed {
    locations = { { name = "lab" } },
    members = { { email = "cy@example.com", roles = { { role = "operator", location = "lab" } } },
      { email = "di@example.com" } },
    organizations = { { name = "acme", members = { { email = "cy@example.com" } } } },
  }
  local cy, di = ids.members["cy@example.com"], ids.members["di@example.com"]
  local function members_of(org)
    local members, invites = cloud.list_organization_members { org_id = org }
    t.eq(#invites, 0, "members are not invites")
    local by_email = {}
    for _, m in ipairs(members) do by_email[m.emails[1]] = m.user_id end
    return by_email
  end
  local function roles_of(org, user)
    local held = {}
    for _, a in ipairs(cloud.list_authorizations { org_id = org }) do
      if a.identity_id == user then held[#held + 1] = a.authorization_id .. " " .. a.resource_id end
    end
    return held
  end
  local home = cloud.default_org_id()
  local home_members = members_of(home)
  t.eq({ home_members["cy@example.com"], home_members["di@example.com"] }, { cy, di })
  t.ok(home_members["admin@localhost"], "the fleet's admin stays a member")
  t.eq(roles_of(home, cy), { "location_operator " .. ids.locations.lab })
  t.eq(roles_of(home, di), { "organization_owner " .. home })
  -- One address, one user, in both organizations.
  local acme = ids.organizations.acme
  t.eq(members_of(acme)["cy@example.com"], cy)
  t.eq(roles_of(acme, cy), { "organization_owner " .. acme })
  t.eq(cloud.get_user_id_by_email("cy@example.com"), cy)
end)

test("mistakes in a seed are named", function(t)
  t.raises("every member needs an email", fleet.seed, { members = { { roles = {} } } })
  t.raises("no location nowhere", fleet.seed,
    { members = { { email = "x@example.com", roles = { { role = "owner", location = "nowhere" } } } } })
  local e = t.raises("INVALID_ARGUMENT", fleet.seed, { members = { { email = "not-an-address" } } })
  t.matches(e.message, "is not an email address")
  t.raises("machines of a new organization go in one of its locations", fleet.seed,
    { organizations = { { name = "empty", machines = { { name = "m" } } } } })
  t.raises("readings of temp need values", fleet.seed,
    { machines = { { name = "m", readings = { { component = "temp" } } } } })
end)
