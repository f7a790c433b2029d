"""The official Python SDK against `fleetsh serve` for the machine methods of issue 11:
machines of several locations, favorite machines, and the restart flag a part reads once."""

from viam.proto.app.robot import NeedsRestartRequest, RobotServiceStub

from conftest import suffix


async def test_list_robots_for_locations(app, org_id):
    a = await app.create_location(org_id, f"loc-{suffix()}")
    b = await app.create_location(org_id, f"loc-{suffix()}")
    in_a = await app.new_robot(f"m-{suffix()}", a.id)
    in_b = await app.new_robot(f"m-{suffix()}", b.id)
    robots = await app.list_robots_for_locations([b.id, a.id])
    assert [r.id for r in robots] == [in_b, in_a]
    assert [r.location for r in robots] == [b.id, a.id]


async def test_favorite_machines(app, location_id, org_id):
    first = await app.new_robot(f"fav-{suffix()}", location_id)
    second = await app.new_robot(f"fav-{suffix()}", location_id)
    await app.add_favorite_machine(second)
    await app.add_favorite_machine(first)
    favs = [f for f in await app.list_favorite_machines() if f.machine.id in (first, second)]
    assert [f.machine.id for f in favs] == [second, first]
    assert all(f.organization_id == org_id for f in favs)
    await app.remove_favorite_machine(second)
    left = [f.machine.id for f in await app.list_favorite_machines()]
    assert first in left and second not in left


async def test_needs_restart_reports_mark_part_for_restart_once(viam, app, location_id):
    robot = await app.new_robot(f"r-{suffix()}", location_id)
    part = (await app.get_robot_parts(robot))[0]
    stub = RobotServiceStub(viam._channel)
    ask = lambda: stub.NeedsRestart(NeedsRestartRequest(id=part.id), metadata=viam._metadata)  # noqa: E731
    assert not (await ask()).must_restart
    await app.mark_part_for_restart(part.id)
    assert (await ask()).must_restart
    assert not (await ask()).must_restart
