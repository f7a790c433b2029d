//! The routing table of `viam.app.v1.AppService`: each RPC and its handler. The plumbing
//! every call goes through (caller, limits, log line, status) is in call.rs.

use super::call::rpc_table;
use super::{
    app_content, devices, favorites, fragments, invites, keys, locations, logs, metadata, modules,
    oauth_apps, orgs, parts, registry, robots, roles, summaries, white_label,
};
use crate::proto::viam::app::v1::app_service_server::AppService;
use crate::proto::viam::app::v1::*;

rpc_table! {
    impl AppService for AppSvc;
    unary {
        create_organization(CreateOrganizationRequest) -> CreateOrganizationResponse = orgs::create_organization;
        list_organizations(ListOrganizationsRequest) -> ListOrganizationsResponse = orgs::list_organizations;
        list_organizations_by_user(ListOrganizationsByUserRequest) -> ListOrganizationsByUserResponse = orgs::list_organizations_by_user;
        get_organization(GetOrganizationRequest) -> GetOrganizationResponse = orgs::get_organization;
        get_organization_namespace_availability(GetOrganizationNamespaceAvailabilityRequest) -> GetOrganizationNamespaceAvailabilityResponse = orgs::get_organization_namespace_availability;
        list_organization_members(ListOrganizationMembersRequest) -> ListOrganizationMembersResponse = orgs::list_organization_members;
        delete_organization_member(DeleteOrganizationMemberRequest) -> DeleteOrganizationMemberResponse = orgs::delete_organization_member;
        create_organization_invite(CreateOrganizationInviteRequest) -> CreateOrganizationInviteResponse = invites::create_organization_invite;
        update_organization_invite_authorizations(UpdateOrganizationInviteAuthorizationsRequest) -> UpdateOrganizationInviteAuthorizationsResponse = invites::update_organization_invite_authorizations;
        delete_organization_invite(DeleteOrganizationInviteRequest) -> DeleteOrganizationInviteResponse = invites::delete_organization_invite;
        resend_organization_invite(ResendOrganizationInviteRequest) -> ResendOrganizationInviteResponse = invites::resend_organization_invite;
        create_location(CreateLocationRequest) -> CreateLocationResponse = locations::create_location;
        get_location(GetLocationRequest) -> GetLocationResponse = locations::get_location;
        update_location(UpdateLocationRequest) -> UpdateLocationResponse = locations::update_location;
        delete_location(DeleteLocationRequest) -> DeleteLocationResponse = locations::delete_location;
        list_locations(ListLocationsRequest) -> ListLocationsResponse = locations::list_locations;
        location_auth(LocationAuthRequest) -> LocationAuthResponse = locations::location_auth_rpc;
        create_location_secret(CreateLocationSecretRequest) -> CreateLocationSecretResponse = locations::create_location_secret;
        delete_location_secret(DeleteLocationSecretRequest) -> DeleteLocationSecretResponse = locations::delete_location_secret;
        get_robot(GetRobotRequest) -> GetRobotResponse = robots::get_robot;
        get_rover_rental_robots(GetRoverRentalRobotsRequest) -> GetRoverRentalRobotsResponse = robots::get_rover_rental_robots;
        list_robots(ListRobotsRequest) -> ListRobotsResponse = robots::list_robots;
        new_robot(NewRobotRequest) -> NewRobotResponse = robots::new_robot;
        update_robot(UpdateRobotRequest) -> UpdateRobotResponse = robots::update_robot;
        delete_robot(DeleteRobotRequest) -> DeleteRobotResponse = robots::delete_robot;
        list_robots_for_locations(ListRobotsForLocationsRequest) -> ListRobotsForLocationsResponse = robots::list_robots_for_locations;
        list_robots_for_org(ListRobotsForOrgRequest) -> ListRobotsForOrgResponse = robots::list_robots_for_org;
        get_robot_part_by_name_and_location(GetRobotPartByNameAndLocationRequest) -> GetRobotPartByNameAndLocationResponse = parts::get_robot_part_by_name_and_location;
        list_machine_summaries(ListMachineSummariesRequest) -> ListMachineSummariesResponse = summaries::list_machine_summaries;
        set_config_property(SetConfigPropertyRequest) -> SetConfigPropertyResponse = parts::set_config_property;
        add_favorite_machine(AddFavoriteMachineRequest) -> AddFavoriteMachineResponse = favorites::add_favorite_machine;
        remove_favorite_machine(RemoveFavoriteMachineRequest) -> RemoveFavoriteMachineResponse = favorites::remove_favorite_machine;
        list_favorite_machines(ListFavoriteMachinesRequest) -> ListFavoriteMachinesResponse = favorites::list_favorite_machines;
        get_robot_parts(GetRobotPartsRequest) -> GetRobotPartsResponse = parts::get_robot_parts;
        get_robot_part(GetRobotPartRequest) -> GetRobotPartResponse = parts::get_robot_part;
        get_robot_part_history(GetRobotPartHistoryRequest) -> GetRobotPartHistoryResponse = parts::get_robot_part_history;
        update_robot_part(UpdateRobotPartRequest) -> UpdateRobotPartResponse = parts::update_robot_part;
        new_robot_part(NewRobotPartRequest) -> NewRobotPartResponse = parts::new_robot_part;
        delete_robot_part(DeleteRobotPartRequest) -> DeleteRobotPartResponse = parts::delete_robot_part;
        mark_part_as_main(MarkPartAsMainRequest) -> MarkPartAsMainResponse = parts::mark_part_as_main;
        mark_part_for_restart(MarkPartForRestartRequest) -> MarkPartForRestartResponse = parts::mark_part_for_restart;
        create_robot_part_secret(CreateRobotPartSecretRequest) -> CreateRobotPartSecretResponse = parts::create_robot_part_secret;
        delete_robot_part_secret(DeleteRobotPartSecretRequest) -> DeleteRobotPartSecretResponse = parts::delete_robot_part_secret;
        get_robot_part_logs(GetRobotPartLogsRequest) -> GetRobotPartLogsResponse = logs::get_robot_part_logs;
        list_fragments(ListFragmentsRequest) -> ListFragmentsResponse = fragments::list_fragments;
        get_fragment(GetFragmentRequest) -> GetFragmentResponse = fragments::get_fragment;
        create_fragment(CreateFragmentRequest) -> CreateFragmentResponse = fragments::create_fragment;
        update_fragment(UpdateFragmentRequest) -> UpdateFragmentResponse = fragments::update_fragment;
        get_fragment_history(GetFragmentHistoryRequest) -> GetFragmentHistoryResponse = fragments::get_fragment_history;
        set_fragment_tag(SetFragmentTagRequest) -> SetFragmentTagResponse = fragments::set_fragment_tag;
        delete_fragment_tag(DeleteFragmentTagRequest) -> DeleteFragmentTagResponse = fragments::delete_fragment_tag;
        get_fragment_usage(GetFragmentUsageRequest) -> GetFragmentUsageResponse = fragments::get_fragment_usage;
        list_machine_fragments(ListMachineFragmentsRequest) -> ListMachineFragmentsResponse = fragments::list_machine_fragments;
        list_nested_fragments(ListNestedFragmentsRequest) -> ListNestedFragmentsResponse = fragments::list_nested_fragments;
        delete_fragment(DeleteFragmentRequest) -> DeleteFragmentResponse = fragments::delete_fragment;
        add_role(AddRoleRequest) -> AddRoleResponse = roles::add_role;
        remove_role(RemoveRoleRequest) -> RemoveRoleResponse = roles::remove_role;
        list_authorizations(ListAuthorizationsRequest) -> ListAuthorizationsResponse = roles::list_authorizations;
        check_permissions(CheckPermissionsRequest) -> CheckPermissionsResponse = roles::check_permissions;
        create_module(CreateModuleRequest) -> CreateModuleResponse = modules::create_module;
        update_module(UpdateModuleRequest) -> UpdateModuleResponse = modules::update_module;
        get_module(GetModuleRequest) -> GetModuleResponse = modules::get_module;
        list_modules(ListModulesRequest) -> ListModulesResponse = modules::list_modules;
        create_key(CreateKeyRequest) -> CreateKeyResponse = keys::create_key;
        delete_key(DeleteKeyRequest) -> DeleteKeyResponse = keys::delete_key;
        rotate_key(RotateKeyRequest) -> RotateKeyResponse = keys::rotate_key;
        list_keys(ListKeysRequest) -> ListKeysResponse = keys::list_keys;
        create_key_from_existing_key_authorizations(CreateKeyFromExistingKeyAuthorizationsRequest) -> CreateKeyFromExistingKeyAuthorizationsResponse = keys::create_key_from_existing_key_authorizations;
        get_registry_item(GetRegistryItemRequest) -> GetRegistryItemResponse = registry::get_registry_item;
        create_registry_item(CreateRegistryItemRequest) -> CreateRegistryItemResponse = registry::create_registry_item;
        update_registry_item(UpdateRegistryItemRequest) -> UpdateRegistryItemResponse = registry::update_registry_item;
        list_registry_items(ListRegistryItemsRequest) -> ListRegistryItemsResponse = registry::list_registry_items;
        delete_registry_item(DeleteRegistryItemRequest) -> DeleteRegistryItemResponse = registry::delete_registry_item;
        rename_registry_item(RenameRegistryItemRequest) -> RenameRegistryItemResponse = registry::rename_registry_item;
        transfer_registry_item(TransferRegistryItemRequest) -> TransferRegistryItemResponse = registry::transfer_registry_item;
        deprecate_registry_item(DeprecateRegistryItemRequest) -> DeprecateRegistryItemResponse = registry::deprecate_registry_item;
        undeprecate_registry_item(UndeprecateRegistryItemRequest) -> UndeprecateRegistryItemResponse = registry::undeprecate_registry_item;
        deprecate_registry_item_version(DeprecateRegistryItemVersionRequest) -> DeprecateRegistryItemVersionResponse = registry::deprecate_registry_item_version;
        undeprecate_registry_item_version(UndeprecateRegistryItemVersionRequest) -> UndeprecateRegistryItemVersionResponse = registry::undeprecate_registry_item_version;
        enable_billing_service(EnableBillingServiceRequest) -> EnableBillingServiceResponse = white_label::enable_billing_service;
        disable_billing_service(DisableBillingServiceRequest) -> DisableBillingServiceResponse = white_label::disable_billing_service;
        update_billing_service(UpdateBillingServiceRequest) -> UpdateBillingServiceResponse = white_label::update_billing_service;
        get_billing_service_config(GetBillingServiceConfigRequest) -> GetBillingServiceConfigResponse = white_label::get_billing_service_config;
        organization_set_support_email(OrganizationSetSupportEmailRequest) -> OrganizationSetSupportEmailResponse = white_label::organization_set_support_email;
        organization_get_support_email(OrganizationGetSupportEmailRequest) -> OrganizationGetSupportEmailResponse = white_label::organization_get_support_email;
        organization_set_logo(OrganizationSetLogoRequest) -> OrganizationSetLogoResponse = white_label::organization_set_logo;
        organization_get_logo(OrganizationGetLogoRequest) -> OrganizationGetLogoResponse = white_label::organization_get_logo;
        enable_auth_service(EnableAuthServiceRequest) -> EnableAuthServiceResponse = white_label::enable_auth_service;
        disable_auth_service(DisableAuthServiceRequest) -> DisableAuthServiceResponse = white_label::disable_auth_service;
        upload_device_push_token(UploadDevicePushTokenRequest) -> UploadDevicePushTokenResponse = devices::upload_device_push_token;
        delete_device_push_token(DeleteDevicePushTokenRequest) -> DeleteDevicePushTokenResponse = devices::delete_device_push_token;
        get_device_push_tokens(GetDevicePushTokensRequest) -> GetDevicePushTokensResponse = devices::get_device_push_tokens;
        set_firebase_config(SetFirebaseConfigRequest) -> SetFirebaseConfigResponse = devices::set_firebase_config;
        get_firebase_config(GetFirebaseConfigRequest) -> GetFirebaseConfigResponse = devices::get_firebase_config;
        delete_firebase_config(DeleteFirebaseConfigRequest) -> DeleteFirebaseConfigResponse = devices::delete_firebase_config;
        // issue 11, orgs
        get_organization_metadata(GetOrganizationMetadataRequest) -> GetOrganizationMetadataResponse = metadata::get_organization_metadata;
        update_organization_metadata(UpdateOrganizationMetadataRequest) -> UpdateOrganizationMetadataResponse = metadata::update_organization_metadata;
        get_location_metadata(GetLocationMetadataRequest) -> GetLocationMetadataResponse = metadata::get_location_metadata;
        update_location_metadata(UpdateLocationMetadataRequest) -> UpdateLocationMetadataResponse = metadata::update_location_metadata;
        get_robot_metadata(GetRobotMetadataRequest) -> GetRobotMetadataResponse = metadata::get_robot_metadata;
        update_robot_metadata(UpdateRobotMetadataRequest) -> UpdateRobotMetadataResponse = metadata::update_robot_metadata;
        get_robot_part_metadata(GetRobotPartMetadataRequest) -> GetRobotPartMetadataResponse = metadata::get_robot_part_metadata;
        update_robot_part_metadata(UpdateRobotPartMetadataRequest) -> UpdateRobotPartMetadataResponse = metadata::update_robot_part_metadata;
        change_role(ChangeRoleRequest) -> ChangeRoleResponse = roles::change_role;
        rename_key(RenameKeyRequest) -> RenameKeyResponse = keys::rename_key;
        get_robot_api_keys(GetRobotApiKeysRequest) -> GetRobotApiKeysResponse = keys::get_robot_api_keys;
        update_organization(UpdateOrganizationRequest) -> UpdateOrganizationResponse = orgs::update_organization;
        update_organization_namespace(UpdateOrganizationNamespaceRequest) -> UpdateOrganizationNamespaceResponse = orgs::update_organization_namespace;
        delete_organization(DeleteOrganizationRequest) -> DeleteOrganizationResponse = orgs::delete_organization;
        get_user_id_by_email(GetUserIdByEmailRequest) -> GetUserIdByEmailResponse = orgs::get_user_id_by_email;
        search_organizations(SearchOrganizationsRequest) -> SearchOrganizationsResponse = orgs::search_organizations;
        get_organizations_with_access_to_location(GetOrganizationsWithAccessToLocationRequest) -> GetOrganizationsWithAccessToLocationResponse = locations::get_organizations_with_access_to_location;
        share_location(ShareLocationRequest) -> ShareLocationResponse = locations::share_location;
        unshare_location(UnshareLocationRequest) -> UnshareLocationResponse = locations::unshare_location;
        // issue 11, oauth
        create_o_auth_app(CreateOAuthAppRequest) -> CreateOAuthAppResponse = oauth_apps::create_oauth_app;
        read_o_auth_app(ReadOAuthAppRequest) -> ReadOAuthAppResponse = oauth_apps::read_oauth_app;
        update_o_auth_app(UpdateOAuthAppRequest) -> UpdateOAuthAppResponse = oauth_apps::update_oauth_app;
        delete_o_auth_app(DeleteOAuthAppRequest) -> DeleteOAuthAppResponse = oauth_apps::delete_oauth_app;
        list_o_auth_apps(ListOAuthAppsRequest) -> ListOAuthAppsResponse = oauth_apps::list_oauth_apps;
        create_o_auth_app_user(CreateOAuthAppUserRequest) -> CreateOAuthAppUserResponse = oauth_apps::create_oauth_app_user;
        get_app_content(GetAppContentRequest) -> GetAppContentResponse = app_content::get_app_content;
        get_app_branding(GetAppBrandingRequest) -> GetAppBrandingResponse = app_content::get_app_branding;
    }
    server_streaming {}
    client_streaming {
        upload_module_file(UploadModuleFileRequest) -> UploadModuleFileResponse = modules::upload_module_file;
    }
    // The tail's resume cursor travels in metadata (logs.rs).
    server_streaming_with_metadata {
        tail_robot_part_logs(TailRobotPartLogsRequest) -> stream TailRobotPartLogsResponse = logs::tail_robot_part_logs;
    }
}
