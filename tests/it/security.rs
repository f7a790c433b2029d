//! The permission matrix over EVERY unary RPC (the valid requests of `fixture::requests`)
//! against owner / operator / location-scoped key / robot-scoped key / another organization's
//! owner, and no token / expired token / deleted key (refused by every RPC). It replaces the
//! first matrix (permissions.rs), which covered 17 RPCs.

use std::time::Duration;

use serde_json::json;
use tonic::Code;

use crate::dynamic::{Conn, call_via, method, request};
use crate::fixture::{Ids, grant, must, populate, requests, resolve};
use crate::harness::TestServer;
use crate::web_client::WebChannel;

const OK: Code = Code::Ok;
const DENY: Code = Code::PermissionDenied;

/// Columns: owner, org operator, location owner key, robot owner key, other org's owner.
/// Organization-wide things (fragments, modules, rover rentals, members) need a grant on the
/// organization; a location or robot key sees only its location or robot. Moving a machine
/// needs write access to the target location too; renaming it in place (UpdateRobot naming its
/// own location, as the fixture does) needs only write access to the machine. Queries about identities
/// (ListOrganizationsByUser) answer only with organizations the caller can see.
#[rustfmt::skip]
const MATRIX: &[(&str, [Code; 5])] = &[
    ("CreateOrganization",                     [OK,   OK,   OK,   OK,   OK]),
    ("ListOrganizations",                      [OK,   OK,   OK,   OK,   OK]),
    ("ListOrganizationsByUser",                [OK,   OK,   OK,   OK,   OK]),
    ("GetOrganization",                        [OK,   OK,   OK,   OK,   DENY]),
    ("GetOrganizationNamespaceAvailability",   [OK,   OK,   OK,   OK,   OK]),
    ("ListOrganizationMembers",                [OK,   OK,   DENY, DENY, DENY]),
    ("CreateOrganizationInvite",               [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateOrganizationInviteAuthorizations", [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteOrganizationMember",               [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteOrganizationInvite",               [OK,   DENY, DENY, DENY, DENY]),
    ("ResendOrganizationInvite",               [OK,   DENY, DENY, DENY, DENY]),
    ("CreateLocation",                         [OK,   DENY, OK,   DENY, DENY]),
    ("GetLocation",                            [OK,   OK,   OK,   DENY, DENY]),
    ("UpdateLocation",                         [OK,   DENY, OK,   DENY, DENY]),
    ("DeleteLocation",                         [OK,   DENY, DENY, DENY, DENY]),
    ("ListLocations",                          [OK,   OK,   OK,   OK,   DENY]),
    ("LocationAuth",                           [OK,   DENY, OK,   DENY, DENY]),
    ("CreateLocationSecret",                   [OK,   DENY, OK,   DENY, DENY]),
    ("DeleteLocationSecret",                   [OK,   DENY, OK,   DENY, DENY]),
    ("GetRobot",                               [OK,   OK,   OK,   OK,   DENY]),
    ("GetRoverRentalRobots",                   [OK,   OK,   DENY, DENY, DENY]),
    ("GetRobotParts",                          [OK,   OK,   OK,   OK,   DENY]),
    ("GetRobotPart",                           [OK,   OK,   OK,   OK,   DENY]),
    ("GetRobotPartLogs",                       [OK,   OK,   OK,   OK,   DENY]),
    ("GetRobotPartHistory",                    [OK,   OK,   OK,   OK,   DENY]),
    ("UpdateRobotPart",                        [OK,   DENY, OK,   OK,   DENY]),
    ("NewRobotPart",                           [OK,   DENY, OK,   OK,   DENY]),
    ("DeleteRobotPart",                        [OK,   DENY, OK,   OK,   DENY]),
    ("MarkPartAsMain",                         [OK,   DENY, OK,   OK,   DENY]),
    ("MarkPartForRestart",                     [OK,   OK,   OK,   OK,   DENY]),
    ("CreateRobotPartSecret",                  [OK,   DENY, OK,   OK,   DENY]),
    ("DeleteRobotPartSecret",                  [OK,   DENY, OK,   OK,   DENY]),
    ("ListRobots",                             [OK,   OK,   OK,   OK,   DENY]),
    ("ListRobotsForLocations",                 [OK,   OK,   OK,   OK,   DENY]),
    ("ListRobotsForOrg",                       [OK,   OK,   OK,   OK,   DENY]),
    ("GetRobotPartByNameAndLocation",          [OK,   OK,   OK,   OK,   DENY]),
    ("AddFavoriteMachine",                     [OK,   OK,   OK,   OK,   DENY]),
    ("RemoveFavoriteMachine",                  [OK,   OK,   OK,   OK,   DENY]),
    ("ListFavoriteMachines",                   [OK,   OK,   OK,   OK,   OK]),
    ("SetConfigProperty",                      [OK,   DENY, OK,   OK,   DENY]),
    ("ListMachineSummaries",                   [OK,   OK,   OK,   OK,   DENY]),
    ("NewRobot",                               [OK,   DENY, OK,   DENY, DENY]),
    ("UpdateRobot",                            [OK,   DENY, OK,   OK,   DENY]),
    ("DeleteRobot",                            [OK,   DENY, OK,   DENY, DENY]),
    ("ListFragments",                          [OK,   OK,   DENY, DENY, DENY]),
    ("GetFragment",                            [OK,   OK,   DENY, DENY, DENY]),
    ("CreateFragment",                         [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateFragment",                         [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteFragment",                         [OK,   DENY, DENY, DENY, DENY]),
    ("GetFragmentHistory",                     [OK,   OK,   DENY, DENY, DENY]),
    ("SetFragmentTag",                         [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteFragmentTag",                      [OK,   DENY, DENY, DENY, DENY]),
    ("GetFragmentUsage",                       [OK,   OK,   DENY, DENY, DENY]),
    ("ListMachineFragments",                   [OK,   OK,   DENY, DENY, DENY]),
    ("ListNestedFragments",                    [OK,   OK,   DENY, DENY, DENY]),
    ("AddRole",                                [OK,   DENY, DENY, DENY, DENY]),
    ("RemoveRole",                             [OK,   DENY, DENY, DENY, DENY]),
    ("ListAuthorizations",                     [OK,   OK,   DENY, DENY, DENY]),
    ("CheckPermissions",                       [OK,   OK,   OK,   OK,   OK]),
    ("CreateModule",                           [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateModule",                           [OK,   DENY, DENY, DENY, DENY]),
    ("GetModule",                              [OK,   OK,   DENY, DENY, DENY]),
    ("ListModules",                            [OK,   OK,   DENY, DENY, DENY]),
    ("CreateKey",                              [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteKey",                              [OK,   DENY, DENY, DENY, DENY]),
    ("RotateKey",                              [OK,   DENY, DENY, DENY, DENY]),
    ("ListKeys",                               [OK,   DENY, DENY, DENY, DENY]),
    ("CreateKeyFromExistingKeyAuthorizations", [OK,   DENY, DENY, DENY, DENY]),
    ("GetRegistryItem",                        [OK,   OK,   DENY, DENY, DENY]),
    ("CreateRegistryItem",                     [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateRegistryItem",                     [OK,   DENY, DENY, DENY, DENY]),
    ("ListRegistryItems",                      [OK,   OK,   DENY, DENY, DENY]),
    ("DeleteRegistryItem",                     [OK,   DENY, DENY, DENY, DENY]),
    ("RenameRegistryItem",                     [OK,   DENY, DENY, DENY, DENY]),
    ("TransferRegistryItem",                   [OK,   DENY, DENY, DENY, DENY]),
    ("DeprecateRegistryItem",                  [OK,   DENY, DENY, DENY, DENY]),
    ("UndeprecateRegistryItem",                [OK,   DENY, DENY, DENY, DENY]),
    ("DeprecateRegistryItemVersion",           [OK,   DENY, DENY, DENY, DENY]),
    ("UndeprecateRegistryItemVersion",         [OK,   DENY, DENY, DENY, DENY]),
    ("OrganizationSetSupportEmail",            [OK,   DENY, DENY, DENY, DENY]),
    ("OrganizationGetSupportEmail",            [OK,   OK,   DENY, DENY, DENY]),
    ("OrganizationSetLogo",                    [OK,   DENY, DENY, DENY, DENY]),
    ("OrganizationGetLogo",                    [OK,   OK,   DENY, DENY, DENY]),
    ("EnableBillingService",                   [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateBillingService",                   [OK,   DENY, DENY, DENY, DENY]),
    ("GetBillingServiceConfig",                [OK,   OK,   DENY, DENY, DENY]),
    ("DisableBillingService",                  [OK,   DENY, DENY, DENY, DENY]),
    ("SetFirebaseConfig",                      [OK,   DENY, DENY, DENY, DENY]),
    ("GetFirebaseConfig",                      [OK,   OK,   DENY, DENY, DENY]),
    ("UploadDevicePushToken",                  [OK,   OK,   DENY, DENY, DENY]),
    ("GetDevicePushTokens",                    [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteDevicePushToken",                  [OK,   OK,   DENY, DENY, DENY]),
    ("DeleteFirebaseConfig",                   [OK,   DENY, DENY, DENY, DENY]),
    ("EnableAuthService",                      [OK,   DENY, DENY, DENY, DENY]),
    ("DisableAuthService",                     [OK,   DENY, DENY, DENY, DENY]),
    ("Log",                                    [OK,   DENY, OK,   OK,   DENY]),
    // orgs
    ("GetOrganizationMetadata",                [OK,   OK,   DENY, DENY, DENY]),
    ("UpdateOrganizationMetadata",             [OK,   DENY, DENY, DENY, DENY]),
    ("GetLocationMetadata",                    [OK,   OK,   OK,   DENY, DENY]),
    ("UpdateLocationMetadata",                 [OK,   DENY, OK,   DENY, DENY]),
    ("GetRobotMetadata",                       [OK,   OK,   OK,   OK,   DENY]),
    ("UpdateRobotMetadata",                    [OK,   DENY, OK,   OK,   DENY]),
    ("GetRobotPartMetadata",                   [OK,   OK,   OK,   OK,   DENY]),
    ("UpdateRobotPartMetadata",                [OK,   DENY, OK,   OK,   DENY]),
    ("ChangeRole",                             [OK,   DENY, DENY, DENY, DENY]),
    ("RenameKey",                              [OK,   DENY, DENY, DENY, DENY]),
    ("GetRobotAPIKeys",                        [OK,   DENY, OK,   OK,   DENY]),
    ("UpdateOrganization",                     [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateOrganizationNamespace",            [OK,   DENY, DENY, DENY, DENY]),
    // The fixture's organization holds locations: its owner gets past the permission check to
    // the refusal (orgs_api.rs deletes an empty one).
    ("DeleteOrganization",                     [Code::FailedPrecondition, DENY, DENY, DENY, DENY]),
    // Users outside the organizations the caller may read are as unknown as absent ones.
    ("GetUserIDByEmail",                       [OK,   OK,   Code::NotFound, Code::NotFound, Code::NotFound]),
    ("SearchOrganizations",                    [OK,   OK,   OK,   OK,   Code::NotFound]),
    // Sharing needs ownership of both organizations; no principal here owns the fixture's peer
    // organization (orgs_api.rs shares as an owner of both).
    ("ShareLocation",                          [DENY, DENY, DENY, DENY, DENY]),
    ("GetOrganizationsWithAccessToLocation",   [OK,   OK,   OK,   DENY, DENY]),
    ("UnshareLocation",                        [OK,   DENY, DENY, DENY, DENY]),
    ("NeedsRestart",                           [OK,   DENY, OK,   OK,   DENY]),
    ("Certificate",                            [OK,   DENY, OK,   OK,   DENY]),
    ("Config",                                 [OK,   DENY, OK,   OK,   DENY]),
    // Organization-wide; members read, owners write.
    ("CreateOAuthApp",                         [OK,   DENY, DENY, DENY, DENY]),
    ("ReadOAuthApp",                           [OK,   OK,   DENY, DENY, DENY]),
    ("UpdateOAuthApp",                         [OK,   DENY, DENY, DENY, DENY]),
    ("ListOAuthApps",                          [OK,   OK,   DENY, DENY, DENY]),
    ("CreateOAuthAppUser",                     [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteOAuthApp",                         [OK,   DENY, DENY, DENY, DENY]),
    // A private module's app: readers of its organization.
    ("GetAppBranding",                         [OK,   OK,   DENY, DENY, DENY]),
    ("GetAppContent",                          [OK,   OK,   DENY, DENY, DENY]),
    // Members read the data their grants cover, owners (of the organization,
    // the location or the machine) write it; another organization's ids are refused.
    ("DataCaptureUpload",                      [OK,   DENY, OK,   OK,   DENY]),
    ("TabularDataByFilter",                    [OK,   OK,   OK,   OK,   DENY]),
    ("TabularDataBySQL",                       [OK,   OK,   OK,   OK,   DENY]),
    ("TabularDataByMQL",                       [OK,   OK,   OK,   OK,   DENY]),
    ("GetLatestTabularData",                   [OK,   OK,   OK,   OK,   DENY]),
    ("BinaryDataByFilter",                     [OK,   OK,   OK,   OK,   DENY]),
    ("BinaryDataByIDs",                        [OK,   OK,   OK,   OK,   DENY]),
    ("AddTagsToBinaryDataByIDs",               [OK,   DENY, OK,   OK,   DENY]),
    ("AddTagsToBinaryDataByFilter",            [OK,   DENY, OK,   OK,   DENY]),
    ("RemoveTagsFromBinaryDataByIDs",          [OK,   DENY, OK,   OK,   DENY]),
    ("RemoveTagsFromBinaryDataByFilter",       [OK,   DENY, OK,   OK,   DENY]),
    ("TagsByFilter",                           [OK,   OK,   OK,   OK,   DENY]),
    ("AddBoundingBoxToImageByID",              [OK,   DENY, OK,   OK,   DENY]),
    ("UpdateBoundingBox",                      [OK,   DENY, OK,   OK,   DENY]),
    ("RemoveBoundingBoxFromImageByID",         [OK,   DENY, OK,   OK,   DENY]),
    ("BoundingBoxLabelsByFilter",              [OK,   OK,   OK,   OK,   DENY]),
    ("DeleteTabularData",                      [OK,   DENY, OK,   OK,   DENY]),
    ("DeleteBinaryDataByIDs",                  [OK,   DENY, OK,   OK,   DENY]),
    ("DeleteBinaryDataByFilter",               [OK,   DENY, OK,   OK,   DENY]),
    // The organization's database user: organization-wide.
    ("ConfigureDatabaseUser",                  [OK,   DENY, DENY, DENY, DENY]),
    ("GetDatabaseConnection",                  [OK,   OK,   DENY, DENY, DENY]),
    // Organization-wide; data readers list, owners of the organization
    // create, rename, merge and delete; putting data in or out is writing that data.
    ("CreateDataset",                          [OK,   DENY, DENY, DENY, DENY]),
    ("RenameDataset",                          [OK,   DENY, DENY, DENY, DENY]),
    ("MergeDatasets",                          [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteDataset",                          [OK,   DENY, DENY, DENY, DENY]),
    ("ListDatasetsByOrganizationID",           [OK,   OK,   OK,   OK,   DENY]),
    ("ListDatasetsByIDs",                      [OK,   OK,   OK,   OK,   DENY]),
    ("AddBinaryDataToDatasetByIDs",            [OK,   DENY, OK,   OK,   DENY]),
    ("RemoveBinaryDataFromDatasetByIDs",       [OK,   DENY, OK,   OK,   DENY]),
    // Data of their part's machine, read and written as its data is.
    ("CreateSequence",                         [OK,   DENY, OK,   OK,   DENY]),
    ("GetSequence",                            [OK,   OK,   OK,   OK,   DENY]),
    ("UpdateSequence",                         [OK,   DENY, OK,   OK,   DENY]),
    ("DeleteSequence",                         [OK,   DENY, OK,   OK,   DENY]),
    ("ListSequences",                          [OK,   OK,   OK,   OK,   DENY]),
    ("GetSequenceBinaryData",                  [OK,   OK,   OK,   OK,   DENY]),
    ("SequencesByDatasetID",                   [OK,   OK,   OK,   OK,   DENY]),
    ("AddSequencesToDataset",                  [OK,   DENY, OK,   OK,   DENY]),
    ("RemoveSequencesFromDataset",             [OK,   DENY, OK,   OK,   DENY]),
    // An export holds all of the dataset's data, so it is a read of the
    // whole organization's data, to start as to get.
    ("StartSequenceDatasetExport",             [OK,   OK,   DENY, DENY, DENY]),
    ("GetSequenceDatasetExport",               [OK,   OK,   DENY, DENY, DENY]),
    // Saved queries and indexes are organization-wide, changed by its
    // owners and read by whoever may query its data; a signed URL is a read of the data.
    ("CreateSavedQuery",                       [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateSavedQuery",                       [OK,   DENY, DENY, DENY, DENY]),
    ("GetSavedQuery",                          [OK,   OK,   OK,   OK,   DENY]),
    ("DeleteSavedQuery",                       [OK,   DENY, DENY, DENY, DENY]),
    ("ListSavedQueries",                       [OK,   OK,   OK,   OK,   DENY]),
    ("CreateIndex",                            [OK,   DENY, DENY, DENY, DENY]),
    ("ListIndexes",                            [OK,   OK,   OK,   OK,   DENY]),
    ("DeleteIndex",                            [OK,   DENY, DENY, DENY, DENY]),
    ("CreateBinaryDataSignedURL",              [OK,   OK,   OK,   OK,   DENY]),
    // An organization owner's, to read as to change; charges are refused.
    ("GetCurrentMonthUsage",                   [OK,   DENY, DENY, DENY, DENY]),
    ("GetOrgBillingInformation",               [OK,   DENY, DENY, DENY, DENY]),
    ("GetInvoicesSummary",                     [OK,   DENY, DENY, DENY, DENY]),
    ("SendPaymentRequiredEmail",               [OK,   DENY, DENY, DENY, DENY]),
    ("GetAvailableBillingTiers",               [OK,   OK,   OK,   OK,   OK]),
    ("UpdateOrganizationBillingTier",          [OK,   DENY, DENY, DENY, DENY]),
    ("GetLocationBillingOrganization",         [OK,   DENY, DENY, DENY, DENY]),
    ("UpdateLocationBillingOrganization",      [OK,   DENY, DENY, DENY, DENY]),
    ("ChargeOrganization",                     [Code::FailedPrecondition, DENY, DENY, DENY, DENY]),
    ("CreateInvoiceAndChargeImmediately",      [Code::FailedPrecondition, DENY, DENY, DENY, DENY]),
    // Training jobs are data management of the organization.
    ("SubmitTrainingJob",                      [OK,   DENY, DENY, DENY, DENY]),
    ("SubmitCustomTrainingJob",                [OK,   DENY, DENY, DENY, DENY]),
    ("GetTrainingJob",                         [OK,   OK,   DENY, DENY, DENY]),
    ("ListTrainingJobs",                       [OK,   OK,   DENY, DENY, DENY]),
    ("GetTrainingJobLogs",                     [OK,   OK,   DENY, DENY, DENY]),
    ("CancelTrainingJob",                      [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteCompletedTrainingJob",             [OK,   DENY, DENY, DENY, DENY]),
    ("ListSupportedContainers",                [OK,   OK,   OK,   OK,   OK]),
    ("ListContainers",                         [OK,   OK,   DENY, DENY, DENY]),
    ("GetContainer",                           [OK,   OK,   DENY, DENY, DENY]),
    ("RegisterCustomTrainingContainer",        [OK,   DENY, DENY, DENY, DENY]),
    ("DeleteCustomTrainingContainer",          [OK,   DENY, DENY, DENY, DENY]),
    // Pipelines are data management of the organization; packages are the
    // organization's, read with a grant on it (owner, operator), written by owners.
    ("GetDataPipeline",                        [OK,   OK,   DENY, DENY, DENY]),
    ("ListDataPipelines",                      [OK,   OK,   DENY, DENY, DENY]),
    ("CreateDataPipeline",                     [OK,   DENY, DENY, DENY, DENY]),
    ("RenameDataPipeline",                     [OK,   DENY, DENY, DENY, DENY]),
    ("EnableDataPipeline",                     [OK,   DENY, DENY, DENY, DENY]),
    ("DisableDataPipeline",                    [OK,   DENY, DENY, DENY, DENY]),
    ("ListDataPipelineRuns",                   [OK,   OK,   DENY, DENY, DENY]),
    ("DeleteDataPipeline",                     [OK,   DENY, DENY, DENY, DENY]),
    ("GetPackage",                             [OK,   OK,   DENY, DENY, DENY]),
    ("ListPackages",                           [OK,   OK,   DENY, DENY, DENY]),
    ("DeletePackage",                          [OK,   DENY, DENY, DENY, DENY]),
];

const COLUMNS: [&str; 5] = [
    "owner",
    "operator",
    "location key",
    "robot key",
    "other org",
];

/// Replaces the resource a destructive call would consume with a new one made by `root`, so
/// every principal meets the same situation whatever ran before it.
async fn renew(s: &TestServer, root: &str, name: &str, ids: &mut Ids, n: usize) {
    let org = ids["org"].clone();
    ids.insert("fresh", format!("fresh{n}"));
    ids.insert("fresh_email", format!("fresh{n}@example.com"));
    let (key, value) = match name {
        "DeleteLocation" => {
            let r = must(
                s,
                root,
                "CreateLocation",
                json!({"organization_id": org, "name": format!("doomed{n}")}),
            )
            .await;
            ("loc", r["location"]["id"].clone())
        }
        "DeleteLocationSecret" => {
            let r = must(
                s,
                root,
                "CreateLocationSecret",
                json!({"location_id": ids["loc"]}),
            )
            .await;
            let secrets = r["auth"]["secrets"].as_array().unwrap();
            ("loc_secret", secrets.last().unwrap()["id"].clone())
        }
        "DeleteRobotPart" => {
            let r = must(
                s,
                root,
                "NewRobotPart",
                json!({"robot_id": ids["robot"], "part_name": format!("doomed{n}")}),
            )
            .await;
            ("extra_part", r["part_id"].clone())
        }
        "DeleteRobotPartSecret" => {
            let r = must(
                s,
                root,
                "CreateRobotPartSecret",
                json!({"part_id": ids["part"]}),
            )
            .await;
            let secrets = r["part"]["secrets"].as_array().unwrap();
            ("part_secret", secrets.last().unwrap()["id"].clone())
        }
        "DeleteRobot" => {
            let r = must(
                s,
                root,
                "NewRobot",
                json!({"name": format!("doomed{n}"), "location": ids["loc"]}),
            )
            .await;
            ("robot", r["id"].clone())
        }
        "DeleteFragment" => {
            let r = must(
                s,
                root,
                "CreateFragment",
                json!({"name": format!("doomed{n}"), "organization_id": org}),
            )
            .await;
            ("frag", r["fragment"]["id"].clone())
        }
        "DeleteFragmentTag" => {
            let tag = format!("doomed{n}");
            must(
                s,
                root,
                "SetFragmentTag",
                json!({"fragment_id": ids["frag"], "tag": tag, "revision": "1"}),
            )
            .await;
            ("frag_tag", json!(tag))
        }
        "DeleteKey" | "RotateKey" => {
            let r = must(s, root, "CreateKey", json!({"authorizations": [grant(&org, "operator", "organization", &org)], "name": format!("doomed{n}")})).await;
            ("key", r["id"].clone())
        }
        "DeleteOrganizationInvite"
        | "ResendOrganizationInvite"
        | "UpdateOrganizationInviteAuthorizations" => {
            let email = format!("doomed{n}@example.com");
            must(s, root, "CreateOrganizationInvite", json!({"organization_id": org, "email": email, "authorizations": [grant(&org, "operator", "organization", &org)], "send_email_invite": false})).await;
            ("email", json!(email))
        }
        "DeleteOAuthApp" => {
            let r = json!({"org_id": org, "client_name": format!("doomed{n}"), "oauth_config": crate::fixture_oauth::config()});
            (
                "oauth_app",
                must(s, root, "CreateOAuthApp", r).await["client_id"].clone(),
            )
        }
        "DeleteRegistryItem" | "RenameRegistryItem" => {
            let r = must(
                s,
                root,
                "CreateModule",
                json!({"organization_id": org, "name": format!("doomed{n}")}),
            )
            .await;
            ("module", r["module_id"].clone())
        }
        "DeprecateRegistryItemVersion" | "UndeprecateRegistryItemVersion" => {
            // A module's versions are its uploaded files: one recorded is one version.
            let module = ids["module"].clone();
            s.fleet
                .api
                .store
                .tx(|tx| {
                    tx.execute(
                        "INSERT OR IGNORE INTO module_files(module_id, version, platform, path, size, sha256, uploaded_at)
                         VALUES (?1, '1.0.0', 'any', 'modules/none', 1, '', 0)",
                        [&module],
                    )?;
                    Ok(())
                })
                .unwrap();
            return;
        }
        "GetAppContent" => {
            // An app's files are its module's uploads: one recorded is one to name.
            let module = ids["app_module"].clone();
            s.fleet
                .api
                .store
                .tx(|tx| {
                    tx.execute(
                        "INSERT OR IGNORE INTO module_files(module_id, version, platform, path, size, sha256, uploaded_at)
                         VALUES (?1, '2.0.0', 'any', 'modules/app', 1, '', 0)",
                        [&module],
                    )?;
                    Ok(())
                })
                .unwrap();
            return;
        }
        // A binary to delete, a box to update or remove.
        "DeleteBinaryDataByIDs" => {
            let b = crate::fixture_data::new_binary(s, root, &ids["part"]).await;
            ("doomed_binary", json!(b))
        }
        "UpdateBoundingBox" | "RemoveBoundingBoxFromImageByID" => {
            let b = crate::fixture_data::new_bbox(s, root, &ids["binary"]).await;
            ("bbox", json!(b))
        }
        // A dataset to delete.
        "DeleteDataset" => {
            let name = format!("doomed{n}");
            let d = crate::fixture_datasets::new_dataset(s, root, &org, &name).await;
            ("doomed_dataset", json!(d))
        }
        // A sequence to delete.
        "DeleteSequence" => {
            let q = crate::fixture_sequences::new_sequence(s, root, &ids["part"]).await;
            ("doomed_sequence", json!(q))
        }
        // A saved query and an index to delete.
        "DeleteSavedQuery" => {
            let name = format!("doomed{n}");
            let q = crate::fixture_queries::new_saved_query(s, root, &org, &name).await;
            ("doomed_saved_query", json!(q))
        }
        "DeleteIndex" => {
            let name = format!("doomed{n}");
            crate::fixture_queries::new_index(s, root, &org, &name).await;
            ("doomed_index", json!(name))
        }
        // A pending job to cancel, a canceled one to delete.
        "CancelTrainingJob" => {
            let j = crate::fixture_billing::new_job(s, root, &org, &ids["dataset"]).await;
            ("job", json!(j))
        }
        "DeleteCompletedTrainingJob" => {
            let j = crate::fixture_billing::new_ended_job(s, root, &org, &ids["dataset"]).await;
            ("ended_job", json!(j))
        }
        "DeleteCustomTrainingContainer" => {
            let c = crate::fixture_billing::new_container(s, root, &org).await;
            ("container", json!(c))
        }
        // A pipeline and a package to delete.
        "DeleteDataPipeline" => {
            let name = format!("doomed{n}");
            let p = crate::fixture_pipelines::new_pipeline(s, root, &org, &name).await;
            ("doomed_pipeline", json!(p))
        }
        "DeletePackage" => {
            let name = format!("doomed{n}");
            let p = crate::fixture_pipelines::new_package(s, root, &org, &name).await;
            ("doomed_package", json!(p))
        }
        "DeleteDevicePushToken" => {
            let token =
                json!({"app_id": "fleet-app", "device_token": "tok", "device_uuid": "phone-1"});
            must(s, root, "UploadDevicePushToken", token).await;
            return;
        }
        "UnshareLocation" => {
            let r = json!({"location_id": ids["loc"], "organization_id": ids["peer_org"]});
            must(s, root, "ShareLocation", r).await;
            return;
        }
        "RemoveRole" | "ChangeRole" => {
            let g = json!({"authorization_type": "role", "authorization_id": "location_operator", "resource_type": "location", "resource_id": ids["loc"], "identity_id": ids["key"], "organization_id": org, "identity_type": "api-key"});
            must(s, root, "AddRole", json!({"authorization": g})).await;
            return;
        }
        _ => return,
    };
    ids.insert(key, value.as_str().unwrap().to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_principal_gets_the_expected_code_from_every_rpc() {
    every_principal_over(false).await;
}

/// The same matrix over gRPC-web on HTTP/1.1, as the TypeScript SDK and browsers call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_principal_gets_the_expected_code_from_every_rpc_over_grpc_web() {
    every_principal_over(true).await;
}

/// The connection the calls under test go through (the fixture's setup uses gRPC).
fn conn(s: &TestServer, web: bool) -> Conn {
    if web {
        Conn::Web(Box::new(WebChannel::new(
            &s.fleet.credentials.address,
            None,
        )))
    } else {
        Conn::Grpc(s.channel.clone())
    }
}

async fn every_principal_over(web: bool) {
    let s = TestServer::start().await;
    let conn = conn(&s, web);
    let c = s.fleet.credentials.clone();
    let root = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let org = c.org_id.clone();
    let ids = populate(&s, &root, &org, "A").await;
    let b = must(&s, &root, "CreateOrganization", json!({"name": "B"})).await;
    let b = b["organization"]["id"].as_str().unwrap().to_string();

    let key = async |g: serde_json::Value| {
        let k = must(
            &s,
            &root,
            "CreateKey",
            json!({"authorizations": [g], "name": "p"}),
        )
        .await;
        let (id, secret) = (k["id"].as_str().unwrap(), k["key"].as_str().unwrap());
        (id.to_string(), s.token(id, secret).await.unwrap())
    };
    let owner = key(grant(&org, "owner", "organization", &org)).await.1;
    let operator = key(grant(&org, "operator", "organization", &org)).await.1;
    let loc_key = key(grant(&org, "owner", "location", &ids["loc"])).await.1;
    let robot_key = key(grant(&org, "owner", "robot", &ids["robot"])).await.1;
    let other = key(grant(&b, "owner", "organization", &b)).await.1;
    let (gone_id, gone) = key(grant(&org, "owner", "organization", &org)).await;
    must(&s, &root, "DeleteKey", json!({"id": gone_id})).await;
    let principals = [owner, operator, loc_key, robot_key, other];

    let table = requests();
    for (_, name, _) in &table {
        assert!(
            MATRIX.iter().any(|(m, _)| m == name),
            "{name} has no row in MATRIX"
        );
    }
    let mut mismatches = Vec::new();
    let mut n = 0;
    for (svc, name, req) in &table {
        let expected = MATRIX.iter().find(|(m, _)| m == name).unwrap().1;
        let m = method(svc, name);
        for (i, token) in principals.iter().enumerate() {
            n += 1;
            let mut ids = ids.clone();
            renew(&s, &root, name, &mut ids, n).await;
            let r = call_via(&conn, Some(token), &m, request(&m, &resolve(req, &ids))).await;
            let got = r.as_ref().err().map_or(OK, |e| e.code());
            if got != expected[i] {
                let why = r.err().map(|e| e.message().to_string()).unwrap_or_default();
                mismatches.push(format!(
                    "{name} as {}: expected {:?}, got {got:?} {why}",
                    COLUMNS[i], expected[i]
                ));
            }
        }
        for (who, token) in [("no token", None), ("deleted key", Some(gone.as_str()))] {
            let r = call_via(&conn, token, &m, request(&m, &resolve(req, &ids))).await;
            if r.as_ref().err().map(|e| e.code()) != Some(Code::Unauthenticated) {
                mismatches.push(format!(
                    "{name} as {who}: expected Unauthenticated, got {r:?}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_by_every_rpc() {
    let s = TestServer::start_with(|o| o.token_ttl = Duration::from_secs(1)).await;
    let c = s.fleet.credentials.clone();
    let root = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let ids = populate(&s, &root, &c.org_id, "A").await;
    let expiring = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    // Expiry has whole-second resolution and no leeway: two seconds are always past one.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut wrong = Vec::new();
    for (svc, name, req) in &requests() {
        let m = method(svc, name);
        for (via, conn) in [("gRPC", conn(&s, false)), ("gRPC-web", conn(&s, true))] {
            let r = call_via(&conn, Some(&expiring), &m, request(&m, &resolve(req, &ids))).await;
            match r {
                Err(e) if e.code() == Code::Unauthenticated && e.message().contains("xpired") => {}
                other => wrong.push(format!("{name} over {via}: {other:?}")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
