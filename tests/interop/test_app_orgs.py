"""Issue 11, orgs area: the AppClient methods of metadata, organizations, sharing, roles and
keys against `fleetsh serve`. Each test makes its own resources with a random suffix."""

import pytest
from grpclib import GRPCError, Status

from conftest import suffix


async def expect_status(status: Status, coro, needle: str = ""):
    with pytest.raises(GRPCError) as err:
        await coro
    assert err.value.status == status, f"{err.value.status}: {err.value.message}"
    assert needle.lower() in (err.value.message or "").lower(), err.value.message


async def new_machine(app, org_id):
    loc = await app.create_location(org_id, f"loc-{suffix()}")
    robot_id = await app.new_robot(f"m-{suffix()}", loc.id)
    parts = await app.get_robot_parts(robot_id)
    return loc.id, robot_id, parts[0].id


async def test_metadata_of_every_resource_round_trips(app, org_id):
    loc_id, robot_id, part_id = await new_machine(app, org_id)
    assert await app.get_robot_metadata(robot_id) == {}
    pairs = [
        (app.update_organization_metadata, app.get_organization_metadata, org_id),
        (app.update_location_metadata, app.get_location_metadata, loc_id),
        (app.update_robot_metadata, app.get_robot_metadata, robot_id),
        (app.update_robot_part_metadata, app.get_robot_part_metadata, part_id),
    ]
    for update, get, rid in pairs:
        data = {"of": rid, "nested": {"n": 2.0, "ok": True}, "tags": ["a", "b"]}
        await update(rid, data)
        assert await get(rid) == data, get.__name__
        # An update replaces the whole metadata.
        await update(rid, {"only": "this"})
        assert await get(rid) == {"only": "this"}, get.__name__


async def test_metadata_of_a_deleted_machine_is_not_found(app, org_id):
    _, robot_id, _ = await new_machine(app, org_id)
    await app.update_robot_metadata(robot_id, {"k": "v"})
    await app.delete_robot(robot_id)
    await expect_status(Status.NOT_FOUND, app.get_robot_metadata(robot_id), robot_id)
