"""What the cloud API guide (../shared/reference/cloud-api-guide.txt, "the guide") and the
SDK's own docstrings promise of AppClient methods beyond their round trips in
test_app_client.py: defaults, the documented errors, and the parameters that change a result.
Each test makes its own resources with a random suffix."""

import asyncio
from datetime import datetime, timezone

from grpclib import Status
from viam.app.app_client import APIKeyAuthorization, Fragment
from viam.proto.app import AuthenticationType, AuthorizedPermissions, FragmentImport, Model, ModuleFileInfo, Visibility
from viam.proto.app.packages import PackageType

from conftest import dial, suffix
from test_app_client import expect_status, new_location, new_machine


# --------------------------------------------------------- the client's location


async def test_methods_defaulting_to_the_clients_location_refuse_none(app):
    """The guide: these raise "if one isn't passed and no location ID was provided at AppClient
    instantiation" (an API-key client has none)."""
    await expect_status(Status.INVALID_ARGUMENT, app.location_auth(), "location_id")
    await expect_status(Status.INVALID_ARGUMENT, app.create_location_secret(), "location_id")
    await expect_status(Status.INVALID_ARGUMENT, app.delete_location_secret("some-secret"), "location_id")
    await expect_status(Status.INVALID_ARGUMENT, app.new_robot(f"m-{suffix()}"), "location")
    await expect_status(Status.INVALID_ARGUMENT, app.list_robots(), "location_id")


async def test_update_robot_needs_the_location_it_is_to_be_in(creds, app, org_id, location_id):
    """The guide: update_robot raises when no location is passed and the client has none; the
    machine's own location renames it in place, which a key for just that machine may do."""
    robot_id = await app.new_robot(f"m-{suffix()}", location_id)
    await expect_status(Status.INVALID_ARGUMENT, app.update_robot(robot_id, f"n-{suffix()}"), "location")
    assert (await app.get_robot(robot_id)).location == location_id
    key, key_id = await app.create_key(org_id, [APIKeyAuthorization("owner", "robot", robot_id)], f"r-{suffix()}")
    machine_key = await dial(creds, key_id, key)
    try:
        name = f"renamed-{suffix()}"
        renamed = await machine_key.app_client.update_robot(robot_id, name, location_id)
        assert (renamed.name, renamed.location) == (name, location_id)
        elsewhere = await new_location(app, org_id)
        await expect_status(
            Status.PERMISSION_DENIED, machine_key.app_client.update_robot(robot_id, name, elsewhere.id), "write_location"
        )
    finally:
        machine_key.close()


async def test_update_location_with_an_empty_name_keeps_the_name(app, org_id):
    """The guide's example moves a location with name="" and says the name does not change."""
    child = await new_location(app, org_id)
    parent = await new_location(app, org_id)
    moved = await app.update_location(child.id, name="", parent_location_id=parent.id)
    assert (moved.name, moved.parent_location_id) == (child.name, parent.id)
    back = await app.update_location(child.id, name="", parent_location_id="")
    assert (back.name, back.parent_location_id) == (child.name, "")
    await expect_status(Status.NOT_FOUND, app.update_location("no-such-location", name="x"), "no-such-location")
    await expect_status(
        Status.INVALID_ARGUMENT, app.update_location(parent.id, parent_location_id=parent.id), "parent_location_id"
    )


async def test_list_robots_for_locations_errors(app):
    await expect_status(Status.INVALID_ARGUMENT, app.list_robots_for_locations([]), "location_ids")
    await expect_status(Status.NOT_FOUND, app.list_robots_for_locations(["no-such-location"]), "no-such-location")


# -------------------------------------------------------------------- fragments


