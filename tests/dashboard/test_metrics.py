"""/metrics: Prometheus text computed from the database at scrape time, behind a bearer token."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from batches.models import ApiRequestCount, Batch, NotificationChannel, UsageRollup
from batches.services.notify import events, send
from batches.tasks import sync_workspace

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN


def _scrape() -> dict[tuple[str, tuple], float]:
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_do_not_exist_without_a_token(db, settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_need_the_bearer_token(db, token):
    missing = Client().get("/metrics")
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == "Bearer"
    assert Client().get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 403
    assert Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_batches_and_results_are_counted_per_workspace(token, mirrored):
    samples = _scrape()
    main = ("workspace", "main")
    assert samples["batch_dashboard_batches", (("processing_status", "ended"), main)] == 2
    assert samples["batch_dashboard_batches", (("processing_status", "in_progress"), main)] == 1
    # 120 + 4 succeeded, from the ended batch and the one past the 29 days; from request_counts, not results
    assert samples["batch_dashboard_results_total", (("result_type", "succeeded"), main)] == 124
    assert samples["batch_dashboard_results_total", (("result_type", "errored"), main)] == 4
    assert samples["batch_dashboard_results_total", (("result_type", "expired"), main)] == 1
    assert samples["batch_dashboard_ingest_pending_batches", (main,)] == 0


def test_an_ended_batch_not_yet_ingested_is_ingest_lag(token, mirrored):
    ended = mirrored["ended"]
    Batch.objects.filter(pk=ended.pk).update(results_ingested_at=None, ended_at=timezone.now() - timedelta(minutes=5))
    samples = _scrape()
    assert samples["batch_dashboard_ingest_pending_batches", (("workspace", "main"),)] == 1
    assert 299 < samples["batch_dashboard_ingest_lag_seconds", (("workspace", "main"),)] < 330


def test_sync_freshness_and_failures_per_workspace(token, mirrored, make_workspace):
    broken = make_workspace("broken", known=False)
    sync_workspace.apply(args=(broken.pk,))  # 401: recorded on the workspace
    samples = _scrape()
    assert samples["batch_dashboard_seconds_since_last_sync", (("workspace", "main"),)] < 60
    assert samples["batch_dashboard_seconds_since_last_sync", (("workspace", "broken"),)] == math.inf
    assert samples["batch_dashboard_sync_consecutive_failures", (("workspace", "main"),)] == 0
    assert samples["batch_dashboard_sync_consecutive_failures", (("workspace", "broken"),)] == 1


def test_api_requests_are_counted_by_endpoint_and_status_across_processes(token, workspace, emulator):
    ApiRequestCount.flush()  # what earlier tests left in this process's tally
    ApiRequestCount.objects.all().delete()
    emulator.faults.add(op="list", status=529, times=1)
    sync_workspace.apply(args=(workspace.pk,))  # a real task: its calls are written when it ends
    assert not ApiRequestCount._pending
    samples = _scrape()
    assert samples["batch_dashboard_api_requests_total", (("endpoint", "batches.list"), ("status", "529"))] == 1
    assert samples["batch_dashboard_api_requests_total", (("endpoint", "batches.list"), ("status", "ok"))] == 1
    sync_workspace.apply(args=(workspace.pk,))
    assert _scrape()["batch_dashboard_api_requests_total", (("endpoint", "batches.list"), ("status", "ok"))] == 2


def test_month_to_date_spend_sums_this_utc_months_rollups(token, mirrored):
    today = datetime.now(UTC).date()
    rollups = UsageRollup.objects.filter(workspace=mirrored["workspace"])
    assert rollups.exists()
    rollups.update(day=today)
    this_month = sum(r.cost for r in rollups)
    old = rollups.first()
    UsageRollup.objects.create(
        batch=mirrored["old"], workspace=old.workspace, model=old.model, day=today.replace(day=1) - timedelta(days=1),
        requests=1, input_tokens=0, output_tokens=0, cache_write_5m_tokens=0, cache_write_1h_tokens=0,
        cache_read_tokens=0, cost=Decimal("100"),
    )  # fmt: skip
    value = _scrape()["batch_dashboard_spend_month_to_date_usd", (("workspace", "main"),)]
    assert this_month > 0 and value == pytest.approx(float(this_month))


def test_a_scrape_costs_a_fixed_number_of_queries_and_never_reads_the_results(token, mirrored):
    with CaptureQueriesContext(connection) as queries:
        _scrape()
    # batches grouped, workspaces, mirror refusals, API counts, spend, heartbeats, notification deliveries
    assert len(queries) == 7
    assert not any("batches_result" in q["sql"] for q in queries)


def test_notification_deliveries_are_counted_by_outcome(token, db, make_receiver):
    for name, receiver in (("down", make_receiver(*[500] * 20)), ("up", make_receiver())):
        NotificationChannel.objects.create(name=name, kind="webhook", address=receiver.url)
    for n in (1, 2):
        events.emit("sync.recovered", f"test:{n}", workspace_id=None, data={}, url="http://127.0.0.1:8000/")
    send.send_due()
    send.send_due(now=timezone.now() + timedelta(minutes=5))
    samples = _scrape()
    by = {(dict(labels)["status"]): value for (name, labels), value in samples.items()
          if name == "batch_dashboard_notification_deliveries"}  # fmt: skip
    assert by == {"delivered": 2, "pending": 2}  # the receiver that answers 500 is still being retried
    tries = {dict(labels)["status"]: value for (name, labels), value in samples.items()
             if name == "batch_dashboard_notification_attempts_total"}  # fmt: skip
    assert tries == {"delivered": 2, "pending": 4}
