"""Firebase config and device push tokens through the Python SDK against `fleetsh serve`:
stored and returned, nothing sent to Firebase."""

from grpclib import Status

from conftest import suffix
from test_app_client import expect_status


async def test_firebase_config_and_device_push_tokens(app, org_id):
    app_id = f"app-{suffix()}"
    await app.set_firebase_config(org_id, app_id, '{"type": "service_account"}')
    assert await app.get_firebase_config(org_id) == app_id
    await expect_status(Status.INVALID_ARGUMENT, app.set_firebase_config(org_id, app_id, "not json"), "config_json")

    await app.upload_device_push_token(app_id, "token-1", "phone-1")
    await app.upload_device_push_token(app_id, "token-2", "phone-2")
    await app.upload_device_push_token(app_id, "token-1b", "phone-1")
    assert sorted(await app.get_device_push_tokens(app_id)) == ["token-1b", "token-2"]
    await app.delete_device_push_token(app_id, "phone-1")
    assert await app.get_device_push_tokens(app_id) == ["token-2"]
    await expect_status(Status.NOT_FOUND, app.delete_device_push_token(app_id, "phone-1"), "phone-1")

    await app.delete_firebase_config(org_id, app_id)
    await expect_status(Status.NOT_FOUND, app.get_firebase_config(org_id), org_id)
    await expect_status(Status.NOT_FOUND, app.get_device_push_tokens(app_id), app_id)
