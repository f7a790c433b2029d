//! Issue 12, billing: a valid request for every unary BillingService and MLTrainingService RPC
//! the local fleet serves.

use serde_json::{Value, json};

use crate::fixture::Ids;
use crate::fixture_data::must_on;
use crate::harness::TestServer;

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let b = |m: &'static str, v: Value| ("BillingService", m, v);
    vec![
        b("GetCurrentMonthUsage", json!({"org_id": "$org"})),
        b("GetOrgBillingInformation", json!({"org_id": "$org"})),
        b("GetInvoicesSummary", json!({"org_id": "$org"})),
        b(
            "SendPaymentRequiredEmail",
            json!({"customer_org_id": "$org", "billing_owner_org_id": "$org"}),
        ),
        b("GetAvailableBillingTiers", json!({})),
        b(
            "UpdateOrganizationBillingTier",
            json!({"organization_id": "$org", "billing_tier": "pro"}),
        ),
        b(
            "GetLocationBillingOrganization",
            json!({"location_id": "$loc"}),
        ),
        b(
            "UpdateLocationBillingOrganization",
            json!({"location_id": "$loc", "billing_organization_id": "$org"}),
        ),
        b(
            "ChargeOrganization",
            json!({"org_id_to_charge": "$org", "subtotal": 10.0, "tax": 1.0, "description": "d"}),
        ),
        b(
            "CreateInvoiceAndChargeImmediately",
            json!({"org_id_to_charge": "$org", "amount": 5.0, "description": "d"}),
        ),
    ]
    .into_iter()
    .chain(training_requests())
    .collect()
}

/// A pending training job of the organization on its `dataset`; its id.
pub async fn new_job(s: &TestServer, token: &str, org: &str, dataset: &str) -> String {
    let req = json!({"organization_id": org, "dataset_id": dataset, "model_name": "m", "model_version": "1",
                     "model_type": "MODEL_TYPE_SINGLE_LABEL_CLASSIFICATION", "tags": ["cat"]});
    let r = must_on(s, token, "MLTrainingService", "SubmitTrainingJob", req).await;
    r["id"].as_str().unwrap().to_string()
}

/// A canceled training job (one that may be deleted); its id.
pub async fn new_ended_job(s: &TestServer, token: &str, org: &str, dataset: &str) -> String {
    let id = new_job(s, token, org, dataset).await;
    must_on(
        s,
        token,
        "MLTrainingService",
        "CancelTrainingJob",
        json!({"id": id}),
    )
    .await;
    id
}

/// A registered training container of the organization; its id.
pub async fn new_container(s: &TestServer, token: &str, org: &str) -> String {
    let req = json!({"organization_id": org, "image_uri": "docker.io/acme/trainer:1", "description": "trainer"});
    let r = must_on(
        s,
        token,
        "MLTrainingService",
        "RegisterCustomTrainingContainer",
        req,
    )
    .await;
    r["id"].as_str().unwrap().to_string()
}

/// Adds `job` (pending), `ended_job` (canceled) and `container` to `ids`; the jobs train on
/// the organization's `dataset` (fixture_datasets).
pub async fn populate(s: &TestServer, token: &str, ids: &mut Ids) {
    let (org, dataset) = (ids["org"].clone(), ids["dataset"].clone());
    ids.insert("container", new_container(s, token, &org).await);
    ids.insert("job", new_job(s, token, &org, &dataset).await);
    ids.insert("ended_job", new_ended_job(s, token, &org, &dataset).await);
}

pub fn training_requests() -> Vec<(&'static str, &'static str, Value)> {
    let t = |m: &'static str, v: Value| ("MLTrainingService", m, v);
    vec![
        t(
            "SubmitTrainingJob",
            json!({"organization_id": "$org", "dataset_id": "$dataset", "model_name": "m", "model_version": "2",
                   "model_type": "MODEL_TYPE_OBJECT_DETECTION", "model_framework": "MODEL_FRAMEWORK_TFLITE", "tags": ["dog"]}),
        ),
        t(
            "SubmitCustomTrainingJob",
            json!({"organization_id": "$org", "dataset_id": "$dataset", "registry_item_id": "$module",
                   "registry_item_version": "1.0.0", "model_name": "m", "model_version": "3", "arguments": {"epochs": "3"}}),
        ),
        t("GetTrainingJob", json!({"id": "$job"})),
        t(
            "ListTrainingJobs",
            json!({"organization_id": "$org", "status": "TRAINING_STATUS_PENDING"}),
        ),
        t("GetTrainingJobLogs", json!({"id": "$job"})),
        t("CancelTrainingJob", json!({"id": "$job"})),
        t("DeleteCompletedTrainingJob", json!({"id": "$ended_job"})),
        t("ListSupportedContainers", json!({})),
        t("ListContainers", json!({"organization_id": "$org"})),
        t("GetContainer", json!({"id": "$container"})),
        t(
            "RegisterCustomTrainingContainer",
            json!({"organization_id": "$org", "image_uri": "docker.io/acme/trainer:2", "description": "d"}),
        ),
        t("DeleteCustomTrainingContainer", json!({"id": "$container"})),
    ]
}
