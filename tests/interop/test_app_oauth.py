"""OAuth applications against `fleetsh serve`. The pinned SDK's AppClient has no method for
them (it has create_oauth_app_user only, tested in test_app_oauth_user.py), so these
go through the SDK's own generated stub on the AppClient's channel and token: the wire format
is what is checked."""

from grpclib import Status
from viam.proto.app import (
    PKCE,
    ClientAuthentication,
    CreateOAuthAppRequest,
    DeleteOAuthAppRequest,
    EnabledGrant,
    ListOAuthAppsRequest,
    OAuthConfig,
    ReadOAuthAppRequest,
    UpdateOAuthAppRequest,
    URLValidation,
)

from conftest import suffix
from test_app_client import expect_status


def config(redirect: str) -> OAuthConfig:
    return OAuthConfig(
        client_authentication=ClientAuthentication.CLIENT_AUTHENTICATION_REQUIRED,
        pkce=PKCE.PKCE_REQUIRED,
        url_validation=URLValidation.URL_VALIDATION_EXACT_MATCH,
        origin_uris=["https://example.com"],
        redirect_uris=[redirect],
        logout_uri="https://example.com/logout",
        enabled_grants=[EnabledGrant.ENABLED_GRANT_AUTHORIZATION_CODE, EnabledGrant.ENABLED_GRANT_REFRESH_TOKEN],
    )


async def test_oauth_app_lifecycle(app, org_id):
    stub, md = app._app_client, app._metadata
    name = f"portal-{suffix()}"
    made = await stub.CreateOAuthApp(
        CreateOAuthAppRequest(org_id=org_id, client_name=name, oauth_config=config("https://example.com/cb")), metadata=md
    )
    assert made.client_id and len(made.client_secret) >= 32

    read = await stub.ReadOAuthApp(ReadOAuthAppRequest(org_id=org_id, client_id=made.client_id), metadata=md)
    assert (read.client_name, read.client_secret) == (name, "")
    assert read.oauth_config == config("https://example.com/cb")

    await stub.UpdateOAuthApp(
        UpdateOAuthAppRequest(
            org_id=org_id, client_id=made.client_id, client_name=f"{name}-v2", oauth_config=config("https://example.com/v2/cb")
        ),
        metadata=md,
    )
    read = await stub.ReadOAuthApp(ReadOAuthAppRequest(org_id=org_id, client_id=made.client_id), metadata=md)
    assert read.client_name == f"{name}-v2"
    assert list(read.oauth_config.redirect_uris) == ["https://example.com/v2/cb"]

    listed = await stub.ListOAuthApps(ListOAuthAppsRequest(org_id=org_id), metadata=md)
    assert made.client_id in listed.client_ids

    await expect_status(
        Status.INVALID_ARGUMENT,
        stub.CreateOAuthApp(
            CreateOAuthAppRequest(org_id=org_id, client_name=name, oauth_config=config("example.com/cb")), metadata=md
        ),
        "redirect_uris",
    )

    await stub.DeleteOAuthApp(DeleteOAuthAppRequest(org_id=org_id, client_id=made.client_id), metadata=md)
    listed = await stub.ListOAuthApps(ListOAuthAppsRequest(org_id=org_id), metadata=md)
    assert made.client_id not in listed.client_ids
    await expect_status(
        Status.NOT_FOUND,
        stub.ReadOAuthApp(ReadOAuthAppRequest(org_id=org_id, client_id=made.client_id), metadata=md),
        made.client_id,
    )


async def test_app_branding_and_content_of_a_module_app(app, org_id):
    """A hosted app as a module declares it; no file uploaded yet, so no content to name."""
    from viam.proto.app import App, GetAppBrandingRequest, GetAppContentRequest, UpdateModuleRequest, Visibility

    stub, md = app._app_client, app._metadata
    name = f"viewer-{suffix()}"
    module_id, _ = await app.create_module(org_id, name)
    dashboard = App(name=f"dash-{name}", type="multi_machine", entrypoint="dist/index.html", logo_path="logo.png")
    await stub.UpdateModule(
        UpdateModuleRequest(
            module_id=module_id,
            visibility=Visibility.VISIBILITY_PRIVATE,
            url="https://example.com",
            description="d",
            entrypoint="run.sh",
            apps=[dashboard],
        ),
        metadata=md,
    )
    branding = await stub.GetAppBranding(GetAppBrandingRequest(public_namespace=org_id, name=dashboard.name), metadata=md)
    assert branding.logo_path == "logo.png"
    await expect_status(
        Status.NOT_FOUND,
        stub.GetAppContent(GetAppContentRequest(public_namespace=org_id, name=dashboard.name), metadata=md),
        "UploadModuleFile",
    )