async def test_list_fragments_show_public_and_visibilities(app, org_id):
    """The guide: show_public=True lists public fragments only, False private ones only; the
    SDK's `visibilities`, when given, say which to include instead."""
    tag = suffix()
    other = await app.create_organization(f"peer-{tag}")
    mine_private = await app.create_fragment(org_id, f"mine-private-{tag}")
    mine_public = await app.create_fragment(org_id, f"mine-public-{tag}")
    await app.update_fragment(mine_public.id, mine_public.name, public=True)
    theirs_public = await app.create_fragment(other.id, f"theirs-public-{tag}")
    await app.update_fragment(theirs_public.id, theirs_public.name, visibility=Fragment.Visibility.PUBLIC)
    theirs_private = await app.create_fragment(other.id, f"theirs-private-{tag}")

    def ours(fragments):
        return sorted(f.name.rsplit("-", 1)[0] for f in fragments if f.name.endswith(tag))

    assert ours(await app.list_fragments(org_id)) == ["mine-public", "theirs-public"]
    assert ours(await app.list_fragments(org_id, show_public=True)) == ["mine-public", "theirs-public"]
    assert ours(await app.list_fragments(org_id, show_public=False)) == ["mine-private"]
    assert ours(await app.list_fragments(org_id, show_public=False, visibilities=[Fragment.Visibility.PUBLIC])) == [
        "mine-public",
        "theirs-public",
    ]
    both = [Fragment.Visibility.PUBLIC, Fragment.Visibility.PRIVATE]
    assert ours(await app.list_fragments(org_id, visibilities=both)) == ["mine-private", "mine-public", "theirs-public"]
    assert theirs_private.id not in [f.id for f in await app.list_fragments(other.id, show_public=True)]


async def test_update_fragment_keeps_what_is_not_passed(app, org_id):
    """The guide: not passing config leaves it unchanged; `public` sets the visibility."""
    config = {"components": [{"name": "arm"}]}
    frag = await app.create_fragment(org_id, f"f-{suffix()}", config)
    renamed = await app.update_fragment(frag.id, f"{frag.name}-2")
    assert (renamed.name, renamed.fragment, renamed.public) == (f"{frag.name}-2", config, False)
    public = await app.update_fragment(frag.id, renamed.name, public=True)
    assert (public.public, public.visibility, public.fragment) == (True, Fragment.Visibility.PUBLIC, config)
    private = await app.update_fragment(frag.id, renamed.name, public=False)
    assert (private.public, private.visibility) == (False, Fragment.Visibility.PRIVATE)

    # last_known_update: a write against a stale read is refused and changes nothing.
    await expect_status(
        Status.FAILED_PRECONDITION,
        app.update_fragment(frag.id, renamed.name, {"stale": True}, last_known_update=frag.created_on),
        "last_known_update",
    )
    current = await app.get_fragment(frag.id)
    assert current.fragment == config
    fresh = await app.update_fragment(frag.id, renamed.name, {"fresh": True}, last_known_update=current.last_updated)
    assert fresh.fragment == {"fresh": True}
    await expect_status(Status.INVALID_ARGUMENT, app.update_fragment(frag.id, ""), "name")
    await expect_status(Status.NOT_FOUND, app.update_fragment("no-such-fragment", "x"), "no-such-fragment")
    await expect_status(Status.NOT_FOUND, app.delete_fragment("no-such-fragment"), "no-such-fragment")


async def test_get_fragment_history_page_limit_and_versions(creds, app, org_id):
    frag = await app.create_fragment(org_id, f"h-{suffix()}", {"v": 0})
    for v in (1, 2, 3):
        await app.update_fragment(frag.id, frag.name, {"v": v})
    history = await app.get_fragment_history(frag.id, page_limit=2)
    assert [h.old.fragment for h in history] == [{"v": 3}, {"v": 2}]
    assert history[0].edited_on >= history[1].edited_on
    # Who edited: the API key this client dialed with.
    assert {(h.edited_by.type, h.edited_by.value) for h in history} == {
        (AuthenticationType.AUTHENTICATION_TYPE_API_KEY, creds["api_key_id"])
    }
    assert (await app.get_fragment(frag.id, version="2")).fragment == {"v": 1}
    await expect_status(Status.NOT_FOUND, app.get_fragment(frag.id, version="99"), "99")
    await expect_status(Status.INVALID_ARGUMENT, app.get_fragment_history(frag.id, page_token="not-a-token"), "page_token")
    await expect_status(Status.NOT_FOUND, app.get_fragment_history("no-such-fragment"), "no-such-fragment")


