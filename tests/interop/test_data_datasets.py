"""The Python SDK's DataClient dataset methods against `fleetsh serve` (issue 12): create, list,
rename, merge and delete datasets; put binary data in by id and at upload, find it with a
dataset filter, take it out; names unique per organization."""

from grpclib import Status
from viam.proto.app.dataset import DatasetType
from viam.utils import create_filter

from conftest import suffix
from test_app_client import expect_status
from test_data_client import new_part


async def members(data, dataset_id: str) -> set[str]:
    found, count, _ = await data.binary_data_by_filter(
        create_filter(dataset_id=dataset_id), include_binary_data=False
    )
    assert count == len(found)
    return {d.metadata.binary_data_id for d in found}


async def test_datasets_hold_binary_data_until_removed_renamed_merged_deleted(viam, org_id, location_id):
    app, data = viam.app_client, viam.data_client
    part, _ = await new_part(app, location_id)
    name = f"cats-{suffix()}"
    cats = await data.create_dataset(name, org_id)
    await expect_status(Status.ALREADY_EXISTS, data.create_dataset(name, org_id), name)

    async def image(dataset_ids=None):
        return await data.binary_data_capture_upload(
            b"jpeg", part, "rdk:component:camera", "cam", "GetImages", ".jpg",
            mime_type="image/jpeg", dataset_ids=dataset_ids,
        )

    a, b = await image(), await image()
    c = await image([cats])
    assert await members(data, cats) == {c}
    await data.add_binary_data_to_dataset_by_ids([a, b], cats)
    assert await members(data, cats) == {a, b, c}
    (meta,) = await data.binary_data_by_ids([a])
    assert list(meta.metadata.dataset_ids) == [cats]

    await data.remove_binary_data_from_dataset_by_ids([b], cats)
    assert await members(data, cats) == {a, c}

    dogs = await data.create_dataset(f"dogs-{suffix()}", org_id, DatasetType.DATASET_TYPE_BINARY_DATA)
    await data.add_binary_data_to_dataset_by_ids([b], dogs)
    pets = await data.merge_datasets(f"pets-{suffix()}", org_id, [cats, dogs])
    assert await members(data, pets) == {a, b, c}

    new_name = f"felines-{suffix()}"
    await data.rename_dataset(cats, new_name)
    listed = await data.list_dataset_by_ids([cats, dogs])
    assert [d.name for d in listed][0] == new_name and listed[1].id == dogs
    assert all(d.organization_id == org_id for d in listed)
    in_org = {d.id: d.name for d in await data.list_datasets_by_organization_id(org_id)}
    assert in_org[cats] == new_name and pets in in_org
    sequences = await data.list_datasets_by_organization_id(org_id, DatasetType.DATASET_TYPE_SEQUENCE_DATA)
    assert cats not in {d.id for d in sequences}

    await data.delete_dataset(cats)
    await expect_status(Status.NOT_FOUND, data.list_dataset_by_ids([cats]), cats)
    await expect_status(Status.NOT_FOUND, members(data, cats), cats)
    # The data stays, and the merged dataset still holds it.
    assert len(await data.binary_data_by_ids([a, c])) == 2
    assert await members(data, pets) == {a, b, c}
