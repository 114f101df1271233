"""Refresh now: a POST enqueues a sync of the batch; the page shows the outcome when it lands."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from batches.models import Batch, Result
from batches.services import ingest, sync
from config.celery import app


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


@pytest.mark.django_db(transaction=True)
def test_refresh_pressed_during_an_ingest_joins_it_instead_of_downloading_again(
    client, make_user, emulator, make_workspace, eager_tasks
):
    workspace = make_workspace("refresh")
    batch_id = emulator.seed_batch(workspace.test_api_key, 400, status="ended")
    sync.sync_workspace(workspace.pk)
    client.force_login(make_user("ops", "Viewer"))
    emulator.faults.add(op="results", delay=1.5)  # the ingest holds its lease a while
    ingesting = threading.Thread(target=lambda: (ingest.ingest_batch(batch_id), connection.close()))
    ingesting.start()
    while not Batch.objects.filter(pk=batch_id).exclude(ingest_lease_until=None).exists():
        time.sleep(0.02)

    for _ in range(5):
        assert client.post(f"/batches/{batch_id}/refresh/", headers={"HX-Request": "true"}).status_code == 200
    ingesting.join()

    assert emulator.calls["results"] == 1  # one download, however often it was pressed
    assert emulator.calls["retrieve"] == 1  # and one refresh: the other four joined it
    assert Result.objects.filter(batch_id=batch_id).count() == 400


def test_refreshes_of_one_batch_are_asked_at_most_once_per_interval(
    viewer_client, mirrored, eager_tasks, emulator, django_capture_on_commit_callbacks
):
    batch = mirrored["running"]
    emulator.reset_calls()

    def press():
        with django_capture_on_commit_callbacks(execute=True):
            response = viewer_client.post(f"/batches/{batch.id}/refresh/", headers={"HX-Request": "true"})
        assert "Refresh" in response.content.decode()  # each press shows the refresh under way or its answer

    for _ in range(3):
        press()
    assert emulator.calls["retrieve"] == 1
    Batch.objects.filter(pk=batch.pk).update(refresh_requested_at=timezone.now() - timedelta(seconds=11))
    press()
    assert emulator.calls["retrieve"] == 2
