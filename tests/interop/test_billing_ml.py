"""The Python SDK's BillingClient and MLTrainingClient against `fleetsh serve` (issue 12): the
local fleet bills no one and trains nothing, so usage costs zero, there are no invoices, charges
are refused, and a submitted job stays pending until it is canceled and deleted."""

import os
import tempfile

from grpclib import Status
from viam.proto.app.billing import UsageCostType
from viam.proto.app.mltraining import ModelType, TrainingStatus

from conftest import suffix
from test_app_client import expect_status


async def test_billing_costs_nothing_and_has_no_invoices(viam, org_id, location_id):
    app, billing = viam.app_client, viam.billing_client
    await app.new_robot(f"billed-{suffix()}", location_id)

    usage = await billing.get_current_month_usage(org_id)
    [by_org] = usage.resource_usage_costs_by_source
    costs = by_org.resource_usage_costs
    assert costs.total_with_discount == 0 and costs.total_without_discount == 0
    assert all(c.cost == 0 for c in costs.usage_costs)
    assert UsageCostType.USAGE_COST_TYPE_PER_MACHINE in [c.resource_type for c in costs.usage_costs]
    assert usage.start_date.seconds <= usage.end_date.seconds

    info = await billing.get_org_billing_information(org_id)
    assert info.billing_tier in ("free", "pro", "enterprise") and info.billing_email == ""

    summary = await billing.get_invoices_summary(org_id)
    assert list(summary.invoices) == [] and summary.outstanding_balance == 0
    with tempfile.TemporaryDirectory() as d:
        dest = os.path.join(d, "invoice.pdf")
        await expect_status(Status.NOT_FOUND, billing.get_invoice_pdf("inv-1", org_id, dest), "no invoices")

    await expect_status(Status.FAILED_PRECONDITION, billing.charge_organization(org_id, 10.0, 1.0, description="d"), "charges no one")
    await expect_status(Status.INVALID_ARGUMENT, billing.charge_organization(org_id, -1.0, 0.0), "subtotal")


async def test_training_jobs_are_stored_and_never_train(viam, org_id):
    training = viam.ml_training_client
    name = f"model-{suffix()}"
    dataset_id = await viam.data_client.create_dataset(f"images-{suffix()}", org_id)
    job_id = await training.submit_training_job(
        org_id, dataset_id, name, "1", ModelType.MODEL_TYPE_SINGLE_LABEL_CLASSIFICATION, ["cat", "dog"]
    )
    job = await training.get_training_job(job_id)
    assert job.status == TrainingStatus.TRAINING_STATUS_PENDING
    assert (job.organization_id, job.dataset_id, job.model_name, job.model_version) == (org_id, dataset_id, name, "1")
    assert list(job.tags) == ["cat", "dog"] and not job.is_custom_job
    assert "does not train" in job.error_status.message

    pending = await training.list_training_jobs(org_id, TrainingStatus.TRAINING_STATUS_PENDING)
    assert job_id in [j.id for j in pending]
    await expect_status(Status.FAILED_PRECONDITION, training.delete_completed_training_job(job_id), "cancel it first")

    await training.cancel_training_job(job_id)
    assert (await training.get_training_job(job_id)).status == TrainingStatus.TRAINING_STATUS_CANCELED
    canceled = await training.list_training_jobs(org_id, TrainingStatus.TRAINING_STATUS_CANCELED)
    assert job_id in [j.id for j in canceled]
    assert job_id in [j.id for j in await training.list_training_jobs(org_id)]

    await training.delete_completed_training_job(job_id)
    await expect_status(Status.NOT_FOUND, training.get_training_job(job_id), job_id)
    await expect_status(Status.INVALID_ARGUMENT, training.submit_training_job(org_id, dataset_id, "", "1", ModelType.MODEL_TYPE_OBJECT_DETECTION, []), "model_name")


async def test_a_custom_training_job_names_a_registry_item(viam, org_id):
    app, training = viam.app_client, viam.ml_training_client
    module_id, _ = await app.create_module(org_id, f"trainer{suffix()}")
    dataset_id = await viam.data_client.create_dataset(f"images-{suffix()}", org_id)
    job_id = await training.submit_custom_training_job(org_id, dataset_id, module_id, "1.0.0", "custom", "1")
    job = await training.get_training_job(job_id)
    assert job.is_custom_job and job.registry_item_id == module_id and job.registry_item_version == "1.0.0"
    assert job.status == TrainingStatus.TRAINING_STATUS_PENDING
    await expect_status(
        Status.NOT_FOUND, training.submit_custom_training_job(org_id, dataset_id, "nobody:none", "1.0.0", "custom", "1"), "nobody:none"
    )
    await expect_status(
        Status.NOT_FOUND, training.submit_custom_training_job(org_id, "no-such-dataset", module_id, "1.0.0", "custom", "1"),
        "create the dataset first",
    )


async def test_custom_training_containers_are_records(viam, org_id):
    training = viam.ml_training_client
    uri = f"docker.io/acme/trainer:{suffix()}"
    container_id = await training.register_custom_training_container(org_id, uri, "trainer")
    container = await training.get_container(container_id)
    assert (container.uri, container.description, container.organization_id) == (uri, "trainer", org_id)
    assert container_id in [c.id for c in await training.list_containers(org_id)]
    await training.delete_custom_training_container(container_id)
    await expect_status(Status.NOT_FOUND, training.get_container(container_id), container_id)
