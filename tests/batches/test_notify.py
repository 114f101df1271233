"""Each event fired by the real state change: the real SDK against the emulator, the real sync and ingest.

Events are rows of the outbox (NotificationEvent); delivering them is tests/batches/test_notify_delivery.py.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from batches.models import Batch, Budget, NotificationEvent, NotifyThresholds, Submission, SubmissionPart
from batches.services import ingest, result_store, submit, sync
from batches.services.notify import checks
from tests.builders import batch_request, jsonl, outcome_request
from tests.threads import at_once


def events(kind: str | None = None) -> list[NotificationEvent]:
    found = NotificationEvent.objects.order_by("occurred_at", "id")
    return list(found.filter(kind=kind) if kind else found)


def ended_keys() -> set[str]:
    return {e.batch_id for e in events("batch.ended")}


@pytest.fixture
def connected(emulator, workspace):
    """A workspace whose first full sync is done (nothing in it yet)."""
    sync.catch_up(workspace.pk)
    workspace.refresh_from_db()
    assert workspace.last_full_sync_at
    return workspace


def run_to_end(emulator, workspace, requests: list[dict], duration: float = 60) -> Batch:
    """A batch the sync sees running, then sees ended and ingests."""
    batch_id = emulator.create_batch(workspace.test_api_key, requests, duration=duration)
    sync.catch_up(workspace.pk)
    assert Batch.objects.get(pk=batch_id).processing_status == "in_progress"
    emulator.advance(duration + 60)
    sync.catch_up(workspace.pk)
    batch = Batch.objects.get(pk=batch_id)
    assert batch.results_ingested_at, "the sync should have ingested it"
    return batch


# --- batch.ended ---------------------------------------------------------------------------------
def test_a_batch_seen_running_announces_its_end_with_counts_errors_cost_duration_and_a_link(
    emulator, connected, settings
):
    settings.DASHBOARD_URL = "https://dash.example.com"
    requests = [batch_request(f"ok-{i}") for i in range(8)] + [
        outcome_request("over-1", "errored:overloaded_error"),
        outcome_request("bad-1", "errored:invalid_request_error"),
        outcome_request("over-2", "errored:overloaded_error"),
        outcome_request("exp-1", "expired"),
    ]
    batch = run_to_end(emulator, connected, requests)

    [event] = events("batch.ended")
    assert event.id.startswith("evt_") and event.batch_id == batch.pk and event.workspace == connected
    data = event.data
    assert data["results"] == "kept"
    assert data["request_counts"] == {"processing": 0, "succeeded": 8, "errored": 3, "canceled": 0, "expired": 1}
    assert data["top_errors"] == [{"error_type": "overloaded_error", "count": 2},
                                  {"error_type": "invalid_request_error", "count": 1}]  # fmt: skip
    assert Decimal(data["cost_usd"]) > 0 and data["unpriced_requests"] == 0
    assert data["duration_seconds"] == int((batch.ended_at - batch.created_at).total_seconds()) > 0
    assert event.url == f"https://dash.example.com/batches/{batch.pk}/"
    assert event.occurred_at == batch.ended_at


def test_connecting_a_workspace_with_history_announces_none_of_it(emulator, workspace):
    key = workspace.test_api_key
    old = emulator.seed_batches(key, 5, status="ended", n_requests=3)
    running = emulator.create_batch(key, [batch_request("r-1")], duration=120)

    sync.catch_up(workspace.pk)  # the first full sync: the history is mirrored and ingested

    assert Batch.objects.filter(pk__in=old).exclude(results_ingested_at=None).count() == 5
    assert events("batch.ended") == []
    # What happens after that is news: the batch seen running ends, and one made and ended between two passes.
    quick = emulator.create_batch(key, [batch_request("q-1")], duration=10)
    emulator.advance(180)
    sync.catch_up(workspace.pk)
    assert ended_keys() == {running, quick}


@pytest.mark.django_db(transaction=True)
def test_repeated_syncs_and_two_ingests_at_once_write_batch_ended_once(emulator, connected):
    batch_id = emulator.create_batch(connected.test_api_key, [batch_request(f"i-{i}") for i in range(30)], duration=30)
    sync.catch_up(connected.pk)
    emulator.advance(90)
    sync.sync_workspace(connected.pk)

    at_once(2, lambda: ingest.ingest_batch(batch_id, force=True))
    sync.catch_up(connected.pk)
    result_store.finish(Batch.objects.get(pk=batch_id))  # finishing again, as a second worker could

    assert [e.batch_id for e in events("batch.ended")] == [batch_id]


def test_a_batch_whose_results_are_past_the_29_days_ends_as_unavailable(emulator, connected):
    month_ago = emulator.now() - timedelta(days=30)
    old = emulator.seed_batch(
        connected.test_api_key, 4, status="ended", created_at=month_ago, outcomes={"succeeded": 1.0}
    )

    sync.catch_up(connected.pk)  # first seen after the first full sync: its end is news, results or not

    [event] = events("batch.ended")
    assert event.batch_id == old and event.data["results"] == "unavailable"
    assert event.data["request_counts"]["succeeded"] == 4 and event.data["cost_usd"] is None


def test_a_batch_deleted_in_the_api_before_its_results_were_kept_ends_as_gone(emulator, connected, settings):
    settings.SYNC_NOT_FOUND_GRACE_SECONDS = 0
    batch_id = emulator.create_batch(connected.test_api_key, [batch_request("g-1")], duration=30)
    sync.sync_workspace(connected.pk)
    emulator.advance(90)
    emulator.delete_batch(batch_id)  # ended and deleted between two passes

    sync.sync_workspace(connected.pk, full=True)

    assert Batch.objects.get(pk=batch_id).gone_from_api_at
    [event] = events("batch.ended")
    assert event.batch_id == batch_id and event.data["results"] == "gone"


# --- batch.errors_high ---------------------------------------------------------------------------
def test_errors_high_fires_when_the_errored_share_is_over_the_threshold(emulator, connected):
    noisy = run_to_end(emulator, connected, [batch_request(f"ok-{i}") for i in range(8)] + [
        outcome_request(f"e-{i}", "errored:overloaded_error") for i in range(2)])  # fmt: skip
    run_to_end(emulator, connected, [batch_request(f"ok-{i}") for i in range(10)])
    at_threshold = run_to_end(emulator, connected, [batch_request(f"ok-{i}") for i in range(9)] + [
        outcome_request("e-1", "errored:overloaded_error")])  # fmt: skip

    [event] = events("batch.errors_high")
    assert event.batch_id == noisy.pk and event.data["errored_share"] == "0.2000"
    assert event.data["threshold"] == "0.1"
    assert at_threshold.pk not in {e.batch_id for e in events("batch.errors_high")}  # 10% is not over 10%


def test_an_admin_raised_threshold_keeps_errors_high_quiet(emulator, connected):
    NotifyThresholds.objects.create(pk=1, errors_high_share=Decimal("0.5"))
    run_to_end(emulator, connected, [batch_request(f"ok-{i}") for i in range(7)] + [
        outcome_request(f"e-{i}", "errored:overloaded_error") for i in range(3)])  # fmt: skip
    assert events("batch.errors_high") == [] and len(events("batch.ended")) == 1


# --- the periodic checks ---------------------------------------------------------------------------
def test_a_batch_still_in_progress_3_hours_before_it_expires_is_announced_once(emulator, connected):
    batch_id = emulator.create_batch(connected.test_api_key, [batch_request("slow")], duration=86_000)
    sync.catch_up(connected.pk)
    batch = Batch.objects.get(pk=batch_id)

    assert checks.run(now=batch.expires_at - timedelta(hours=4)).expiring == 0
    assert checks.run(now=batch.expires_at - timedelta(hours=2, minutes=59)).expiring == 1
    assert checks.run(now=batch.expires_at - timedelta(hours=2)).expiring == 0  # run again: nothing new

    [event] = events("batch.expiring")
    assert event.batch_id == batch_id and event.data["expires_at"] == batch.expires_at.isoformat()


def test_results_not_kept_near_the_29_day_limit_are_at_risk_once(emulator, connected, settings):
    settings.INGEST_STREAM_ATTEMPTS = 1
    created = emulator.now() - timedelta(days=26, hours=12)
    batch_id = emulator.seed_batch(connected.test_api_key, 3, status="ended", created_at=created)
    emulator.faults.add(op="results", status=500, times=-1)  # every ingest fails
    sync.catch_up(connected.pk)
    batch = Batch.objects.get(pk=batch_id)
    assert batch.ingest_failures and not batch.results_ingested_at

    assert checks.run().at_risk == 1
    assert checks.run().at_risk == 0
    [event] = events("results.at_risk")
    assert event.batch_id == batch_id and event.data["ingest_error_type"]
    assert event.data["results_available_until"] == batch.results_available_until.isoformat()


def test_results_being_ingested_for_the_first_time_are_not_at_risk_yet(emulator, connected):
    emulator.seed_batch(connected.test_api_key, 3, status="ended", created_at=emulator.now() - timedelta(days=27))
    sync.sync_workspace(connected.pk)  # mirrored; its first ingest has not run yet
    assert checks.run().at_risk == 0


# --- sync.failing and sync.recovered ------------------------------------------------------------
def test_a_workspace_failing_for_more_than_5_minutes_is_announced_once_and_its_recovery_too(emulator, connected):
    emulator.faults.add(op="list", status=401, times=-1)
    sync.catch_up(connected.pk)
    connected.refresh_from_db()
    since = connected.failing_since
    assert since and events("sync.failing") == []  # failing, but not for 5 minutes yet

    assert checks.run(now=since + timedelta(minutes=4)).sync_failing == 0
    assert checks.run(now=since + timedelta(minutes=6)).sync_failing == 1
    sync.catch_up(connected.pk)  # still failing: the same episode, nothing new
    assert checks.run(now=since + timedelta(minutes=7)).sync_failing == 0

    emulator.faults.clear()
    sync.catch_up(connected.pk)
    sync.catch_up(connected.pk)

    [failing], [recovered] = events("sync.failing"), events("sync.recovered")
    assert failing.data["failing_since"] == since.isoformat() and failing.data["error_type"] == "authentication_error"
    assert recovered.data["failing_since"] == since.isoformat()


def test_the_sync_itself_announces_a_failure_that_has_lasted(emulator, connected):
    NotifyThresholds.objects.create(pk=1, sync_failing_minutes=0)
    emulator.faults.add(op="list", status=401, times=-1)
    sync.catch_up(connected.pk)
    sync.catch_up(connected.pk)  # the second failure: failing since the first, for longer than 0 minutes
    sync.catch_up(connected.pk)
    assert len(events("sync.failing")) == 1


def test_a_blip_shorter_than_the_threshold_announces_neither_failing_nor_recovered(emulator, connected):
    emulator.faults.add(op="list", status=500, should_retry=False)
    sync.catch_up(connected.pk)
    connected.refresh_from_db()
    assert connected.is_failing
    sync.catch_up(connected.pk)
    checks.run()
    assert events() == []


def test_a_new_failing_episode_is_announced_again(emulator, connected):
    NotifyThresholds.objects.create(pk=1, sync_failing_minutes=0)
    for _ in range(2):
        emulator.faults.add(op="list", status=401, times=2)
        sync.catch_up(connected.pk)
        sync.catch_up(connected.pk)
        sync.catch_up(connected.pk)  # recovers
    assert len(events("sync.failing")) == 2 and len(events("sync.recovered")) == 2


# --- submission.failed -----------------------------------------------------------------------------
def test_a_part_the_api_refuses_is_announced(emulator, connected, operator_client):
    emulator.faults.add(op="create", status=400, error_type="invalid_request_error", message="nope")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("a.jsonl", jsonl([batch_request("a")]))
    response = operator_client.post("/submit/", {"workspace": connected.name, "label": "nightly", "file": upload})
    assert response.status_code == 302
    submission = Submission.objects.get()
    submit.confirm(submission, submission.created_by)  # an upload is a draft until an Operator sends it
    submit.submit(submission.pk)  # what the worker runs

    assert submission.parts.get().status == SubmissionPart.Status.FAILED
    [event] = events("submission.failed")
    assert event.data["submission"] == submission.pk and event.data["label"] == "nightly"
    assert "nope" in event.data["error"] and event.url.endswith(f"/submissions/{submission.pk}/")


# --- budgets -------------------------------------------------------------------------------------------
def test_budgets_crossing_80_and_100_percent_fire_one_event_each_per_month(emulator, connected):
    first = run_to_end(emulator, connected, [batch_request(f"a-{i}") for i in range(20)])
    cost = Decimal(events("batch.ended")[0].data["cost_usd"])
    # The first batch's cost is 85% of the budget; the second takes the month over it.
    Budget.objects.create(workspace=connected, monthly_amount=(cost / Decimal("0.85")).quantize(Decimal("0.0001")))
    assert checks.run().budgets == 1
    assert checks.run().budgets == 0
    assert [e.kind for e in events() if e.kind.startswith("budget.")] == ["budget.warning"]

    run_to_end(emulator, connected, [batch_request(f"b-{i}") for i in range(20)])  # the ingest itself fires it
    checks.run()
    checks.run()

    warning, exceeded = events("budget.warning"), events("budget.exceeded")
    assert len(warning) == len(exceeded) == 1
    month = f"{timezone.now():%Y-%m}"
    assert exceeded[0].dedupe_key == f"budget.exceeded:{connected.pk}:{month}" and exceeded[0].data["month"] == month
    assert Decimal(exceeded[0].data["used"]) > 1 and first.pk
    # Next month starts from nothing spent: no event until it is crossed again.
    assert checks.run(now=timezone.now() + timedelta(days=32)).budgets == 0