async def test_update_organization_default_fragments(app, org_id):
    org = await app.create_organization(f"df-{suffix()}")
    frag = await app.create_fragment(org.id, f"d-{suffix()}", {"components": []})
    got = await app.update_organization(org.id, default_fragments=[FragmentImport(fragment_id=frag.id)])
    assert [f.fragment_id for f in got.default_fragments.fragments] == [frag.id]
    assert [f.fragment_id for f in (await app.get_organization(org.id)).default_fragments.fragments] == [frag.id]
    await expect_status(
        Status.NOT_FOUND,
        app.update_organization(org.id, default_fragments=[FragmentImport(fragment_id="no-such-fragment")]),
        "no-such-fragment",
    )


# --------------------------------------------------------------------- the parts


async def test_get_robot_part_history_start_and_end(app, location_id):
    _, part_id = await new_machine(app, location_id)
    await app.update_robot_part(part_id, "p", robot_config={"v": 1})
    await asyncio.sleep(0.05)
    between = datetime.now(timezone.utc)
    await asyncio.sleep(0.05)
    await app.update_robot_part(part_id, "p", robot_config={"v": 2})
    await app.update_robot_part(part_id, "p", robot_config={"v": 3})
    everything = [h.old.robot_config for h in await app.get_robot_part_history(part_id)]
    assert everything == [{"v": 2}, {"v": 1}, {}]
    # An entry's time is when its config was replaced: {"v": 1} and {"v": 2} after `between`.
    since = [h.old.robot_config for h in await app.get_robot_part_history(part_id, start=between)]
    assert since == [{"v": 2}, {"v": 1}]
    until = [h.old.robot_config for h in await app.get_robot_part_history(part_id, end=between)]
    assert until == [{}]
    await expect_status(Status.NOT_FOUND, app.get_robot_part_history("no-such-part"), "no-such-part")


# ------------------------------------------------------------ permissions, roles


async def test_check_permissions_omits_what_the_caller_cannot_see(app, location_id):
    """Issue 11: unknown resources are left out of the answer, not NOT_FOUND (which would say
    whether an id exists); unknown permission names are the caller's mistake."""
    robot_id = await app.new_robot(f"m-{suffix()}", location_id)
    known = AuthorizedPermissions(resource_type="robot", resource_id=robot_id, permissions=["read_robot"])
    unknown = AuthorizedPermissions(resource_type="robot", resource_id="no-such-robot", permissions=["read_robot"])
    answer = await app.check_permissions([known, unknown])
    assert [(p.resource_id, list(p.permissions)) for p in answer] == [(robot_id, ["read_robot"])]
    await expect_status(
        Status.INVALID_ARGUMENT,
        app.check_permissions([AuthorizedPermissions(resource_type="robot", resource_id=robot_id, permissions=["fly"])]),
        "fly",
    )


async def test_list_authorizations_of_an_unknown_resource_is_not_found(app, org_id):
    """The guide: "raised if an invalid resource ID is passed"."""
    await expect_status(Status.NOT_FOUND, app.list_authorizations(org_id, ["no-such-resource"]), "no-such-resource")


async def test_role_errors_name_what_is_wrong(app, org_id, location_id):
    """The guide: an invalid identity, role, resource type or resource id is an error."""
    _, key_id = await app.create_key(org_id, [APIKeyAuthorization("operator", "location", location_id)], f"r-{suffix()}")
    await expect_status(Status.INVALID_ARGUMENT, app.add_role(org_id, key_id, "king", "location", location_id), "king")
    await expect_status(Status.NOT_FOUND, app.add_role(org_id, "no-such-identity", "owner", "location", location_id), "no-such-identity")
    # A location id named as a machine: the type must match the id's resource.
    await expect_status(Status.NOT_FOUND, app.add_role(org_id, key_id, "owner", "robot", location_id), location_id)
    await expect_status(Status.NOT_FOUND, app.remove_role(org_id, key_id, "owner", "location", location_id), "not found")
    await expect_status(
        Status.NOT_FOUND,
        app.change_role(org_id, key_id, "owner", "location", location_id, key_id, "operator", "location", location_id),
        "not found",
    )


# --------------------------------------------------------------------- the keys


