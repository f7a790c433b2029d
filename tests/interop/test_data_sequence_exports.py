"""The Python SDK's DataClient sequence dataset exports against `fleetsh serve`:
start_sequence_dataset_export on a sequence dataset, get_sequence_dataset_export
until COMPLETED, then the archive downloaded from its download_url over plain HTTP: a tar of
manifest.json and each selected frame's bytes. A binary-data dataset is refused, an unknown job
is NOT_FOUND."""

import asyncio
import io
import json
import tarfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from grpclib import Status
from viam.proto.app.data import SequenceResourceFilter
from viam.proto.app.dataset import DatasetType, SequenceDatasetExportStatus

from conftest import suffix
from test_app_client import expect_status
from test_data_client import new_part


def download(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("content-type"), r.read()


async def test_a_sequence_dataset_exports_to_a_tar_behind_its_download_url(viam, org_id, location_id):
    app, data = viam.app_client, viam.data_client
    part, _ = await new_part(app, location_id)
    cam = f"cam-{suffix()}"
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

    async def frame(payload: bytes, seconds: int) -> str:
        at = t0 + timedelta(seconds=seconds)
        return await data.binary_data_capture_upload(
            payload, part, "rdk:component:camera", cam, "GetImages", ".jpg",
            data_request_times=(at, at), mime_type="image/jpeg",
        )

    big = bytes(range(256)) * 2000
    f0, f1 = await frame(big, 0), await frame(b"frame-1", 10)
    await frame(b"late", 7200)
    seq = await data.create_sequence(part, [SequenceResourceFilter(resource_name=cam)], t0, t0 + timedelta(hours=1))
    name = f"clips-{suffix()}"
    clips = await data.create_dataset(name, org_id, DatasetType.DATASET_TYPE_SEQUENCE_DATA)
    await data.add_sequences_to_dataset(clips, [seq])

    job = await data.start_sequence_dataset_export(clips)
    assert isinstance(job, str) and job
    deadline = time.monotonic() + 20
    while True:
        e = await data.get_sequence_dataset_export(job)
        if e.status != SequenceDatasetExportStatus.SEQUENCE_DATASET_EXPORT_STATUS_RUNNING:
            break
        assert time.monotonic() < deadline, "the export is still running after 20 s"
        await asyncio.sleep(0.05)
    assert e.status == SequenceDatasetExportStatus.SEQUENCE_DATASET_EXPORT_STATUS_COMPLETED, e.error_message
    assert e.job_id == job and e.error_message == ""
    assert e.completed_at.ToDatetime() >= e.created_at.ToDatetime()
    wanted = datetime.now(timezone.utc) + timedelta(minutes=15)
    assert abs(e.expires_at.ToDatetime(tzinfo=timezone.utc) - wanted) < timedelta(seconds=30)

    status, content_type, body = await asyncio.to_thread(download, e.download_url)
    assert (status, content_type) == (200, "application/x-tar")
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert sorted(files) == sorted(["manifest.json", f"binary/{f0}", f"binary/{f1}"])
    assert files[f"binary/{f0}"] == big and files[f"binary/{f1}"] == b"frame-1"
    manifest = json.loads(files["manifest.json"])
    assert manifest["dataset"] == {"id": clips, "name": name, "organization_id": org_id}
    assert [s["id"] for s in manifest["sequences"]] == [seq]
    assert manifest["sequences"][0]["binary_data_ids"] == [f0, f1]
    sizes = {b["binary_data_id"]: b["size"] for b in manifest["binary_data"]}
    assert sizes == {f0: len(big), f1: len(b"frame-1")}

    frames = await data.create_dataset(f"frames-{suffix()}", org_id)
    await expect_status(Status.FAILED_PRECONDITION, data.start_sequence_dataset_export(frames), "SEQUENCE")
    unknown = "0190a0a0-0000-7000-8000-000000000000"
    await expect_status(Status.NOT_FOUND, data.get_sequence_dataset_export(unknown), unknown)
