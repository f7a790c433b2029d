"""The official Python SDK (viam-sdk, pinned in requirements.txt) against `fleetsh serve`.

One test per AppClient method of the reference's section 4.2 (or per tightly related group),
following the cloud API guide's examples. Tests share one server, so each makes its own
locations, machines and names with a random suffix and never relies on another test's data.
"""

import asyncio
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from grpclib import GRPCError, Status
from viam.app.app_client import APIKeyAuthorization, Fragment, LogEntry, RobotPart, RobotPartHistoryEntry
from viam.proto.app import (
    Authorization,
    AuthorizedPermissions,
    LogOrder,
    Model,
    ModuleFileInfo,
    Organization,
    Visibility,
)
from viam.proto.rpc.auth import AuthenticateRequest, AuthServiceStub, Credentials
from viam.proto.app.robot import LogRequest, RobotServiceStub

from conftest import dial, log_entry, push_logs, raw_channel, spaced_times, suffix


async def expect_status(status: Status, coro, needle: str = ""):
    """Awaits `coro`, which must fail with `status` and a message containing `needle`."""
    with pytest.raises(GRPCError) as err:
        await coro
    assert err.value.status == status, f"{err.value.status}: {err.value.message}"
    assert needle.lower() in (err.value.message or "").lower(), err.value.message
    return err.value


async def new_location(app, org_id, name=None, parent=None):
    return await app.create_location(org_id, name or f"loc-{suffix()}", parent_location_id=parent)


async def new_machine(app, location_id):
    """A fresh machine and its main part id."""
    robot_id = await app.new_robot(f"m-{suffix()}", location_id)
    parts = await app.get_robot_parts(robot_id)
    assert len(parts) == 1 and parts[0].main_part
    return robot_id, parts[0].id


async def admin_user_id(app, org_id) -> str:
    members, _ = await app.list_organization_members(org_id)
    return next(m.user_id for m in members if "admin@localhost" in m.emails)


# ---------------------------------------------------------------- organizations


async def test_create_get_and_list_organizations(app, org_id):
    name = f"org-{suffix()}"
    org = await app.create_organization(name)
    assert isinstance(org, Organization) and org.name == name and org.id
    assert org.created_on.seconds > 0
    got = await app.get_organization(org.id)
    assert (got.id, got.name) == (org.id, name)
    ids = {o.id for o in await app.list_organizations()}
    assert {org_id, org.id} <= ids
    await expect_status(Status.INVALID_ARGUMENT, app.create_organization(""), "name")
    await expect_status(Status.NOT_FOUND, app.get_organization("no-such-org"), "no-such-org")


async def test_list_organizations_by_user(app, org_id):
    user_id = await admin_user_id(app, org_id)
    orgs = await app.list_organizations_by_user(user_id)
    assert org_id in [o.org_id for o in orgs]
    assert all(o.org_name for o in orgs)


async def test_get_organization_namespace_availability(app):
    assert await app.get_organization_namespace_availability(f"ns-{suffix()}") is True
    await expect_status(Status.INVALID_ARGUMENT, app.get_organization_namespace_availability(""), "public_namespace")
    await expect_status(Status.INVALID_ARGUMENT, app.get_organization_namespace_availability("Bad_NS"), "public_namespace")


async def test_list_organization_members(app, org_id):
    members, invites = await app.list_organization_members(org_id)
    admin = next(m for m in members if "admin@localhost" in m.emails)
    assert admin.user_id and admin.date_added.seconds > 0
    assert isinstance(invites, list)


async def test_delete_organization_member_errors(app, org_id):
    # No second member can join a local fleet without accepting an invite, so the success
    # path is covered by the Rust tests; here: the SDK call shape and its errors.
    await expect_status(Status.NOT_FOUND, app.delete_organization_member(org_id, "no-such-user"), "no-such-user")
    await expect_status(Status.INVALID_ARGUMENT, app.delete_organization_member(org_id, ""), "user_id")


