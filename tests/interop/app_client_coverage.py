"""Which `AppClient` methods the interop suite calls: every public method of the SDK's class is
wrapped once per session to record its name when a test calls it (on any instance: the admin's
client and the ones dialed with other keys alike). `test_app_client_coverage.py` compares the
record with the class's methods, so a method the SDK adds (or a test that stops calling one)
fails the suite by name."""

import functools
import inspect

from viam.app.app_client import AppClient

# Methods the local fleet cannot serve, each with why. A method listed here that a test calls,
# or a name the SDK does not have, fails the coverage test: the list cannot go stale.
NOT_SERVED: dict[str, str] = {}

called: set[str] = set()
# Whether this run selected the whole suite (conftest clears it on -k or a file argument): only
# then can the coverage test judge what is missing.
whole_suite = True


def public_methods() -> set[str]:
    return {name for name, _ in inspect.getmembers(AppClient, inspect.isfunction) if not name.startswith("_")}


def _recording(name: str, method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        # Recorded at the call, before the coroutine runs: a call that fails with the expected
        # gRPC status is a call the test made and checked.
        called.add(name)
        return method(*args, **kwargs)

    return wrapper


def install() -> None:
    for name in public_methods():
        method = getattr(AppClient, name)
        if not getattr(method, "_records_coverage", False):
            wrapped = _recording(name, method)
            wrapped._records_coverage = True
            setattr(AppClient, name, wrapped)
