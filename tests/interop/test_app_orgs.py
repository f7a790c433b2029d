"""Issue 11, orgs area: the AppClient methods of metadata, organizations, sharing, roles and
keys against `fleetsh serve`. Each test makes its own resources with a random suffix."""

import pytest
from grpclib import GRPCError, Status

from viam.app.app_client import APIKeyAuthorization

from conftest import dial, suffix


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


async def test_change_role_swaps_the_grant(app, org_id):
    loc_id, _, _ = await new_machine(app, org_id)
    _, key_id = await app.create_key(
        org_id, [APIKeyAuthorization(role="operator", resource_type="location", resource_id=loc_id)], f"k-{suffix()}"
    )
    await app.change_role(org_id, key_id, "operator", "location", loc_id, key_id, "owner", "location", loc_id)
    auths = await app.list_authorizations(org_id, [loc_id])
    assert [a.authorization_id for a in auths if a.identity_id == key_id] == ["location_owner"]


async def test_robot_api_keys_lists_the_machine_keys(app, org_id):
    _, robot_id, _ = await new_machine(app, org_id)
    name = f"rk-{suffix()}"
    _, key_id = await app.create_key(
        org_id, [APIKeyAuthorization(role="owner", resource_type="robot", resource_id=robot_id)], name
    )
    keys = await app.get_robot_api_keys(robot_id)
    assert [(k.api_key.id, k.api_key.name, k.api_key.key) for k in keys] == [(key_id, name, "")]
    assert [(a.authorization_id, a.resource_id) for a in keys[0].authorizations] == [("robot_owner", robot_id)]


async def test_update_and_delete_organization(app, org_id):
    org = await app.create_organization(f"py-{suffix()}")
    ns = f"py-{suffix()}"
    got = await app.update_organization(org.id, name="renamed", public_namespace=ns, region="us-east", cid="crm")
    assert (got.name, got.public_namespace, got.default_region, got.cid) == ("renamed", ns, "us-east", "crm")
    assert (await app.get_organization(org.id)).name == "renamed"
    await expect_status(Status.FAILED_PRECONDITION, app.update_organization(org.id, public_namespace=f"x-{suffix()}"))
    await expect_status(Status.FAILED_PRECONDITION, app.delete_organization(org_id), "location")
    await app.delete_organization(org.id)
    await expect_status(Status.NOT_FOUND, app.get_organization(org.id), org.id)


async def test_get_user_id_by_email(app, org_id):
    members, _ = await app.list_organization_members(org_id)
    admin = next(m for m in members if "admin@localhost" in m.emails)
    assert await app.get_user_id_by_email("admin@localhost") == admin.user_id
    await expect_status(Status.NOT_FOUND, app.get_user_id_by_email(f"{suffix()}@example.com"))


async def test_share_and_unshare_location(app, org_id):
    other = await app.create_organization(f"peer-{suffix()}")
    loc_id, _, _ = await new_machine(app, org_id)
    await app.share_location(other.id, loc_id)
    access = await app.get_organizations_with_access_to_location(loc_id)
    assert [o.id for o in access] == [org_id, other.id]
    assert [loc.id for loc in await app.list_locations(other.id)] == [loc_id]
    await app.unshare_location(other.id, loc_id)
    assert [o.id for o in await app.get_organizations_with_access_to_location(loc_id)] == [org_id]
    await expect_status(Status.NOT_FOUND, app.unshare_location(other.id, loc_id), "not shared")


async def test_a_shared_location_is_read_not_changed_by_the_peer(creds, app, org_id):
    """README, Sharing: keys of the receiving organization read and operate a shared location's
    machines; only the owning organization changes them; unsharing takes that away."""
    other = await app.create_organization(f"peer-{suffix()}")
    loc_id, robot_id, _ = await new_machine(app, org_id)
    key, key_id = await app.create_key(other.id, [APIKeyAuthorization("owner", "organization", other.id)], f"peer-{suffix()}")
    peer = await dial(creds, key_id, key)
    try:
        await expect_status(Status.PERMISSION_DENIED, peer.app_client.list_robots(loc_id), loc_id)
        await app.share_location(other.id, loc_id)
        assert [r.id for r in await peer.app_client.list_robots(loc_id)] == [robot_id]
        assert (await peer.app_client.get_robot(robot_id)).location == loc_id
        await expect_status(Status.PERMISSION_DENIED, peer.app_client.new_robot(f"m-{suffix()}", loc_id), "write_location")
        await app.unshare_location(other.id, loc_id)
        await expect_status(Status.PERMISSION_DENIED, peer.app_client.list_robots(loc_id), loc_id)
        assert await peer.app_client.list_locations(other.id) == []
    finally:
        peer.close()
