"""The Python SDK's DataClient against `fleetsh serve` (issue 12): upload readings and binary
data, query them by filter, SQL and MQL, get the latest, export, tag, box, delete by age and
by id, and see them gone."""

from datetime import datetime, timedelta, timezone

from grpclib import Status
from viam.proto.app.data import Filter, Order
from viam.utils import create_filter

from conftest import suffix
from test_app_client import expect_status


async def new_part(app, location_id: str) -> tuple[str, str]:
    name = f"d-{suffix()}"
    robot_id = await app.new_robot(name, location_id)
    parts = await app.get_robot_parts(robot_id)
    return parts[0].id, name


async def test_readings_upload_query_export_and_delete_by_age(viam, org_id, location_id):
    app, data = viam.app_client, viam.data_client
    part, robot_name = await new_part(app, location_id)
    sensor = f"temp-{suffix()}"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    old = now - timedelta(days=30)
    times = [(old, old), (now - timedelta(seconds=20), now - timedelta(seconds=19)), (now - timedelta(seconds=10), now - timedelta(seconds=9))]
    file_id = await data.tabular_data_capture_upload(
        [{"readings": {"temp": 5.0}}, {"readings": {"temp": 21.5}}, {"readings": {"temp": 23.0}}],
        part, "rdk:component:sensor", sensor, "Readings", times, tags=["lab"],
    )
    assert file_id

    rows, count, last = await data.tabular_data_by_filter(create_filter(component_name=sensor), limit=2, sort_order=Order.ORDER_ASCENDING)
    assert count == 3 and [r.data["readings"]["temp"] for r in rows] == [5.0, 21.5]
    assert rows[0].metadata.robot_name == robot_name and list(rows[0].metadata.tags) == ["lab"]
    rest, _, _ = await data.tabular_data_by_filter(create_filter(component_name=sensor), last=last)
    assert [r.data["readings"]["temp"] for r in rest] == [23.0]

    latest = await data.get_latest_tabular_data(part, sensor, "rdk:component:sensor", "Readings")
    assert latest is not None
    captured, _synced, payload = latest
    assert payload["readings"]["temp"] == 23.0 and captured.replace(tzinfo=timezone.utc) == times[2][0]
    assert await data.get_latest_tabular_data(part, "nothing", "rdk:component:sensor", "Readings") is None

    exported = await data.export_tabular_data(part, sensor, "rdk:component:sensor", "Readings", start_time=now - timedelta(hours=1))
    assert [p.payload["readings"]["temp"] for p in exported] == [21.5, 23.0]
    assert exported[0].robot_name == robot_name and exported[0].part_id == part

    rows = await data.tabular_data_by_sql(
        org_id,
        f"SELECT data ->> '$.readings.temp' AS t, time_requested, tags FROM readings "
        f"WHERE component_name = '{sensor}' ORDER BY t DESC",
    )
    assert [r["t"] for r in rows] == [23.0, 21.5, 5.0]
    assert isinstance(rows[0]["time_requested"], datetime) and rows[0]["tags"] == ["lab"]
    await expect_status(Status.INVALID_ARGUMENT, data.tabular_data_by_sql(org_id, "DELETE FROM readings"), "sql_query")

    groups = await data.tabular_data_by_mql(org_id, [
        {"$match": {"component_name": sensor, "data.readings.temp": {"$gt": 10}}},
        {"$group": {"_id": "$component_name", "n": {"$sum": 1}, "avg": {"$avg": "$data.readings.temp"}}},
    ])
    assert groups == [{"_id": sensor, "n": 2, "avg": 22.25}]
    await expect_status(Status.INVALID_ARGUMENT, data.tabular_data_by_mql(org_id, [{"$lookup": {"from": "x"}}]), "$lookup")

    # Older than a week: the 30-day-old reading, and it is gone.
    assert await data.delete_tabular_data(org_id, 7) >= 1
    rows = await data.tabular_data_by_sql(org_id, f"SELECT COUNT(*) AS n FROM readings WHERE component_name = '{sensor}'")
    assert rows == [{"n": 2}]


async def test_binary_data_upload_by_ids_filter_tags_boxes_and_delete(viam, location_id, tmp_path):
    app, data = viam.app_client, viam.data_client
    part, _ = await new_part(app, location_id)
    cam = f"cam-{suffix()}"
    jpg = await data.binary_data_capture_upload(b"jpeg bytes", part, "rdk:component:camera", cam, "GetImages", "jpg", mime_type="image/jpeg")
    big = bytes(range(256)) * 8192  # 2 MiB
    path = tmp_path / "blob.bin"
    path.write_bytes(big)
    from_path = await data.file_upload_from_path(str(path), part, component_name=cam)
    small = await data.file_upload(part, b"hello", component_name=cam, file_name="greeting", file_extension=".txt")
    streamed = await data.streaming_data_capture_upload(b"s" * 100_000, part, "bin", component_name=cam)

    got = await data.binary_data_by_ids([from_path, small])
    assert got[0].binary == big and got[1].binary == b"hello"
    assert got[0].metadata.file_name == "blob" and got[0].metadata.file_ext == ".bin"
    assert (await data.binary_data_by_ids([jpg], include_binary_data=False))[0].binary == b""
    await expect_status(Status.NOT_FOUND, data.binary_data_by_ids(["../fleet.db"]), "../fleet.db")

    page, count, last = await data.binary_data_by_filter(create_filter(component_name=cam), limit=2, sort_order=Order.ORDER_ASCENDING)
    assert count == 4 and len(page) == 2
    page2, _, _ = await data.binary_data_by_filter(create_filter(component_name=cam), limit=2, last=last, sort_order=Order.ORDER_ASCENDING)
    ids = [b.metadata.binary_data_id for b in page + page2]
    assert sorted(ids) == sorted([jpg, from_path, small, streamed])
    jpegs, n, _ = await data.binary_data_by_filter(Filter(component_name=cam, mime_type=["image/jpeg"]))
    assert n == 1 and jpegs[0].binary == b"jpeg bytes"

    await data.add_tags_to_binary_data_by_ids(["cat", "dog"], [jpg])
    assert await data.remove_tags_from_binary_data_by_ids(["dog"], [jpg]) == 1
    assert "cat" in await data.tags_by_filter(create_filter(component_name=cam))
    box = await data.add_bounding_box_to_image_by_id(jpg, "cat", 0.1, 0.1, 0.5, 0.5)
    await data.update_bounding_box(jpg, box, "lion", 0.1, 0.1, 0.6, 0.6)
    assert await data.bounding_box_labels_by_filter(create_filter(component_name=cam)) == ["lion"]
    await data.remove_bounding_box_from_image_by_id(box, jpg)
    assert await data.bounding_box_labels_by_filter(create_filter(component_name=cam)) == []

    assert await data.delete_binary_data_by_ids([from_path]) == 1
    assert await data.delete_binary_data_by_filter(create_filter(component_name=cam)) == 3
    _, n, _ = await data.binary_data_by_filter(create_filter(component_name=cam))
    assert n == 0


async def test_database_connection_points_at_nothing_and_records_its_user(viam, org_id):
    data = viam.data_client
    assert await data.get_database_connection(org_id) == ""
    await expect_status(Status.INVALID_ARGUMENT, data.configure_database_user(org_id, "short"), "password")
    await data.configure_database_user(org_id, "long enough")