async def test_organization_invites_lifecycle(app, org_id):
    email = f"invitee-{suffix()}@example.com"
    invite = await app.create_organization_invite(org_id, email)
    assert (invite.organization_id, invite.email) == (org_id, email)
    # No authorizations given: the invitee is to be an owner of the organization.
    assert [(a.resource_type, a.resource_id) for a in invite.authorizations] == [("organization", org_id)]
    _, invites = await app.list_organization_members(org_id)
    assert email in [i.email for i in invites]

    loc = await new_location(app, org_id)
    add = Authorization(
        authorization_type="role",
        authorization_id="location_operator",
        resource_type="location",
        resource_id=loc.id,
        identity_id="",
        organization_id=org_id,
    )
    updated = await app.update_organization_invite_authorizations(org_id, email, add_authorizations=[add])
    assert ("location", loc.id) in [(a.resource_type, a.resource_id) for a in updated.authorizations]
    assert len(updated.authorizations) == 2

    resent = await app.resend_organization_invite(org_id, email)
    assert resent.email == email

    await app.delete_organization_invite(org_id, email)
    _, invites = await app.list_organization_members(org_id)
    assert email not in [i.email for i in invites]
    await expect_status(Status.NOT_FOUND, app.delete_organization_invite(org_id, email), email)
    await expect_status(Status.NOT_FOUND, app.resend_organization_invite(org_id, email), email)


