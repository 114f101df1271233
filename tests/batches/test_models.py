from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from batches.errors import PermanentAPIError
from batches.models import Batch, Workspace


@pytest.mark.django_db
def test_the_api_key_is_encrypted_at_rest_and_shown_masked():
    ws = Workspace(name="acme")
    ws.set_api_key("sk-ant-api03-secret-secret-wxyz")
    ws.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted, api_key_hint FROM batches_workspace WHERE id = %s", [ws.pk])
        stored, hint = cursor.fetchone()
    assert "secret" not in stored and hint == "sk-ant-…wxyz"
    assert Workspace.objects.get(pk=ws.pk).credentials.api_key == "sk-ant-api03-secret-secret-wxyz"


@pytest.mark.django_db
def test_a_key_encrypted_under_another_secret_says_so(settings):
    ws = Workspace(name="acme")
    ws.set_api_key("sk-ant-api03-secret-wxyz")
    ws.save()
    settings.SECRET_KEY = "another-secret"
    # Raised as the API refusing a key would be, so every caller records and shows it.
    with pytest.raises(PermanentAPIError, match="enter it again") as excinfo:
        Workspace.objects.get(pk=ws.pk).credentials  # noqa: B018
    assert excinfo.value.error_type == "configuration_error"


def test_progress_and_retention_derive_from_the_api_fields():
    created = timezone.now() - timedelta(days=28)
    b = Batch(processing_status="in_progress", processing_count=3, succeeded_count=1, created_at=created)
    assert b.progress == 0.25 and not b.is_terminal
    assert b.results_available_until == created + timedelta(days=29)
    assert not b.results_expired()
    assert b.results_expired(now=created + timedelta(days=29))


SETTLED_BY = ("results_ingested_at", "results_unavailable_at", "gone_from_api_at")


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["in_progress", "canceling", "ended"])
@pytest.mark.parametrize("settled_by", [None, *SETTLED_BY])
def test_the_derived_states_agree_on_the_model_and_in_queries(status, settled_by):
    ws = Workspace.objects.create(name="acme", api_key_encrypted="x")
    now = timezone.now()
    batch = Batch.objects.create(
        id="msgbatch_1", workspace=ws, processing_status=status, created_at=now, expires_at=now,
        **({settled_by: now} if settled_by else {}),
    )  # fmt: skip
    awaiting = settled_by is None
    assert batch.awaiting_results is awaiting and Batch.objects.awaiting_results().exists() is awaiting
    needs = awaiting and status == "ended"
    assert batch.needs_ingest is needs and Batch.objects.needing_ingest().exists() is needs
    assert Batch.objects.running().exists() is (status != "ended")
    assert batch.cancelable is (status == "in_progress")


def test_a_part_is_in_flight_until_its_batch_is_made_or_it_stops():
    from batches.models import SubmissionPart

    in_flight = {status for status in SubmissionPart.Status.values if SubmissionPart(status=status).in_flight}
    assert in_flight == {"pending", "creating"}
