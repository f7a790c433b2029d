"""The official Python SDK against `fleetsh serve` for the machine methods of issue 11:
machines of several locations, favorite machines, and the restart flag a part reads once."""

from viam.proto.app import OnlineState
from viam.proto.app.robot import AgentInfo, ConfigRequest, NeedsRestartRequest, RobotServiceStub

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


async def test_config_applies_the_fragments_a_part_imports(viam, app, org_id, location_id):
    frag = await app.create_fragment(org_id, f"f-{suffix()}", {"components": [{"name": "cam", "api": "rdk:component:camera", "model": "fake"}]})
    robot = await app.new_robot(f"c-{suffix()}", location_id)
    part = (await app.get_robot_parts(robot))[0]
    await app.update_robot_part(part.id, part.name, {"fragments": [frag.id], "components": [{"name": "arm", "api": "rdk:component:arm", "model": "fake"}]})
    stub = RobotServiceStub(viam._channel)
    reply = await stub.Config(ConfigRequest(id=part.id, agent_info=AgentInfo(os="linux", version="0.52.0")), metadata=viam._metadata)
    assert [c.name for c in reply.config.components] == ["arm", "cam"]


async def test_fragment_versions_and_history(app, org_id):
    f = await app.create_fragment(org_id, f"f-{suffix()}", {"components": []})
    await app.update_fragment(f.id, f.name, {"components": [{"name": "arm"}]})
    first = await app.get_fragment(f.id, version="1")
    assert first.fragment == {"components": []}
    history = await app.get_fragment_history(f.id, page_limit=10)
    assert [h.old.fragment for h in history] == [{"components": [{"name": "arm"}]}, {"components": []}]
    assert all(h.fragment == f.id for h in history)


async def test_set_config_property(app, location_id):
    robot = await app.new_robot(f"p-{suffix()}", location_id)
    part = (await app.get_robot_parts(robot))[0]
    results = await app.set_config_property(part.id, {"network.bind_address": ":8080"})
    assert [(r.path, r.success) for r in results] == [("network.bind_address", True)]
    updated = await app.get_robot_part(part.id)
    assert updated.robot_config["network"]["bind_address"] == ":8080"


async def test_set_config_property_applies_each_change_on_its_own(app, location_id):
    """Each change has its own result: one whose path cannot be set says why and leaves the
    others applied."""
    robot = await app.new_robot(f"p-{suffix()}", location_id)
    part = (await app.get_robot_parts(robot))[0]
    await app.update_robot_part(part.id, part.name, {"components": [{"name": "arm", "attributes": {"x": 1}}], "n": 5})
    results = await app.set_config_property(
        part.id, {"components.0.attributes.x": 2, "n.deep": 1, "components.7.name": "z", "new.key": "v"}
    )
    outcome = {r.path: (r.success, r.error) for r in results}
    assert outcome["components.0.attributes.x"] == (True, "")
    assert outcome["new.key"] == (True, "")
    assert not outcome["n.deep"][0] and "n.deep" in outcome["n.deep"][1]
    assert not outcome["components.7.name"][0] and "past the list" in outcome["components.7.name"][1]
    config = (await app.get_robot_part(part.id)).robot_config
    assert config == {"components": [{"name": "arm", "attributes": {"x": 2}}], "n": 5, "new": {"key": "v"}}


async def test_a_part_asking_for_its_config_brings_its_machine_online(viam, app, location_id):
    """RobotService/Config is how viam-server comes online: GetRobot and ListRobots say so, as
    the part does, for a machine that has logged nothing."""
    robot = await app.new_robot(f"on-{suffix()}", location_id)
    part = (await app.get_robot_parts(robot))[0]
    assert (await app.get_robot(robot)).online_state == OnlineState.ONLINE_STATE_AWAITING_SETUP
    await RobotServiceStub(viam._channel).Config(ConfigRequest(id=part.id), metadata=viam._metadata)
    part = await app.get_robot_part(part.id)
    got = await app.get_robot(robot)
    assert got.online_state == OnlineState.ONLINE_STATE_ONLINE
    assert got.last_access.ToDatetime() == part.last_access
    listed = next(r for r in await app.list_robots(location_id) if r.id == robot)
    assert listed.online_state == OnlineState.ONLINE_STATE_ONLINE
