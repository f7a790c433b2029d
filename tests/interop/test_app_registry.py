"""Registry items through the Python SDK's AppClient against `fleetsh serve`: a module is the
item of type module, ML models are items of their own; every registry method of the SDK."""

from grpclib import Status
from viam.proto.app import ModuleFileInfo, RegistryItemStatus, Visibility
from viam.proto.app.packages import PackageType

from conftest import suffix
from test_app_client import expect_status


async def item_prefix(app, org_id) -> str:
    org = await app.get_organization(org_id)
    return org.public_namespace or org.id


async def test_registry_items_lifecycle(app, org_id):
    ns, tag = await item_prefix(app, org_id), suffix()
    await app.create_registry_item(org_id, f"mod-{tag}", PackageType.PACKAGE_TYPE_MODULE)
    await app.create_registry_item(org_id, f"ml-{tag}", PackageType.PACKAGE_TYPE_ML_MODEL)
    mod_id, ml_id = f"{ns}:mod-{tag}", f"{ns}:ml-{tag}"

    # The module item is the module the fleet holds.
    assert (await app.get_module(mod_id)).name == f"mod-{tag}"
    item = await app.get_registry_item(mod_id)
    assert (item.item_id, item.type, item.visibility, item.organization_id) == (
        mod_id,
        PackageType.PACKAGE_TYPE_MODULE,
        Visibility.VISIBILITY_PRIVATE,
        org_id,
    )
    await expect_status(
        Status.ALREADY_EXISTS, app.create_registry_item(org_id, f"ml-{tag}", PackageType.PACKAGE_TYPE_MODULE), f"ml-{tag}"
    )

    await app.update_registry_item(ml_id, PackageType.PACKAGE_TYPE_ML_MODEL, "finds cats", Visibility.VISIBILITY_PUBLIC)
    item = await app.get_registry_item(ml_id)
    assert (item.description, item.visibility) == ("finds cats", Visibility.VISIBILITY_PUBLIC)
    assert item.WhichOneof("metadata") == "ml_model_metadata"
    await expect_status(
        Status.INVALID_ARGUMENT,
        app.update_registry_item(ml_id, PackageType.PACKAGE_TYPE_MODULE, "x", Visibility.VISIBILITY_PRIVATE),
        "type",
    )

    # Filters: types, statuses (published = a version uploaded), platforms, search term.
    await app.upload_module_file(ModuleFileInfo(module_id=mod_id, version="1.0.0", platform="linux/arm64"), b"\x7fELF")
    listed = lambda items: sorted(i.name for i in items if tag in i.name)  # noqa: E731
    everything = await app.list_registry_items(org_id, [], [], [""], [])
    assert listed(everything) == [f"ml-{tag}", f"mod-{tag}"]
    models = await app.list_registry_items(org_id, [PackageType.PACKAGE_TYPE_ML_MODEL], [], [], [])
    assert listed(models) == [f"ml-{tag}"]
    published = await app.list_registry_items(
        org_id, [], [], ["linux/any"], [RegistryItemStatus.REGISTRY_ITEM_STATUS_PUBLISHED]
    )
    assert listed(published) == [f"mod-{tag}"]
    searched = await app.list_registry_items(org_id, [], [Visibility.VISIBILITY_PUBLIC], [], [], search_term="CATS")
    assert listed(searched) == [f"ml-{tag}"]

    # Deprecations, of an uploaded version and of the item.
    await app.deprecate_registry_item_version(mod_id, "1.0.0", "crashes")
    item = await app.get_registry_item(mod_id)
    assert [(v.version, v.deprecated_status.message) for v in item.module_metadata.versions] == [("1.0.0", "crashes")]
    await app.undeprecate_registry_item_version(mod_id, "1.0.0")
    item = await app.get_registry_item(mod_id)
    assert not item.module_metadata.versions[0].HasField("deprecated_status")
    await expect_status(Status.NOT_FOUND, app.deprecate_registry_item_version(mod_id, "9.9.9", "m"), "9.9.9")

    await app.deprecate_registry_item(ml_id, "use another")
    assert (await app.get_registry_item(ml_id)).deprecated_status.message == "use another"
    assert listed(await app.list_registry_items(org_id, [], [], [], [])) == [f"mod-{tag}"]
    await app.undeprecate_registry_item(ml_id)
    assert not (await app.get_registry_item(ml_id)).HasField("deprecated_status")

    await app.delete_registry_item(ml_id)
    await app.delete_registry_item(mod_id)
    await expect_status(Status.NOT_FOUND, app.get_registry_item(ml_id), ml_id)
    await expect_status(Status.NOT_FOUND, app.get_module(mod_id), mod_id)


async def test_module_usage_counts_the_machines_that_run_it(app, org_id, location_id):
    """A module's usage counts the machines whose config runs it from the registry, and how
    many of those are outside the module's organization."""
    module_id, _ = await app.create_module(org_id, f"used-{suffix()}")
    assert (await app.get_module(module_id)).total_robot_usage == 0
    runs_it = {"modules": [{"type": "registry", "name": "m", "module_id": module_id, "version": "latest"}]}
    for location in (location_id, location_id):
        robot = await app.new_robot(f"u-{suffix()}", location)
        part = (await app.get_robot_parts(robot))[0]
        await app.update_robot_part(part.id, part.name, runs_it)
    # Named only as a local executable: not a use of the registry module.
    robot = await app.new_robot(f"l-{suffix()}", location_id)
    part = (await app.get_robot_parts(robot))[0]
    await app.update_robot_part(part.id, part.name, {"modules": [{"type": "local", "name": "m", "executable_path": f"/opt/{module_id}"}]})
    other = await app.create_organization(f"peer-{suffix()}")
    there = await app.create_location(other.id, f"loc-{suffix()}")
    robot = await app.new_robot(f"x-{suffix()}", there.id)
    part = (await app.get_robot_parts(robot))[0]
    await app.update_robot_part(part.id, part.name, runs_it)

    module = await app.get_module(module_id)
    assert (module.total_robot_usage, module.total_organization_usage) == (3, 2)
    assert module_id in {m.module_id: m for m in await app.list_modules(org_id) if m.total_robot_usage == 3}
    item = await app.get_registry_item(module_id)
    assert (item.total_robot_usage, item.total_organization_usage) == (3, 2)
    assert (item.total_external_robot_usage, item.total_external_organization_usage) == (1, 1)
