"""Every public method of the SDK's AppClient is called by some interop test (see
app_client_coverage.py); conftest runs this last."""

import pytest

import app_client_coverage
from app_client_coverage import NOT_SERVED, called, public_methods


def test_every_app_client_method_is_called():
    if not app_client_coverage.whole_suite:
        pytest.skip("only a part of the suite ran (-k or a file argument): coverage is judged on a full run")
    methods = public_methods()
    unknown = sorted(set(NOT_SERVED) - methods)
    assert not unknown, f"NOT_SERVED names methods the SDK's AppClient does not have: {unknown}; remove them"
    stale = sorted(set(NOT_SERVED) & called)
    assert not stale, f"NOT_SERVED lists methods a test now calls: {stale}; remove them from NOT_SERVED"
    missing = sorted(methods - called - set(NOT_SERVED))
    assert not missing, (
        f"{len(missing)} of the SDK's {len(methods)} AppClient methods are called by no interop test: "
        f"{', '.join(missing)}. Write a test that calls each against the local fleet and asserts its result, "
        "or list it in app_client_coverage.NOT_SERVED with the reason the local fleet cannot serve it."
    )
