"""Sync against the emulator over real HTTP, through the official SDK."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from batches.errors import PermanentAPIError, RetryableAPIError
from batches.models import Batch, Result, Workspace
from batches.services import ingest, sync
from tests.builders import batch_request


def test_first_sync_mirrors_every_batch_with_every_field(emulator, workspace):
    # Older than 29 days: mirrored, not ingested, so the test times paging rather than ingest.
    month_ago = emulator.now() - timedelta(days=40)
    ids = emulator.seed_batches(workspace.test_api_key, 1200, status="ended", n_requests=3, created_at=month_ago)
    running = emulator.seed_batch(workspace.test_api_key, 7, status="in_progress")

    report = sync.sync_workspace(workspace.pk)

    assert report.full and report.new == 1201
    assert Batch.objects.filter(workspace=workspace).count() == 1201
    # The first pass pages through the whole history at the API's maximum page size.
    assert emulator.calls["list"] == 2
    b = Batch.objects.get(pk=running)
    assert (b.processing_status, b.processing_count, b.succeeded_count) == ("in_progress", 7, 0)
    assert b.expires_at - b.created_at == timedelta(hours=24)
    assert b.results_available_until == b.created_at + timedelta(days=29)
    ended = Batch.objects.get(pk=ids[0])
    assert ended.is_terminal and ended.ended_at and ended.results_url.endswith(f"/{ids[0]}/results")
    assert ended.request_total == 3


def test_steady_state_pass_costs_one_list_and_one_retrieve_per_running_batch(emulator, workspace):
    key = workspace.test_api_key
    two_hours_ago = emulator.now() - timedelta(hours=2)
    running = [
        emulator.seed_batch(key, 5, status="in_progress", created_at=two_hours_ago, duration=86000) for _ in range(3)
    ]
    emulator.seed_batches(key, 101, status="ended", n_requests=2)  # newer: they fill the first page
    sync.sync_workspace(workspace.pk)
    emulator.reset_calls()

    report = sync.sync_workspace(workspace.pk)

    assert not report.full
    assert emulator.calls.get("list", 0) == 1
    assert emulator.calls.get("retrieve", 0) == len(running)
    assert emulator.calls.get("results", 0) == 0  # ended batches were ingested once, not again


def test_a_new_batch_appears_on_the_next_pass(emulator, workspace):
    emulator.seed_batches(workspace.test_api_key, 150, status="ended", n_requests=1)
    sync.sync_workspace(workspace.pk)
    new_id = emulator.seed_batch(workspace.test_api_key, 4, status="in_progress")

    report = sync.sync_workspace(workspace.pk)

    assert report.new == 1
    assert Batch.objects.get(pk=new_id).processing_status == "in_progress"


def test_a_batch_that_ends_has_its_results_ingested(emulator, workspace):
    requests = [batch_request(f"item-{i}") for i in range(40)]
    requests[3] = batch_request("item-3", "[emulate:errored:overloaded_error]")
    requests[4] = batch_request("item-4", "[emulate:errored:invalid_request_error]")
    batch_id = emulator.create_batch(workspace.test_api_key, requests, duration=60)
    sync.sync_workspace(workspace.pk)
    assert Batch.objects.get(pk=batch_id).processing_status == "in_progress"
    assert not Result.objects.exists()

    emulator.advance(120)
    sync.sync_workspace(workspace.pk)
    assert Batch.objects.get(pk=batch_id).processing_status == "ended" and not Result.objects.exists()
    assert ingest.claim_due(workspace.pk) == [batch_id]  # the pass mirrors; the ingest is its own task

    assert ingest.ingest_batch(batch_id).complete

    batch = Batch.objects.get(pk=batch_id)
    assert batch.processing_status == "ended" and batch.results_ingested_at
    assert batch.items_ingested == batch.request_total == 40
    assert batch.errored_count == 2
    overloaded = Result.objects.get(batch=batch, custom_id="item-3")
    assert (overloaded.result_type, overloaded.error_type) == ("errored", "overloaded_error")
    assert overloaded.error_message and overloaded.request_id.startswith("req_")
    ok = Result.objects.get(batch=batch, custom_id="item-0")
    assert ok.result_type == "succeeded" and ok.output_tokens > 0 and ok.service_tier == "batch"
    assert '"custom_id":"item-0"' in ok.raw_line().replace(" ", "")


def test_running_sync_twice_leaves_exactly_the_same_rows(emulator, workspace):
    emulator.seed_batches(workspace.test_api_key, 3, status="ended", n_requests=120)
    sync.catch_up(workspace.pk)
    before = sorted(Result.objects.values_list("batch_id", "custom_id", "result_type", "output_tokens"))

    sync.catch_up(workspace.pk, full=True)

    after = sorted(Result.objects.values_list("batch_id", "custom_id", "result_type", "output_tokens"))
    assert before == after and len(after) == 360


def test_a_pass_that_finds_nothing_new_leaves_the_pages_unchanged(emulator, workspace):
    """Open tabs poll with the workspace's version in their ETag: a pass that only re-reads what the mirror holds must
    not move it (each move makes every tab render again), and one that finds a change must."""
    emulator.seed_batches(workspace.test_api_key, 3, status="ended", n_requests=2)
    running = emulator.seed_batch(workspace.test_api_key, 2, status="in_progress")
    sync.sync_workspace(workspace.pk, full=True)
    version = Workspace.objects.get(pk=workspace.pk).data_version

    sync.sync_workspace(workspace.pk, full=True)  # the same answers: every batch listed, the running one retrieved
    assert Workspace.objects.get(pk=workspace.pk).data_version == version

    emulator.advance(3600)  # the running batch ends
    sync.sync_workspace(workspace.pk, full=True)
    assert Workspace.objects.get(pk=workspace.pk).data_version > version
    assert Batch.objects.get(pk=running).processing_status == "ended"


def test_a_full_pass_marks_batches_deleted_from_the_api(emulator, workspace):
    old = timezone.now() - timedelta(days=2)
    ids = emulator.seed_batches(workspace.test_api_key, 3, status="ended", n_requests=1, created_at=old)
    sync.sync_workspace(workspace.pk)
    emulator.delete_batch(ids[1])

    sync.sync_workspace(workspace.pk)  # incremental: deletions are not looked for
    assert Batch.objects.get(pk=ids[1]).gone_from_api_at is None
    report = sync.sync_workspace(workspace.pk, full=True)

    assert report.gone == 1
    assert Batch.objects.get(pk=ids[1]).gone_from_api_at is not None
    assert Batch.objects.get(pk=ids[0]).gone_from_api_at is None


def test_a_404_right_after_creation_is_transient_but_later_means_gone(emulator, workspace):
    young = _known_batch(workspace, "msgbatch_young", timezone.now() - timedelta(seconds=10))
    old = _known_batch(workspace, "msgbatch_old", timezone.now() - timedelta(hours=2))

    sync.sync_workspace(workspace.pk)

    young.refresh_from_db()
    old.refresh_from_db()
    assert young.gone_from_api_at is None
    assert old.gone_from_api_at is not None
    assert Workspace.objects.get(pk=workspace.pk).consecutive_failures == 0


def test_results_past_the_29_day_window_are_marked_unavailable_not_retried(emulator, workspace):
    created = timezone.now() - timedelta(days=30)
    batch_id = emulator.seed_batch(workspace.test_api_key, 5, status="ended", created_at=created)

    sync.catch_up(workspace.pk)
    sync.catch_up(workspace.pk)

    batch = Batch.objects.get(pk=batch_id)
    assert batch.results_unavailable_at is not None
    assert "29 days" in batch.results_unavailable_reason
    assert emulator.calls.get("results", 0) == 0
    assert not Result.objects.filter(batch=batch).exists()


def test_a_batch_whose_ingest_fails_does_not_hold_back_the_others(emulator, workspace):
    key = workspace.test_api_key
    older = emulator.seed_batch(key, 4, status="ended", created_at=emulator.now() - timedelta(hours=3))
    newer = emulator.seed_batch(key, 6, status="ended", created_at=emulator.now() - timedelta(hours=2))
    # The first download (the older batch's, ingested first) is refused for a reason of its own.
    emulator.faults.add(op="results", status=400, error_type="invalid_request_error", message="bad id", times=1)

    report = sync.catch_up(workspace.pk)

    assert report.failed == [older] and report.ingested == [newer]
    assert Result.objects.filter(batch_id=newer).count() == 6
    assert "bad id" in Batch.objects.get(pk=older).ingest_error
    workspace.refresh_from_db()
    assert not workspace.is_failing and workspace.last_full_sync_at is not None

    report = sync.catch_up(workspace.pk)  # asked again in the foreground, it tries again at once

    assert report.ingested == [older] and Result.objects.filter(batch_id=older).count() == 4


def test_a_wrong_key_is_recorded_and_other_workspaces_still_sync(emulator, make_workspace):
    good = make_workspace("good")
    bad = make_workspace("bad", known=False)
    emulator.seed_batches(good.test_api_key, 2, status="ended", n_requests=1)

    with pytest.raises(PermanentAPIError):
        sync.sync_workspace(bad.pk)
    sync.sync_workspace(good.pk)

    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.last_error_type == "authentication_error" and bad.consecutive_failures == 1
    assert bad.failing_since is not None and bad.last_synced_at is None
    assert good.last_synced_at is not None and not good.is_failing
    assert Batch.objects.filter(workspace=good).count() == 2


def test_a_short_429_is_waited_out_and_the_pass_succeeds(emulator, workspace):
    emulator.seed_batches(workspace.test_api_key, 2, status="ended", n_requests=1)
    emulator.faults.add(op="list", status=429, retry_after=1, times=1)

    sync.sync_workspace(workspace.pk)

    workspace.refresh_from_db()
    assert workspace.last_synced_at and not workspace.is_failing
    assert emulator.calls["list"] == 2


def test_a_long_429_is_recorded_and_the_workspace_waits_for_retry_after(emulator, workspace):
    emulator.faults.add(op="list", status=429, retry_after=120, times=1)

    with pytest.raises(RetryableAPIError):
        sync.sync_workspace(workspace.pk)
    report = sync.sync_workspace(workspace.pk)

    workspace.refresh_from_db()
    assert workspace.last_error_type == "rate_limit_error"
    assert workspace.sync_not_before > timezone.now() + timedelta(seconds=100)
    assert report.skipped.startswith("rate limited")
    assert emulator.calls["list"] == 1


@pytest.mark.parametrize(("status", "error_type"), [(529, "overloaded_error"), (500, "api_error")])
def test_server_errors_are_retried_then_recorded(emulator, workspace, status, error_type):
    emulator.faults.add(op="list", status=status, times=10)

    with pytest.raises(RetryableAPIError):
        sync.sync_workspace(workspace.pk)

    workspace.refresh_from_db()
    assert workspace.last_error_type == error_type
    assert emulator.calls["list"] == 3  # one call and two retries


def test_a_slow_api_is_recorded_as_a_timeout(emulator, workspace, settings):
    settings.ANTHROPIC_TIMEOUT_SECONDS = 0.3
    settings.ANTHROPIC_MAX_RETRIES = 0
    emulator.faults.add(op="list", delay=2, times=1)

    with pytest.raises(RetryableAPIError):
        sync.sync_workspace(workspace.pk)

    workspace.refresh_from_db()
    assert workspace.last_error_type == "timeout"


def test_recovery_clears_the_failure(emulator, workspace):
    emulator.faults.add(op="list", status=529, times=3)
    with pytest.raises(RetryableAPIError):
        sync.sync_workspace(workspace.pk)

    sync.sync_workspace(workspace.pk)

    workspace.refresh_from_db()
    assert not workspace.is_failing and workspace.failing_since is None and workspace.last_error_type == ""


def _known_batch(workspace, batch_id, created_at) -> Batch:
    return Batch.objects.create(
        id=batch_id, workspace=workspace, processing_status="in_progress", processing_count=1,
        created_at=created_at, expires_at=created_at + timedelta(hours=24),
    )  # fmt: skip


def _storm(emulator, share: float = 0.45) -> None:
    """`share` of every call answers 429, 529 or 500, a third each (seeded: the same storm every run)."""
    third, struck = share / 3, 0.0
    for status, seed in ((429, 1), (529, 2), (500, 3)):
        extra = {"retry_after_ms": 20} if status == 429 else {}
        emulator.faults.add(op="*", status=status, times=-1, probability=third / (1 - struck), seed=seed, **extra)
        struck += third


def test_a_45_percent_storm_converges_within_a_few_passes_without_duplicates(emulator, workspace, settings):
    settings.INGEST_BACKOFF_SECONDS = 0  # each pass may try a failed batch again (the back-off has its own test)
    settings.INGEST_RESUME_WAIT_SECONDS = 0.01
    settings.ANTHROPIC_MAX_RETRY_WAIT_SECONDS = 0.05
    ids = emulator.seed_batches(workspace.test_api_key, 250, status="ended", n_requests=4)
    _storm(emulator)

    passes = 0
    while Batch.objects.exclude(results_ingested_at=None).count() < 250 and passes < 6:
        passes += 1
        try:  # what the beat does each tick: the metadata pass, then every ingest that is due
            sync.sync_workspace(workspace.pk)
        except RetryableAPIError:
            pass  # recorded on the workspace; the ingests of batches already known go on
        for batch_id in ingest.claim_due(workspace.pk):
            ingest.ingest_batch(batch_id)

    assert passes <= 3, f"{Batch.objects.filter(results_ingested_at=None).count()} of 250 left after {passes}"
    assert set(Batch.objects.values_list("id", flat=True)) == set(ids)
    assert Result.objects.count() == Result.objects.values("batch_id", "custom_id").distinct().count() == 250 * 4


@pytest.fixture
def html_server():
    """A base URL that answers 200 with an HTML page to everything: a captive portal, a proxy's page."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Portal(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>Please log in to the hotel Wi-Fi</body></html>")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_200_that_is_not_json_is_recorded_shown_and_announced(html_server, db):
    from batches.models import NotificationEvent, NotifyThresholds

    workspace = Workspace(name="portal", base_url=html_server)
    workspace.set_api_key("sk-ant-api03-portal-abcd")
    workspace.save()
    NotifyThresholds.objects.create(pk=1, sync_failing_minutes=0)

    report = sync.sync_workspace(workspace.pk)  # not an exception in a log: a recorded failure

    workspace.refresh_from_db()
    assert report.error and workspace.is_failing and workspace.failing_since is not None
    assert workspace.last_error_type == "unexpected_response" and workspace.last_synced_at is None
    assert workspace.sync_lease_token == ""
    Workspace.objects.filter(pk=workspace.pk).update(failing_since=timezone.now() - timedelta(minutes=1))
    sync.sync_workspace(workspace.pk)
    assert NotificationEvent.objects.filter(kind="sync.failing", workspace_id=workspace.pk).count() == 1


@pytest.fixture
def nul_server():
    """A base URL whose every answer is an API error whose text holds a NUL (escaped, as JSON carries it)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"type": "error", "error": {"type": "invalid_request_error", "message": "bad\\u0000x"}}')

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_api_error_whose_text_holds_a_nul_is_still_recorded_and_announced(nul_server, db):
    # PostgreSQL text and JSON refuse NUL: the failure's own bookkeeping failed, and nothing was recorded.
    from batches.models import NotificationEvent, NotifyThresholds

    workspace = Workspace(name="hostile", base_url=nul_server)
    workspace.set_api_key("sk-ant-api03-hostile-abcd")
    workspace.save()
    NotifyThresholds.objects.create(pk=1, sync_failing_minutes=0)
    Workspace.objects.filter(pk=workspace.pk).update(failing_since=timezone.now() - timedelta(minutes=1))

    with pytest.raises(PermanentAPIError):  # recorded, then raised for the task's log
        sync.sync_workspace(workspace.pk)

    workspace.refresh_from_db()
    assert workspace.is_failing and workspace.last_error_message == "bad\ufffdx"
    assert NotificationEvent.objects.filter(kind="sync.failing", workspace_id=workspace.pk).count() == 1