async def test_rotate_key_retires_the_old_key(creds, app, org_id):
    key, key_id = await app.create_key(org_id, [APIKeyAuthorization("owner", "organization", org_id)], f"rot-{suffix()}")
    _, new_id = await app.rotate_key(key_id)
    ids = {k.api_key.id for k in await app.list_keys(org_id)}
    assert new_id in ids and key_id not in ids
    await expect_status(Status.UNAUTHENTICATED, dial(creds, key_id, key))
    await expect_status(Status.NOT_FOUND, app.rotate_key(key_id), key_id)
    await expect_status(Status.NOT_FOUND, app.create_key_from_existing_key_authorizations(key_id), key_id)
    await expect_status(
        Status.NOT_FOUND, app.create_key(org_id, [APIKeyAuthorization("owner", "location", "no-such-location")]), "no-such-location"
    )


# ------------------------------------------------------------------ the modules


async def test_module_urls_and_update_errors(app, org_id):
    """The guide: update_module's url is the documentation's (an http(s) URL, issue 11), and it
    returns the module's own URL, the one create_module gave."""
    ns = (await app.get_organization(org_id)).public_namespace
    name = f"u-{suffix()}"
    module_id, url = await app.create_module(org_id, name)
    assert module_id == f"{ns}:{name}" and url.endswith(f"/{ns}/{name}")
    assert await app.update_module(module_id, "https://example.com/docs", "d", None, "run") == url
    for bad in ("ftp://example.com", "not a url"):
        await expect_status(Status.INVALID_ARGUMENT, app.update_module(module_id, bad, "d", None, "run"), "url")
    assert (await app.get_module(module_id)).url == "https://example.com/docs"
    # The guide: a module id is its name, or namespace:name.
    assert (await app.get_module(name)).module_id == module_id
    assert await app.update_module(name, "https://example.com/v2", "d", None, "run", public=True) == url
    assert (await app.get_module(module_id)).url == "https://example.com/v2"
    # The guide: an invalid list of models is an error; a model or API is a name triplet.
    good = Model(api="rdk:component:base", model=f"acme:{name}:wheeled")
    await app.update_module(module_id, "https://example.com/v2", "d", [good], "run")
    for bad, field in (
        (Model(api="rdk:component:base", model="wheeled"), "models[0].model"),
        (Model(api="base", model=f"acme:{name}:wheeled"), "models[0].api"),
        (Model(api="rdk:component:base", model="acme::wheeled"), "models[0].model"),
        (Model(api="rdk:component:base", model="acme:my base:wheeled"), "models[0].model"),
    ):
        await expect_status(Status.INVALID_ARGUMENT, app.update_module(module_id, "https://example.com", "d", [bad], "run"), field)
    assert [(m.api, m.model) for m in (await app.get_module(module_id)).models] == [(good.api, good.model)]
    await expect_status(Status.INVALID_ARGUMENT, app.create_module(org_id, ""), "name")
    info = ModuleFileInfo(module_id=module_id, version="v1", platform="linux/amd64")
    await expect_status(Status.INVALID_ARGUMENT, app.upload_module_file(info, b"x"), "version")
    await expect_status(Status.NOT_FOUND, app.update_module("no-such-module", "https://example.com", "d", None, "run"), "no-such-module")


async def test_registry_item_markdown_only_when_asked(app, org_id):
    name = f"md-{suffix()}"
    module_id, _ = await app.create_module(org_id, name)
    models = [Model(api="rdk:component:base", model=f"acme:{name}:b", markdown_documentation="# Base\nDrives.")]
    await app.update_module(module_id, "https://example.com", "d", models, "run")
    plain = await app.get_registry_item(module_id)
    assert [m.HasField("markdown_documentation") for m in plain.module_metadata.models] == [False]
    with_docs = await app.get_registry_item(module_id, include_markdown_documentation=True)
    assert [m.markdown_documentation for m in with_docs.module_metadata.models] == ["# Base\nDrives."]
    await expect_status(Status.INVALID_ARGUMENT, app.list_registry_items(org_id, [], [], [], [], page_token="t"), "page_token")


# ------------------------------------------------------------------- favorites