def outbox(creds) -> list[dict]:
    """The invitation emails the local fleet "sent": lines of outbox.jsonl beside credentials.json."""
    path = os.path.join(os.path.dirname(os.environ["FLEETSH_CREDENTIALS"]), "outbox.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


async def test_organization_invite_emails_and_refusals(creds, app, org_id):
    email = f"mailed-{suffix()}@example.com"
    await app.create_organization_invite(org_id, email)
    assert [m["to"] for m in outbox(creds)].count(email) == 1
    await app.resend_organization_invite(org_id, email)
    assert [m["to"] for m in outbox(creds)].count(email) == 2
    await expect_status(Status.ALREADY_EXISTS, app.create_organization_invite(org_id, email), "pending")

    quiet = f"quiet-{suffix()}@example.com"
    invite = await app.create_organization_invite(org_id, quiet, send_email_invite=False)
    assert invite.email == quiet and quiet not in [m["to"] for m in outbox(creds)]

    # The guide: inviting a member, or an address that is none, is an error.
    await expect_status(Status.ALREADY_EXISTS, app.create_organization_invite(org_id, "admin@localhost"), "member")
    await expect_status(Status.INVALID_ARGUMENT, app.create_organization_invite(org_id, "not-an-email"), "email")

    # The guide: no authorizations to change, or removing the only one, is an error.
    await expect_status(Status.INVALID_ARGUMENT, app.update_organization_invite_authorizations(org_id, quiet), "authorizations")
    await expect_status(
        Status.FAILED_PRECONDITION,
        app.update_organization_invite_authorizations(org_id, quiet, remove_authorizations=list(invite.authorizations)),
        "delete the invite",
    )
    await expect_status(
        Status.NOT_FOUND,
        app.update_organization_invite_authorizations(org_id, f"none-{suffix()}@example.com", add_authorizations=list(invite.authorizations)),
        "no pending invite",
    )
    await app.delete_organization_invite(org_id, quiet)
    await app.delete_organization_invite(org_id, email)


# -------------------------------------------------------------------- locations


async def test_create_get_update_list_delete_location(app, org_id):
    parent = await new_location(app, org_id)
    child = await new_location(app, org_id, parent=parent.id)
    assert child.parent_location_id == parent.id
    got = await app.get_location(child.id)
    assert (got.id, got.name, got.parent_location_id) == (child.id, child.name, parent.id)
    assert org_id in [o.organization_id for o in got.organizations]

    renamed = await app.update_location(child.id, name=f"renamed-{suffix()}")
    assert renamed.parent_location_id == parent.id and renamed.name.startswith("renamed-")
    # The guide: an empty parent moves the location to the top level.
    top = await app.update_location(child.id, parent_location_id="")
    assert top.parent_location_id == "" and top.name == renamed.name

    ids = [loc.id for loc in await app.list_locations(org_id)]
    assert {parent.id, child.id} <= set(ids)

    await app.delete_location(child.id)
    await expect_status(Status.NOT_FOUND, app.get_location(child.id), child.id)
    assert child.id not in [loc.id for loc in await app.list_locations(org_id)]


async def test_location_errors(app, org_id):
    await expect_status(Status.INVALID_ARGUMENT, app.create_location(org_id, ""), "name")
    await expect_status(Status.NOT_FOUND, app.create_location(org_id, f"x-{suffix()}", "no-such-parent"), "no-such-parent")
    # The SDK sends "" when no location is given and this client has none stored.
    await expect_status(Status.INVALID_ARGUMENT, app.get_location(), "location_id")
    await expect_status(Status.NOT_FOUND, app.delete_location("no-such-location"), "no-such-location")


async def test_location_secrets(app, org_id):
    loc = await new_location(app, org_id)
    auth = await app.location_auth(loc.id)
    assert auth.location_id == loc.id and len(auth.secrets) >= 1
    before = {s.id for s in auth.secrets}

    grown = await app.create_location_secret(loc.id)
    new_ids = {s.id for s in grown.secrets} - before
    assert len(new_ids) == 1
    new_id = new_ids.pop()
    assert next(s.secret for s in grown.secrets if s.id == new_id)

    await app.delete_location_secret(new_id, loc.id)  # note the SDK's argument order
    after = await app.location_auth(loc.id)
    assert {s.id for s in after.secrets} == before
    await expect_status(Status.NOT_FOUND, app.delete_location_secret("no-such-secret", loc.id), "no-such-secret")


# ----------------------------------------------------------------------- robots


async def test_new_get_list_update_delete_robot(app, org_id, location_id):
    name = f"rover-{suffix()}"
    robot_id = await app.new_robot(name, location_id)
    assert isinstance(robot_id, str) and robot_id
    robot = await app.get_robot(robot_id)
    assert (robot.id, robot.name, robot.location) == (robot_id, name, location_id)
    assert robot_id in [r.id for r in await app.list_robots(location_id)]
    await expect_status(Status.ALREADY_EXISTS, app.new_robot(name, location_id), name)

    other = await new_location(app, org_id)
    moved = await app.update_robot(robot_id, f"{name}-2", other.id)
    assert (moved.name, moved.location) == (f"{name}-2", other.id)
    assert robot_id in [r.id for r in await app.list_robots(other.id)]

    await app.delete_robot(robot_id)
    await expect_status(Status.NOT_FOUND, app.get_robot(robot_id), robot_id)
    await expect_status(Status.NOT_FOUND, app.new_robot(f"x-{suffix()}", "no-such-location"), "no-such-location")


async def test_get_rover_rental_robots(app):
    org = await app.create_organization(f"rentals-{suffix()}")
    rentals = await app.create_location(org.id, "Rover Rentals")
    robot_id = await app.new_robot(f"r-{suffix()}", rentals.id)
    elsewhere = await app.create_location(org.id, f"other-{suffix()}")
    await app.new_robot(f"o-{suffix()}", elsewhere.id)
    robots = await app.get_rover_rental_robots(org.id)
    assert [(r.robot_id, r.location_id) for r in robots] == [(robot_id, rentals.id)]
    assert robots[0].robot_main_part_id


# ------------------------------------------------------------------------ parts

NESTED_CONFIG = {
    "components": [
        {
            "name": "base",
            "api": "rdk:component:base",
            "model": "rdk:builtin:wheeled",
            "attributes": {"width_mm": 300, "ratio": 0.5, "left": ["l1", "l2"], "enabled": True, "note": None},
        }
    ],
    "network": {"bind_address": ":8080"},
}
# What the SDK hands back for NESTED_CONFIG: its struct_to_dict turns a null into
# NullValue.NULL_VALUE, which is 0 (viam/utils.py value_to_primitive), not None.
NESTED_CONFIG_AS_READ = {
    **NESTED_CONFIG,
    "components": [{**NESTED_CONFIG["components"][0], "attributes": {**NESTED_CONFIG["components"][0]["attributes"], "note": 0}}],
}


async def test_get_robot_parts_and_part(app, location_id, tmp_path):
    robot_id, part_id = await new_machine(app, location_id)
    parts = await app.get_robot_parts(robot_id)
    assert all(isinstance(p, RobotPart) for p in parts)
    part = await app.get_robot_part(part_id)
    assert isinstance(part, RobotPart)
    assert (part.id, part.robot, part.location_id, part.main_part) == (part_id, robot_id, location_id, True)
    assert part.secret and part.secrets and part.created_on is not None
    assert isinstance(part.fqdn, str) and isinstance(part.dns_name, str)

    await app.update_robot_part(part_id, part.name, robot_config=NESTED_CONFIG)
    dest = tmp_path / "config.json"
    await app.get_robot_part(part_id, dest=str(dest), indent=2)
    # The SDK writes GetRobotPartResponse.config_json and only logs a failure to parse it.
    assert dest.exists(), "config_json was missing or not JSON"
    assert json.loads(dest.read_text()) == NESTED_CONFIG
    await expect_status(Status.NOT_FOUND, app.get_robot_part("no-such-part"), "no-such-part")
    await expect_status(Status.NOT_FOUND, app.get_robot_parts("no-such-robot"), "no-such-robot")


async def test_update_robot_part_round_trips_nested_config(app, location_id):
    _, part_id = await new_machine(app, location_id)
    updated = await app.update_robot_part(part_id, "main-renamed", robot_config=NESTED_CONFIG)
    assert updated.name == "main-renamed" and updated.robot_config == NESTED_CONFIG_AS_READ
    got = await app.get_robot_part(part_id)
    assert got.robot_config == NESTED_CONFIG_AS_READ
    assert got.last_updated is not None

    # robot_config_json replaces the config with the JSON text as given.
    text = '{"components": [], "modules": [{"name": "m"}]}'
    by_json = await app.update_robot_part(part_id, "main-renamed", robot_config_json=text)
    assert by_json.robot_config == {"components": [], "modules": [{"name": "m"}]}
    assert json.loads(by_json.robot_config_json) == json.loads(text)

    # Name only: the config stays.
    kept = await app.update_robot_part(part_id, "main-3")
    assert kept.robot_config == {"components": [], "modules": [{"name": "m"}]}
    await expect_status(Status.INVALID_ARGUMENT, app.update_robot_part(part_id, ""), "name")


async def test_update_robot_part_last_known_update_conflict(app, location_id):
    _, part_id = await new_machine(app, location_id)
    first = await app.update_robot_part(part_id, "p", robot_config={"a": 1})
    await app.update_robot_part(part_id, "p", robot_config={"a": 2}, last_known_update=first.last_updated)
    # Writing again against the now stale time must not silently overwrite.
    with pytest.raises(GRPCError) as err:
        await app.update_robot_part(part_id, "p", robot_config={"a": 3}, last_known_update=first.last_updated)
    assert err.value.status in (Status.FAILED_PRECONDITION, Status.ABORTED), err.value.message
    assert (await app.get_robot_part(part_id)).robot_config == {"a": 2}


async def test_get_robot_part_history(app, location_id):
    _, part_id = await new_machine(app, location_id)
    await app.update_robot_part(part_id, "h", robot_config={"v": 1})
    await app.update_robot_part(part_id, "h", robot_config={"v": 2})
    history = await app.get_robot_part_history(part_id)
    assert len(history) >= 2
    assert all(isinstance(h, RobotPartHistoryEntry) for h in history)
    assert all(h.part == part_id and isinstance(h.old, RobotPart) for h in history)
    assert {"v": 1} in [h.old.robot_config for h in history]
    assert all(isinstance(h.when, datetime) for h in history)
    limited = await app.get_robot_part_history(part_id, page_limit=1)
    assert len(limited) == 1


async def test_new_mark_main_and_delete_robot_part(app, location_id):
    robot_id, main_id = await new_machine(app, location_id)
    part_id = await app.new_robot_part(robot_id, f"sub-{suffix()}")
    assert isinstance(part_id, str) and part_id
    parts = {p.id: p for p in await app.get_robot_parts(robot_id)}
    assert set(parts) == {main_id, part_id} and not parts[part_id].main_part

    await app.mark_part_as_main(part_id)
    parts = {p.id: p.main_part for p in await app.get_robot_parts(robot_id)}
    assert parts == {main_id: False, part_id: True}

    await expect_status(Status.FAILED_PRECONDITION, app.delete_robot_part(part_id), "main")
    await app.delete_robot_part(main_id)
    assert [p.id for p in await app.get_robot_parts(robot_id)] == [part_id]
    await expect_status(Status.NOT_FOUND, app.new_robot_part("no-such-robot", "x"), "no-such-robot")


async def test_mark_part_for_restart(app, location_id):
    _, part_id = await new_machine(app, location_id)
    assert await app.mark_part_for_restart(part_id) is None
    await expect_status(Status.NOT_FOUND, app.mark_part_for_restart("no-such-part"), "no-such-part")


async def test_robot_part_secrets(app, location_id):
    _, part_id = await new_machine(app, location_id)
    before = {s.id for s in (await app.get_robot_part(part_id)).secrets}
    part = await app.create_robot_part_secret(part_id)
    assert isinstance(part, RobotPart)
    new_ids = {s.id for s in part.secrets} - before
    assert len(new_ids) == 1
    await app.delete_robot_part_secret(part_id, new_ids.pop())
    assert {s.id for s in (await app.get_robot_part(part_id)).secrets} == before
    await expect_status(Status.NOT_FOUND, app.delete_robot_part_secret(part_id, "no-such-secret"), "no-such-secret")


# ------------------------------------------------------------------------- logs


async def test_get_robot_part_logs_round_trip_and_pages(viam, app, location_id, tmp_path):
    _, part_id = await new_machine(app, location_id)
    tag = suffix()
    times = spaced_times(250)
    entries = [
        log_entry(f"{tag} line {i}", level="error" if i % 10 == 0 else "info", when=t, fields=[{"i": i}])
        for i, t in enumerate(times)
    ]
    await push_logs(viam, part_id, entries)

    everything = await app.get_robot_part_logs(part_id, filter=tag, num_log_entries=0)
    assert len(everything) == 250
    assert all(isinstance(e, LogEntry) for e in everything)
    # Default order: newest first, with the pushed times kept to the microsecond (the SDK
    # turns them into naive UTC datetimes).
    assert [e.time for e in everything] == sorted((t.replace(tzinfo=None) for t in times), reverse=True)
    newest = everything[0]
    assert newest.message == f"{tag} line 249" and newest.level == "info"
    assert (newest.host, newest.logger_name) == ("interop-host", "rdk.interop")
    assert newest.caller == {"File": "interop.py", "Line": 7, "Defined": True}
    assert newest.fields == [{"i": 249}]

    first7 = await app.get_robot_part_logs(part_id, filter=tag, num_log_entries=7)
    assert [e.message for e in first7] == [f"{tag} line {i}" for i in range(249, 242, -1)]
    default = await app.get_robot_part_logs(part_id, filter=tag)
    assert len(default) == 100

    errors = await app.get_robot_part_logs(part_id, filter=tag, log_levels=["error"], num_log_entries=0)
    assert len(errors) == 25 and {e.level for e in errors} == {"error"}

    oldest = await app.get_robot_part_logs(part_id, filter=tag, num_log_entries=3, order=LogOrder.LOG_ORDER_ASCENDING)
    assert [e.message for e in oldest] == [f"{tag} line {i}" for i in range(3)]

    window = await app.get_robot_part_logs(part_id, filter=tag, start=times[10], end=times[19], num_log_entries=0)
    assert {e.message for e in window} <= {f"{tag} line {i}" for i in range(10, 20)}
    assert len(window) >= 8

    dest = tmp_path / "logs.txt"
    await app.get_robot_part_logs(part_id, filter=tag, num_log_entries=2, dest=str(dest))
    lines = dest.read_text().splitlines()
    assert len(lines) == 2 and "\tINFO\trdk\tinterop.py:7" in lines[0] and lines[0].endswith(f"{tag} line 249")

    none = await app.get_robot_part_logs(part_id, filter=f"absent-{tag}")
    assert none == []
    await expect_status(Status.NOT_FOUND, app.get_robot_part_logs("no-such-part"), "no-such-part")


async def test_get_robot_part_logs_range_resolves_against_start_or_end(viam, app, location_id):
    """The SDK's `range`: a duration resolved against whichever of start and end is given."""
    _, part_id = await new_machine(app, location_id)
    tag = suffix()
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    times = [base + timedelta(minutes=10 * i) for i in range(6)]  # base, +10m, ..., +50m
    await push_logs(viam, part_id, [log_entry(f"{tag} at {10 * i}m", when=t) for i, t in enumerate(times)])

    def minutes(entries):
        return sorted(int(e.message.split(" at ")[1][:-1]) for e in entries)

    after = await app.get_robot_part_logs(part_id, filter=tag, start=times[1], range="20m", num_log_entries=0)
    assert minutes(after) == [10, 20, 30]
    before = await app.get_robot_part_logs(part_id, filter=tag, end=times[4], range="15m", num_log_entries=0)
    assert minutes(before) == [30, 40]
    # Neither bound: the range ends now, so entries three hours old are outside an hour's range.
    assert await app.get_robot_part_logs(part_id, filter=tag, range="1h", num_log_entries=0) == []
    assert minutes(await app.get_robot_part_logs(part_id, filter=tag, range="1d", num_log_entries=0)) == [0, 10, 20, 30, 40, 50]
    await expect_status(
        Status.INVALID_ARGUMENT, app.get_robot_part_logs(part_id, start=times[0], end=times[5], range="10m"), "range"
    )
    await expect_status(Status.INVALID_ARGUMENT, app.get_robot_part_logs(part_id, range="soon"), "range")


async def test_logs_pushed_with_the_part_secret(creds, app, location_id):
    """viam-server's way in: robot-secret credentials for the part, then RobotService/Log."""
    _, part_id = await new_machine(app, location_id)
    secret = (await app.get_robot_part(part_id)).secret
    channel = raw_channel(creds)
    try:
        resp = await AuthServiceStub(channel).Authenticate(
            AuthenticateRequest(entity=part_id, credentials=Credentials(type="robot-secret", payload=secret))
        )
        md = {"authorization": f"Bearer {resp.access_token}"}
        tag = suffix()
        await RobotServiceStub(channel).Log(LogRequest(id=part_id, logs=[log_entry(f"{tag} from machine")]), metadata=md)
        with pytest.raises(GRPCError) as wrong:
            await AuthServiceStub(channel).Authenticate(
                AuthenticateRequest(entity=part_id, credentials=Credentials(type="robot-secret", payload="wrong"))
            )
        assert wrong.value.status in (Status.PERMISSION_DENIED, Status.UNAUTHENTICATED)
    finally:
        channel.close()
    logs = await app.get_robot_part_logs(part_id, filter=tag)
    assert [e.message for e in logs] == [f"{tag} from machine"]


async def test_tail_robot_part_logs_yields_pushed_entries(viam, app, location_id):
    _, part_id = await new_machine(app, location_id)
    tag = suffix()
    stream = await app.tail_robot_part_logs(part_id, errors_only=True, filter=tag)
    received: list[LogEntry] = []

    async def collect():
        async for batch in stream:
            received.extend(batch)
            if any("wanted" in e.message for e in received):
                return

    async def produce():
        # Keep pushing until the tail has seen one: the stream may subscribe after the first push.
        i = 0
        while True:
            await push_logs(
                viam,
                part_id,
                [
                    log_entry(f"{tag} info {i}", level="info"),
                    log_entry(f"other error {i}", level="error"),
                    log_entry(f"{tag} wanted {i}", level="error"),
                ],
            )
            i += 1
            await asyncio.sleep(0.2)

    producer = asyncio.create_task(produce())
    try:
        await asyncio.wait_for(collect(), timeout=15)
    finally:
        producer.cancel()
        await stream._stream.aclose()  # leaves the SDK's `async with`, cancelling the call
    assert received
    # errors_only and the filter both apply to live entries.
    assert all(e.level == "error" and tag in e.message for e in received), [(e.level, e.message) for e in received]
    assert all(isinstance(e.time, datetime) for e in received)


async def test_tail_robot_part_logs_unknown_part(app):
    stream = await app.tail_robot_part_logs("no-such-part", errors_only=False)
    with pytest.raises(GRPCError) as err:
        await asyncio.wait_for(stream.next(), timeout=10)
    assert err.value.status == Status.NOT_FOUND and "no-such-part" in err.value.message


# -------------------------------------------------------------------- fragments


async def test_fragments_lifecycle(app, org_id):
    name = f"frag-{suffix()}"
    config = {"components": [{"name": "cam", "attributes": {"fps": 30, "tags": ["a", "b"]}}]}
    frag = await app.create_fragment(org_id, name, config)
    assert isinstance(frag, Fragment)
    assert (frag.name, frag.fragment, frag.organization_owner) == (name, config, org_id)
    assert frag.public is False and frag.visibility == Fragment.Visibility.PRIVATE
    assert isinstance(frag.created_on, datetime)

    got = await app.get_fragment(frag.id)
    assert (got.id, got.name, got.fragment) == (frag.id, name, config)

    private = await app.list_fragments(org_id, show_public=False, visibilities=[Fragment.Visibility.PRIVATE])
    assert frag.id in [f.id for f in private]

    new_config = {"components": [], "services": [{"name": "nav"}]}
    updated = await app.update_fragment(frag.id, f"{name}-2", config=new_config, visibility=Fragment.Visibility.PUBLIC)
    assert (updated.name, updated.fragment, updated.visibility) == (f"{name}-2", new_config, Fragment.Visibility.PUBLIC)
    assert (await app.get_fragment(frag.id)).fragment == new_config

    await app.delete_fragment(frag.id)
    await expect_status(Status.NOT_FOUND, app.get_fragment(frag.id), frag.id)
    await expect_status(Status.INVALID_ARGUMENT, app.create_fragment(org_id, ""), "name")


# ------------------------------------------------------------------------ roles


async def test_add_list_remove_role(app, org_id):
    loc = await new_location(app, org_id)
    user_id = await admin_user_id(app, org_id)
    await app.add_role(org_id, user_id, "operator", "location", loc.id)
    auths = await app.list_authorizations(org_id, [loc.id])
    mine = [a for a in auths if a.identity_id == user_id]
    assert [(a.authorization_id, a.resource_type, a.resource_id) for a in mine] == [
        ("location_operator", "location", loc.id)
    ]
    assert all(a.resource_id == loc.id for a in auths)
    assert len(await app.list_authorizations(org_id)) > len(auths)

    await app.remove_role(org_id, user_id, "operator", "location", loc.id)
    assert [a for a in await app.list_authorizations(org_id, [loc.id]) if a.identity_id == user_id] == []
    await expect_status(Status.NOT_FOUND, app.add_role(org_id, user_id, "operator", "location", "no-such-location"), "no-such-location")


async def test_check_permissions(creds, app, org_id, location_id):
    robot_id = await app.new_robot(f"m-{suffix()}", location_id)
    asked = AuthorizedPermissions(
        resource_type="robot", resource_id=robot_id, permissions=["read_robot", "control_robot", "write_robot"]
    )
    allowed = await app.check_permissions([asked])
    assert [(p.resource_id, sorted(p.permissions)) for p in allowed] == [(robot_id, ["control_robot", "read_robot", "write_robot"])]

    key, key_id = await app.create_key(org_id, [APIKeyAuthorization("operator", "robot", robot_id)], f"op-{suffix()}")
    operator = await dial(creds, key_id, key)
    try:
        limited = await operator.app_client.check_permissions([asked])
        granted = {p for a in limited for p in a.permissions}
        assert "read_robot" in granted and "write_robot" not in granted
    finally:
        operator.close()
    await expect_status(Status.INVALID_ARGUMENT, app.check_permissions([]), "permissions")


# ---------------------------------------------------------------------- modules


async def test_modules_lifecycle(app, org_id):
    name = f"mod-{suffix()}"
    module_id, url = await app.create_module(org_id, name)
    assert module_id and isinstance(url, str) and url
    models = [Model(api="rdk:component:base", model=f"acme:{name}:wheeled")]
    updated_url = await app.update_module(module_id, "https://example.com/docs", "A base.", models, "bin/run", public=False)
    assert isinstance(updated_url, str) and updated_url

    module = await app.get_module(module_id)
    assert (module.module_id, module.name, module.organization_id) == (module_id, name, org_id)
    assert (module.description, module.entrypoint, module.url) == ("A base.", "bin/run", "https://example.com/docs")
    assert module.visibility == Visibility.VISIBILITY_PRIVATE
    assert [(m.api, m.model) for m in module.models] == [(m.api, m.model) for m in models]

    file_url = await app.upload_module_file(
        ModuleFileInfo(module_id=module_id, version="1.0.0", platform="linux/amd64"), b"\x7fELF" + bytes(range(256)) * 64
    )
    assert isinstance(file_url, str) and file_url
    module = await app.get_module(module_id)
    versions = {v.version: [f.platform for f in v.files] for v in module.versions}
    assert versions.get("1.0.0") == ["linux/amd64"]

    assert module_id in [m.module_id for m in await app.list_modules(org_id)]
    await expect_status(Status.ALREADY_EXISTS, app.create_module(org_id, name), name)
    await expect_status(Status.NOT_FOUND, app.get_module("no-such-module"), "no-such-module")


async def test_upload_module_file_errors(app):
    with pytest.raises(GRPCError) as err:
        await app.upload_module_file(ModuleFileInfo(module_id="no-such-module", version="1.0.0", platform="linux/amd64"), b"x")
    assert err.value.status == Status.NOT_FOUND, err.value.message


# ------------------------------------------------------------------------- keys


async def test_create_list_and_use_key(creds, app, org_id):
    loc = await new_location(app, org_id)
    name = f"key-{suffix()}"
    key, key_id = await app.create_key(org_id, [APIKeyAuthorization("operator", "location", loc.id)], name)
    assert key and key_id and key != key_id
    listed = next(k for k in await app.list_keys(org_id) if k.api_key.id == key_id)
    assert listed.api_key.name == name and listed.api_key.key == ""  # the secret is shown once
    assert [(a.authorization_id, a.resource_type, a.resource_id) for a in listed.authorizations] == [
        ("location_operator", "location", loc.id)
    ]

    client = await dial(creds, key_id, key)
    try:
        assert await client.app_client.list_robots(loc.id) == []
        await expect_status(Status.PERMISSION_DENIED, client.app_client.create_location(org_id, f"x-{suffix()}"))
    finally:
        client.close()
    await expect_status(Status.INVALID_ARGUMENT, app.create_key(org_id, [], f"empty-{suffix()}"), "authorizations")


async def test_key_default_name_is_accepted(app, org_id):
    # The SDK names a key str(datetime.now()) when no name is given.
    _, key_id = await app.create_key(org_id, [APIKeyAuthorization("owner", "organization", org_id)])
    listed = next(k for k in await app.list_keys(org_id) if k.api_key.id == key_id)
    assert listed.api_key.name.startswith(str(datetime.now().year))


async def test_rotate_copy_and_delete_key(creds, app, org_id):
    loc = await new_location(app, org_id)
    _, key_id = await app.create_key(org_id, [APIKeyAuthorization("owner", "location", loc.id)], f"k-{suffix()}")

    copy_key, copy_id = await app.create_key_from_existing_key_authorizations(key_id)
    assert copy_id != key_id
    by_id = {k.api_key.id: k for k in await app.list_keys(org_id)}
    shape = lambda k: sorted((a.authorization_id, a.resource_id) for a in k.authorizations)  # noqa: E731
    assert shape(by_id[copy_id]) == shape(by_id[key_id]) == [("location_owner", loc.id)]

    new_key, new_id = await app.rotate_key(key_id)
    assert new_key and new_id
    rotated = await dial(creds, new_id, new_key)
    try:
        assert (await rotated.app_client.get_location(loc.id)).id == loc.id
    finally:
        rotated.close()

    await app.delete_key(copy_id)
    assert copy_id not in {k.api_key.id for k in await app.list_keys(org_id)}
    with pytest.raises(GRPCError) as err:
        (await dial(creds, copy_id, copy_key)).close()
    assert err.value.status in (Status.UNAUTHENTICATED, Status.PERMISSION_DENIED)
    await expect_status(Status.NOT_FOUND, app.delete_key(copy_id), copy_id)


# ----------------------------------------------------------------- connection


async def test_wrong_key_is_refused_at_dial(creds):
    with pytest.raises(GRPCError) as err:
        (await dial(creds, creds["api_key_id"], "not-the-key")).close()
    assert err.value.status in (Status.UNAUTHENTICATED, Status.PERMISSION_DENIED)


async def test_timestamps_are_utc_datetimes(app, org_id):
    loc = await new_location(app, org_id)
    created = loc.created_on.ToDatetime(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60
