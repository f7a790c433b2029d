"""Shared fixtures: every test dials `fleetsh serve` exactly as a Viam user would dial the cloud,
changing nothing but the address (reference section 4.1)."""

import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from grpclib.client import Channel
from viam.app.viam_client import ViamClient
from viam.proto.app.robot import LogRequest, RobotServiceStub
from viam.proto.common import LogEntry as LogEntryPB
from viam.rpc.dial import DialOptions
from viam.utils import dict_to_struct, datetime_to_timestamp

import app_client_coverage

app_client_coverage.install()

COVERAGE_TEST = "test_every_app_client_method_is_called"


def pytest_deselected(items):
    app_client_coverage.whole_suite = False


def pytest_collection_modifyitems(session, config, items):
    """The coverage test runs last, after every call it counts."""
    here = os.path.dirname(os.path.abspath(__file__))
    files = {f for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py")}
    if files - {os.path.basename(str(i.path)) for i in items}:
        app_client_coverage.whole_suite = False
    last = [i for i in items if i.name == COVERAGE_TEST]
    items[:] = [i for i in items if i.name != COVERAGE_TEST] + last


@pytest.fixture(scope="session")
def creds() -> dict:
    path = os.environ.get("FLEETSH_CREDENTIALS")
    if not path:
        pytest.fail("FLEETSH_CREDENTIALS must name the server's credentials.json")
    with open(path) as f:
        return json.load(f)


def app_url(creds: dict) -> str:
    # "http://127.0.0.1:PORT" -> "127.0.0.1:PORT"; the SDK ignores the scheme anyway.
    return creds["address"].split("://", 1)[-1]


async def dial(creds: dict, key_id: str, key: str) -> ViamClient:
    opts = DialOptions.with_api_key(key, key_id)
    opts.insecure = True
    return await ViamClient.create_from_dial_options(opts, app_url=app_url(creds))


@pytest_asyncio.fixture
async def viam(creds):
    client = await dial(creds, creds["api_key_id"], creds["api_key"])
    yield client
    client.close()


@pytest.fixture
def app(viam):
    return viam.app_client


@pytest.fixture
def org_id(creds) -> str:
    return creds["org_id"]


@pytest.fixture
def location_id(creds) -> str:
    return creds["location_id"]


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def log_entry(message: str, level: str = "info", when: datetime | None = None, **extra) -> LogEntryPB:
    when = when or datetime.now(timezone.utc)
    entry = LogEntryPB(
        host="interop-host",
        level=level,
        time=datetime_to_timestamp(when),
        logger_name=extra.get("logger_name", "rdk.interop"),
        message=message,
        caller=dict_to_struct(extra.get("caller", {"File": "interop.py", "Line": 7, "Defined": True})),
        stack=extra.get("stack", ""),
    )
    for f in extra.get("fields", []):
        entry.fields.append(dict_to_struct(f))
    return entry


async def push_logs(viam: ViamClient, part_id: str, entries: list[LogEntryPB]) -> None:
    """What viam-server does: the app-side RobotService/Log, on the SDK's own channel and token."""
    await RobotServiceStub(viam._channel).Log(LogRequest(id=part_id, logs=entries), metadata=viam._metadata)


def spaced_times(n: int) -> list[datetime]:
    """n distinct, increasing, microsecond-precise times in the recent past."""
    base = datetime.now(timezone.utc).replace(microsecond=123456) - timedelta(minutes=5)
    return [base + timedelta(milliseconds=10 * i, microseconds=i) for i in range(n)]


def raw_channel(creds: dict) -> Channel:
    host, port = app_url(creds).rsplit(":", 1)
    return Channel(host, int(port))


def pytest_terminal_summary(terminalreporter):
    """One line saying how much of the SDK's AppClient this run called (full runs only)."""
    if not app_client_coverage.whole_suite:
        return
    methods = app_client_coverage.public_methods()
    called = methods & app_client_coverage.called
    terminalreporter.write_line(
        f"AppClient coverage: {len(called)} of {len(methods)} methods called; not served here: "
        + (", ".join(sorted(app_client_coverage.NOT_SERVED)) or "none")
    )
