//! The routing table of `viam.app.v1.AppService`: each RPC and its handler. The plumbing
//! every call goes through (caller, limits, log line, status) is in call.rs.

use super::call::rpc_table;
use super::{
    favorites, fragments, invites, keys, locations, logs, modules, orgs, parts, robots, roles,
    summaries,
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
    }
    server_streaming {
        tail_robot_part_logs(TailRobotPartLogsRequest) -> stream TailRobotPartLogsResponse = logs::tail_robot_part_logs;
    }
    client_streaming {
        upload_module_file(UploadModuleFileRequest) -> UploadModuleFileResponse = modules::upload_module_file;
    }
}
