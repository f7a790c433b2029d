"""The Python SDK's DataClient sequence methods against `fleetsh serve` (issue 12): create, get,
update, list and delete sequences; page through the binary data a sequence selects (the stored
bytes); put sequences into a sequence dataset, list and count them there, take them out."""

from datetime import datetime, timedelta, timezone

from grpclib import Status
from viam.proto.app.data import SequenceResourceFilter
from viam.proto.app.dataset import DatasetType

from conftest import suffix
from test_app_client import expect_status
from test_data_client import new_part


async def test_sequences_select_binary_data_and_go_into_sequence_datasets(viam, org_id, location_id):
    app, data = viam.app_client, viam.data_client
    part, _ = await new_part(app, location_id)
    cam = f"cam-{suffix()}"
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

    async def frame(payload: bytes, seconds: int, method: str = "GetImages") -> str:
        at = t0 + timedelta(seconds=seconds)
        return await data.binary_data_capture_upload(
            payload, part, "rdk:component:camera", cam, method, ".jpg",
            data_request_times=(at, at), mime_type="image/jpeg",
        )

    f0, f1 = await frame(b"frame-0", 0), await frame(b"frame-1", 10)
    cloud = await frame(b"cloud", 20, "NextPointCloud")
    await frame(b"late", 7200)

    seq = await data.create_sequence(
        part, [SequenceResourceFilter(resource_name=cam, method_name="GetImages")],
        t0, t0 + timedelta(hours=1), sequence_tags=["run-b", "run-a"],
    )
    got = await data.get_sequence(seq)
    assert got.id == seq and got.part_id == part
    assert list(got.sequence_tags) == ["run-a", "run-b"]
    assert got.start_time.ToDatetime(tzinfo=timezone.utc) == t0
    assert [(r.resource_name, r.method_name) for r in got.resources] == [(cam, "GetImages")]

    page, token = await data.get_sequence_binary_data(seq, page_size=1)
    assert [d.binary for d in page] == [b"frame-0"] and page[0].metadata.binary_data_id == f0
    assert token
    page, token = await data.get_sequence_binary_data(seq, page_token=token, page_size=1)
    assert [d.metadata.binary_data_id for d in page] == [f1] and token == ""

    # Only the given fields change: every method of the camera, tags cleared.
    await data.update_sequence(seq, resources=[SequenceResourceFilter(resource_name=cam)], sequence_tags=[])
    got = await data.get_sequence(seq)
    assert list(got.sequence_tags) == [] and got.end_time.ToDatetime(tzinfo=timezone.utc) == t0 + timedelta(hours=1)
    page, _ = await data.get_sequence_binary_data(seq)
    assert [d.metadata.binary_data_id for d in page] == [f0, f1, cloud]
    await expect_status(
        Status.INVALID_ARGUMENT, data.update_sequence(seq, start_time=t0 + timedelta(days=1)), "end_time"
    )

    second = await data.create_sequence(part, [SequenceResourceFilter(resource_name=cam)], t0, t0 + timedelta(days=1))
    listed, token = await data.list_sequences(org_id, page_size=100)
    ids = [s.id for s in listed]
    assert seq in ids and second in ids and ids.index(seq) < ids.index(second)

    clips = await data.create_dataset(f"clips-{suffix()}", org_id, DatasetType.DATASET_TYPE_SEQUENCE_DATA)
    await data.add_sequences_to_dataset(clips, [seq, second])
    found, token, count = await data.sequences_by_dataset_id(clips)
    assert [s.id for s in found] == [seq, second] and count == 2 and token == ""
    _, _, only = await data.sequences_by_dataset_id(clips, count_only=True)
    assert only == 2
    assert list((await data.get_sequence(seq)).dataset_ids) == [clips]
    await data.remove_sequences_from_dataset(clips, [seq])
    found, _, count = await data.sequences_by_dataset_id(clips, page_size=10)
    assert [s.id for s in found] == [second] and count == 1

    await data.delete_sequence(seq)
    await expect_status(Status.NOT_FOUND, data.get_sequence(seq), seq)
    # The binary data stays.
    assert len(await data.binary_data_by_ids([f0, f1])) == 2