async def test_a_deleted_machine_leaves_the_favorites(app, location_id):
    robot_id = await app.new_robot(f"fav-{suffix()}", location_id)
    await app.add_favorite_machine(robot_id)
    assert robot_id in [f.machine.id for f in await app.list_favorite_machines()]
    await app.delete_robot(robot_id)
    assert robot_id not in [f.machine.id for f in await app.list_favorite_machines()]
    await expect_status(Status.NOT_FOUND, app.add_favorite_machine(robot_id), robot_id)


# ------------------------------------------------------------- unknown ids


async def test_unknown_ids_are_not_found_by_name(app, org_id, location_id):
    """The guide's "raised if an invalid ... ID is passed", for the methods that take one: the
    answer is NOT_FOUND and names the id."""
    calls = {
        "get_robot": lambda x: app.get_robot(x),
        "update_robot": lambda x: app.update_robot(x, "n", location_id),
        "delete_robot": lambda x: app.delete_robot(x),
        "get_robot_part": lambda x: app.get_robot_part(x),
        "update_robot_part": lambda x: app.update_robot_part(x, "n"),
        "mark_part_as_main": lambda x: app.mark_part_as_main(x),
        "delete_robot_part": lambda x: app.delete_robot_part(x),
        "create_robot_part_secret": lambda x: app.create_robot_part_secret(x),
        "set_config_property": lambda x: app.set_config_property(x, {"a": 1}),
        "get_robot_api_keys": lambda x: app.get_robot_api_keys(x),
        "get_location": lambda x: app.get_location(x),
        "location_auth": lambda x: app.location_auth(x),
        "create_location_secret": lambda x: app.create_location_secret(x),
        "list_robots": lambda x: app.list_robots(x),
        "get_organizations_with_access_to_location": lambda x: app.get_organizations_with_access_to_location(x),
        "share_location": lambda x: app.share_location(org_id, x),
        "get_organization": lambda x: app.get_organization(x),
        "list_locations": lambda x: app.list_locations(x),
        "list_keys": lambda x: app.list_keys(x),
        "list_modules": lambda x: app.list_modules(x),
        "list_fragments": lambda x: app.list_fragments(x),
        "list_organization_members": lambda x: app.list_organization_members(x),
        "get_rover_rental_robots": lambda x: app.get_rover_rental_robots(x),
        "get_firebase_config": lambda x: app.get_firebase_config(x),
        "get_organization_metadata": lambda x: app.get_organization_metadata(x),
        "update_organization_metadata": lambda x: app.update_organization_metadata(x, {"a": 1}),
        "get_location_metadata": lambda x: app.get_location_metadata(x),
        "update_location_metadata": lambda x: app.update_location_metadata(x, {"a": 1}),
        "get_robot_metadata": lambda x: app.get_robot_metadata(x),
        "update_robot_metadata": lambda x: app.update_robot_metadata(x, {"a": 1}),
        "get_robot_part_metadata": lambda x: app.get_robot_part_metadata(x),
        "update_robot_part_metadata": lambda x: app.update_robot_part_metadata(x, {"a": 1}),
        "get_fragment": lambda x: app.get_fragment(x),
        "get_registry_item": lambda x: app.get_registry_item(x),
        "update_registry_item": lambda x: app.update_registry_item(x, PackageType.PACKAGE_TYPE_MODULE, "d", Visibility.VISIBILITY_PRIVATE),
        "deprecate_registry_item": lambda x: app.deprecate_registry_item(x, "m"),
        "undeprecate_registry_item": lambda x: app.undeprecate_registry_item(x),
        "delete_registry_item": lambda x: app.delete_registry_item(x),
        "delete_key": lambda x: app.delete_key(x),
    }
    wrong = {}
    for name, call in calls.items():
        unknown = f"no-such-{name.replace('_', '-')}"
        try:
            await call(unknown)
            wrong[name] = "succeeded"
        except Exception as e:  # noqa: BLE001 - each failure is judged below
            status, message = getattr(e, "status", None), getattr(e, "message", str(e)) or ""
            if status != Status.NOT_FOUND or unknown not in message:
                wrong[name] = f"{status}: {message}"
    assert not wrong, f"not NOT_FOUND naming the unknown id: {wrong}"
