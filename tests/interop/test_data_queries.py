"""The Python SDK's DataClient index and signed-URL methods against `fleetsh serve` (issue 12,
queries): create, list and delete custom indexes; a signed URL fetched over plain HTTP gives the
uploaded bytes. Saved queries have no DataClient method: the SDK's generated stub saves one, and
tabular_data_by_mql runs it by name (query_prefix_name)."""

import asyncio
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import bson
from grpclib import Status
from viam.proto.app.data import CreateSavedQueryRequest, IndexableCollection, IndexCreator

from conftest import suffix
from test_app_client import expect_status
from test_data_client import new_part

HOT = IndexableCollection.INDEXABLE_COLLECTION_HOT_STORE
SINK = IndexableCollection.INDEXABLE_COLLECTION_PIPELINE_SINK


async def test_indexes_are_created_listed_and_deleted(viam, org_id):
    data = viam.data_client
    name = f"by-sensor-{suffix()}"
    await data.create_index(org_id, HOT, {"key": {"component_name": 1, "time_received": -1}, "options": {"name": name}})
    field = f"data.readings.t{suffix()}"
    await data.create_index(org_id, HOT, {"key": {field: 1}})
    listed = {i.index_name: i for i in await data.list_indexes(org_id, HOT)}
    assert name in listed and f"{field}_1" in listed, list(listed)
    mine = listed[name]
    assert mine.created_by == IndexCreator.INDEX_CREATOR_CUSTOMER and mine.collection_type == HOT
    (spec,) = mine.index_spec
    assert bson.decode(spec) == {"key": {"component_name": 1, "time_received": -1}, "options": {"name": name}}
    await expect_status(
        Status.ALREADY_EXISTS,
        data.create_index(org_id, HOT, {"key": {"x": 1}, "options": {"name": name}}),
        name,
    )
    await expect_status(Status.INVALID_ARGUMENT, data.create_index(org_id, HOT, {"key": {"x": 5}}), "index_spec")

    pipeline = f"p-{suffix()}"
    await data.create_index(org_id, SINK, {"key": {"robot_id": 1}}, pipeline_name=pipeline)
    on_sink = await data.list_indexes(org_id, SINK, pipeline_name=pipeline)
    assert [i.index_name for i in on_sink] == ["robot_id_1"] and on_sink[0].pipeline_name == pipeline
    await expect_status(Status.INVALID_ARGUMENT, data.list_indexes(org_id, SINK), "pipeline_name")

    await data.delete_index(org_id, HOT, name)
    assert name not in {i.index_name for i in await data.list_indexes(org_id, HOT)}
    await expect_status(Status.NOT_FOUND, data.delete_index(org_id, HOT, name), name)
    await data.delete_index(org_id, SINK, "robot_id_1", pipeline_name=pipeline)
    assert await data.list_indexes(org_id, SINK, pipeline_name=pipeline) == []


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("content-type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read()


async def test_a_signed_url_serves_the_uploaded_bytes_until_altered(viam, location_id):
    app, data = viam.app_client, viam.data_client
    part, _ = await new_part(app, location_id)
    payload = bytes(range(256)) * 1000
    binary_id = await data.binary_data_capture_upload(
        payload, part, "rdk:component:camera", "cam", "GetImages", ".png", mime_type="image/png"
    )
    url, expires_at = await data.create_binary_data_signed_url(binary_id, expiration_minutes=30)
    wanted = datetime.now(timezone.utc) + timedelta(minutes=30)
    assert abs(expires_at.replace(tzinfo=timezone.utc) - wanted) < timedelta(seconds=30), expires_at
    status, content_type, body = await asyncio.to_thread(fetch, url)
    assert (status, content_type) == (200, "image/png") and body == payload
    altered = url[:-1] + ("b" if url[-1] == "a" else "a")
    assert (await asyncio.to_thread(fetch, altered))[0] == 403
    _, default_expiry = await data.create_binary_data_signed_url(binary_id)
    wanted = datetime.now(timezone.utc) + timedelta(minutes=15)
    assert abs(default_expiry.replace(tzinfo=timezone.utc) - wanted) < timedelta(seconds=30)
    await expect_status(
        Status.INVALID_ARGUMENT,
        data.create_binary_data_signed_url(binary_id, expiration_minutes=10081),
        "expiration_minutes",
    )


async def test_tabular_data_by_mql_runs_a_saved_query_by_name(viam, org_id, location_id):
    app, data = viam.app_client, viam.data_client
    part, _ = await new_part(app, location_id)
    sensor = f"temp-{suffix()}"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    times = [(now - timedelta(seconds=20), now - timedelta(seconds=19)), (now - timedelta(seconds=10), now - timedelta(seconds=9))]
    await data.tabular_data_capture_upload(
        [{"readings": {"temp": 1.5}}, {"readings": {"temp": 2.5}}], part, "rdk:component:sensor", sensor, "Readings", times
    )
    name = f"newest-{sensor}"
    stages = [{"$match": {"component_name": sensor}}, {"$sort": {"time_requested": -1}}]
    # No DataClient method saves a query: the SDK's generated stub does, over the same channel.
    saved = await data._data_client.CreateSavedQuery(
        CreateSavedQueryRequest(organization_id=org_id, name=name, mql_binary=[bson.encode(s) for s in stages]),
        metadata=data._metadata,
    )
    assert saved.id
    rows = await data.tabular_data_by_mql(org_id, [{"$limit": 1}], query_prefix_name=name)
    assert [r["data"]["readings"]["temp"] for r in rows] == [2.5]
    await expect_status(
        Status.NOT_FOUND, data.tabular_data_by_mql(org_id, [{"$limit": 1}], query_prefix_name=f"no-{name}"), "no-"
    )
