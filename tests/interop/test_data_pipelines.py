"""The Python SDK's DataClient data pipeline methods against `fleetsh serve` (issue 12,
pipelines): create a backfilling pipeline over readings of a past year, see its runs (paged) and
query its results from the sink; get, list, rename, a bad MQL refused, delete.

The schedule is yearly so that backfill covers whatever older readings other tests of the
session left in the organization in a few windows."""

from datetime import datetime, timezone

from grpclib import Status
from viam.proto.app.data import TabularDataSourceType
from viam.proto.app.datapipelines import DataPipelineRunStatus

from conftest import suffix
from test_app_client import expect_status
from test_data_client import new_part


async def test_a_pipeline_computes_its_mql_per_window_into_the_sink(viam, org_id, location_id):
    app, data = viam.app_client, viam.data_client
    part, _ = await new_part(app, location_id)
    sensor = f"pipe-{suffix()}"
    when = datetime(2025, 6, 1, tzinfo=timezone.utc)
    await data.tabular_data_capture_upload(
        [{"readings": {"temp": 10.0}}, {"readings": {"temp": 30.0}}],
        part, "rdk:component:sensor", sensor, "Readings", [(when, when), (when, when)],
    )
    mql = [
        {"$match": {"component_name": sensor}},
        {"$group": {"_id": "$component_name", "n": {"$sum": 1}, "avg": {"$avg": "$data.readings.temp"}}},
    ]
    name = f"yearly-{suffix()}"
    pid = await data.create_data_pipeline(org_id, name, mql, "0 0 1 1 *", True)
    p = await data.get_data_pipeline(pid)
    assert (p.name, p.schedule, p.enabled, p.organization_id) == (name, "0 0 1 1 *", True, org_id)
    assert p.mql_binary == mql
    assert p.data_source_type == TabularDataSourceType.TABULAR_DATA_SOURCE_TYPE_STANDARD
    assert pid in {x.id for x in await data.list_data_pipelines(org_id)}

    page = await data.list_data_pipeline_runs(pid, page_size=1)
    assert page.pipeline_id == pid and len(page.runs) == 1
    runs = list(page.runs)
    while page.next_page_token:
        page = await page.next_page()
        runs += page.runs
    assert all(r.status == DataPipelineRunStatus.DATA_PIPELINE_RUN_STATUS_COMPLETED for r in runs), runs
    year = [r for r in runs if r.data_start_time == datetime(2025, 1, 1)]
    assert len(year) == 1 and year[0].data_end_time == datetime(2026, 1, 1), runs

    rows = await data.tabular_data_by_mql(
        org_id, [{"$match": {"_id": sensor}}],
        tabular_data_source_type=TabularDataSourceType.TABULAR_DATA_SOURCE_TYPE_PIPELINE_SINK,
        pipeline_id=pid,
    )
    assert len(rows) == 1 and rows[0]["n"] == 2 and rows[0]["avg"] == 20.0, rows
    assert rows[0]["_viam_pipeline_run"]["id"] == year[0].id

    await data.rename_data_pipeline(pid, name + "-renamed")
    assert (await data.get_data_pipeline(pid)).name == name + "-renamed"
    await expect_status(
        Status.INVALID_ARGUMENT,
        data.create_data_pipeline(org_id, f"bad-{suffix()}", [{"$lookup": {"from": "x"}}], "0 * * * *", False),
        "$lookup",
    )
    await data.delete_data_pipeline(pid)
    await expect_status(Status.NOT_FOUND, data.get_data_pipeline(pid), pid)
