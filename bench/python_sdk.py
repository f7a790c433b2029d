"""The Python SDK side of bench/run.sh: the same workloads as the bench/*.lua scripts, through
viam-sdk's AppClient exactly as a user would write them. Each prints its wall time in seconds
(client creation excluded, as in the Lua scripts, except `startup`, which is timed from outside).

usage: python_sdk.py WORKLOAD ARGS...   (credentials from $FLEETSH_CREDENTIALS, a credentials.json)
"""

import asyncio
import json
import os
import sys
import time
from datetime import datetime, timezone

from viam.app.viam_client import ViamClient
from viam.rpc.dial import DialOptions


async def connect() -> ViamClient:
    with open(os.environ["FLEETSH_CREDENTIALS"]) as f:
        creds = json.load(f)
    opts = DialOptions.with_api_key(creds["api_key"], creds["api_key_id"])
    opts.insecure = True
    return await ViamClient.create_from_dial_options(opts, app_url=creds["address"].split("://", 1)[-1])


async def startup(app):
    pass


async def seq_reads(app, robot_id, n="5000"):
    for _ in range(int(n)):
        await app.get_robot(robot_id)


async def seq_writes(app, location_id, prefix, n="2000"):
    ids = [await app.new_robot(f"{prefix}{i}", location_id) for i in range(1, int(n) + 1)]
    for i, robot_id in enumerate(ids, 1):
        await app.update_robot(robot_id, f"{prefix}{i}-u", location_id)


async def conc_reads(app, robot_id, n="20000", concurrency="64"):
    gate = asyncio.Semaphore(int(concurrency))

    async def one():
        async with gate:
            return await app.get_robot(robot_id)

    await asyncio.gather(*(one() for _ in range(int(n))))


async def list_robots(app, location_id, expected):
    robots = await app.list_robots(location_id)
    assert len(robots) == int(expected), f"expected {expected} machines, got {len(robots)}"


async def list_summaries(app, org_id, location_id, expected):
    # viam-sdk's AppClient has no method for ListMachineSummaries: its generated stub, as a
    # user would call it.
    from viam.proto.app import ListMachineSummariesRequest

    request = ListMachineSummariesRequest(organization_id=org_id, location_ids=[location_id])
    response = await app._app_client.ListMachineSummaries(request, metadata=app._metadata)
    n = sum(len(l.machine_summaries) for l in response.location_summaries)
    assert n == int(expected), f"expected {expected} machines, got {n}"


async def part_logs(app, part_id, expected):
    logs = await app.get_robot_part_logs(part_id, num_log_entries=0)
    assert len(logs) == int(expected), f"expected {expected} entries, got {len(logs)}"


WORKLOADS = {f.__name__: f for f in (startup, seq_reads, seq_writes, conc_reads, list_robots, list_summaries, part_logs)}


# The data workloads (bench/data_*.lua's twins) take the ViamClient (they need its data_client) and
# return their own wall time: what they build first (a machine, the readings) is not timed.
async def data_upload(client, location_id, name, n, batch="1000"):
    """n readings of one sensor of a new machine, `batch` per tabular_data_capture_upload call
    (one DataCaptureUpload each), sequentially; prints `part_id=...` before the time."""
    n, batch = int(n), int(batch)
    robot_id = await client.app_client.new_robot(name, location_id)
    part_id = (await client.app_client.get_robot_parts(robot_id))[0].id
    base = time.time() - n
    batches = []
    for first in range(1, n + 1, batch):
        data, times = [], []
        for i in range(first, min(first + batch, n + 1)):
            at = datetime.fromtimestamp(int(base) + i, tz=timezone.utc)
            data.append({"readings": {"temperature": 20 + i % 10, "humidity": 40 + i % 7}})
            times.append((at, at))
        batches.append((data, times))
    start = time.perf_counter()
    for data, times in batches:
        await client.data_client.tabular_data_capture_upload(data, part_id, "rdk:component:sensor", "temp", "Readings", times)
    elapsed = time.perf_counter() - start
    return elapsed, f"part_id={part_id}"


async def data_sql(client, org_id, part_id, expected):
    sql = ("SELECT time_requested, data.readings.temperature AS temperature, data.readings.humidity AS humidity "
           f"FROM readings WHERE part_id = '{part_id}'")
    start = time.perf_counter()
    rows = await client.data_client.tabular_data_by_sql(org_id, sql)
    elapsed = time.perf_counter() - start
    assert len(rows) == int(expected), f"expected {expected} rows, got {len(rows)}"
    return elapsed, None


async def data_export(client, part_id, expected):
    start = time.perf_counter()
    points = await client.data_client.export_tabular_data(part_id, "temp", "rdk:component:sensor", "Readings")
    elapsed = time.perf_counter() - start
    assert len(points) == int(expected), f"expected {expected} points, got {len(points)}"
    return elapsed, None


DATA_WORKLOADS = {f.__name__: f for f in (data_upload, data_sql, data_export)}


async def main(name, args):
    client = await connect()
    try:
        if name == "startup":
            return
        if name in DATA_WORKLOADS:
            elapsed, extra = await DATA_WORKLOADS[name](client, *args)
            if extra:
                print(extra)
            print(f"{elapsed:.6f}")  # last, as the driver reads it
            return
        start = time.perf_counter()
        await WORKLOADS[name](client.app_client, *args)
        print(f"{time.perf_counter() - start:.6f}")
    finally:
        client.close()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in {**WORKLOADS, **DATA_WORKLOADS}:
        sys.exit(f"usage: python_sdk.py {{{','.join([*WORKLOADS, *DATA_WORKLOADS])}}} ARGS...")
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
