"""AppClient.create_oauth_app_user against `fleetsh serve`: the user is made, the returned
auth_token authenticates as that user (no grants yet: it sees no organization and may not read
one), and the same email signs up through the app once."""

from grpclib import Status
from viam.proto.app import CreateOAuthAppRequest, GetOrganizationRequest, ListOrganizationsRequest

from conftest import suffix
from test_app_client import expect_status
from test_app_oauth import config


async def test_create_oauth_app_user_returns_the_users_own_token(app, org_id):
    stub, md = app._app_client, app._metadata
    made = await stub.CreateOAuthApp(
        CreateOAuthAppRequest(org_id=org_id, client_name=f"signup-{suffix()}", oauth_config=config("https://example.com/cb")),
        metadata=md,
    )
    email = f"ada-{suffix()}@example.com"
    user = await app.create_oauth_app_user(org_id, made.client_id, email, "Ada", "Lovelace", "correct horse battery")
    assert user.user_id and user.registration_id and user.auth_token and user.refresh_token

    as_user = {"authorization": f"Bearer {user.auth_token}"}
    listed = await stub.ListOrganizations(ListOrganizationsRequest(), metadata=as_user)
    assert list(listed.organizations) == []
    await expect_status(
        Status.PERMISSION_DENIED, stub.GetOrganization(GetOrganizationRequest(organization_id=org_id), metadata=as_user)
    )
    await expect_status(
        Status.ALREADY_EXISTS,
        app.create_oauth_app_user(org_id, made.client_id, email, "Ada", "Lovelace", "correct horse battery"),
        "already signed up",
    )
    await expect_status(
        Status.INVALID_ARGUMENT,
        app.create_oauth_app_user(org_id, made.client_id, f"bob-{suffix()}@example.com", "Bob", "B", "short"),
        "password",
    )
