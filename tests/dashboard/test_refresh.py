"""Refresh now: a POST enqueues a sync of the batch; the page shows the outcome when it lands."""

from datetime import timedelta

import pytest
from django.utils import timezone

from batches.models import Batch
from dashboard.celery import app


@pytest.fixture
def eager_tasks():
    """Run tasks in-process: these tests are about the page; the worker has its own test."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_refresh_enqueues_and_shows_the_result_when_it_lands(
    viewer_client, mirrored, emulator, eager_tasks, django_capture_on_commit_callbacks
):
    batch = mirrored["running"]
    emulator.advance(3600)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = viewer_client.post(f"/batches/{batch.id}/refresh/", headers={"HX-Request": "true"})
    # Enqueued after the request's transaction, not before; then the refresh queued the ended batch's ingest.
    assert len(callbacks) == 2
    assert response.status_code == 200
    batch.refresh_from_db()
    assert batch.processing_status == "ended" and batch.results_ingested_at
    # The poll of the status span reports it.
    since = (timezone.now() - timedelta(seconds=30)).isoformat()
    poll = viewer_client.get(f"/batches/{batch.id}/refresh/", {"since": since}).content.decode()
    assert "Refreshed" in poll and "Ended" in poll and "hx-trigger" not in poll


def test_refresh_keeps_polling_until_the_worker_has_run(viewer_client, mirrored):
    batch = mirrored["running"]
    since = (timezone.now() + timedelta(seconds=1)).isoformat()
    poll = viewer_client.get(f"/batches/{batch.id}/refresh/", {"since": since}).content.decode()
    assert "Refresh queued" in poll and 'hx-trigger="every 1s"' in poll


def test_refresh_gives_up_saying_why_after_a_minute(viewer_client, mirrored):
    batch = mirrored["running"]
    Batch.objects.filter(pk=batch.pk).update(refreshed_at=timezone.now() - timedelta(minutes=5))
    since = (timezone.now() - timedelta(minutes=2)).isoformat()
    poll = viewer_client.get(f"/batches/{batch.id}/refresh/", {"since": since}).content.decode()
    assert "No answer from the worker" in poll and "hx-trigger" not in poll


def test_refresh_without_javascript_redirects_with_a_message(viewer_client, mirrored, eager_tasks):
    response = viewer_client.post(f"/batches/{mirrored['running'].id}/refresh/", follow=True)
    assert response.redirect_chain[-1][0] == f"/batches/{mirrored['running'].id}/"
    assert "Refresh queued" in response.content.decode()
