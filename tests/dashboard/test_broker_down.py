"""With the broker down, actions say so instead of failing, pages render, and kept work runs once it is back.

The broker is a redis-server of this test's own, stopped and started again on the same port.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches import tasks
from batches.models import AuditEvent, Batch, Submission
from batches.services.actions import NOT_QUEUED as CANCEL_NOT_QUEUED
from config.celery import app as celery_app
from dashboard.outcomes import REFRESH_UNREACHABLE, WORKER_UNREACHABLE
from tests.builders import batch_request, jsonl
from tests.processes import celery, free_port, worker_env

pytestmark = pytest.mark.django_db(transaction=True)  # enqueue runs as each request commits, as in production

ROOT = Path(__file__).resolve().parents[2]


class Broker:
    """A redis-server of the test's own as the broker, stopped and started again on purpose."""

    def __init__(self, processes) -> None:
        self.processes, self.server = processes, None
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.server, _ = self.processes.redis(port=self.port)

    def stop(self) -> None:
        if self.server:
            self.server.stop(timeout=10)
        _fresh_connections()  # a pooled connection would otherwise fail on first use, then reconnect


def _fresh_connections() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(processes, monkeypatch):
    broker = Broker(processes)
    broker.start()
    monkeypatch.setitem(celery_app.conf, "broker_url", broker.url)
    monkeypatch.setitem(celery_app.conf, "broker_transport", None)  # the URL's own, not the embedded broker's
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {"socket_connect_timeout": 2})
    monkeypatch.setenv("CELERY_BROKER_URL", broker.url)
    _fresh_connections()
    yield broker
    broker.stop()


def _said(response) -> str:
    return response.content.decode()


def _timed_post(client, url: str, data: dict, **kwargs):
    started = time.monotonic()
    response = client.post(url, data, follow=True, **kwargs)
    assert time.monotonic() - started < 5  # the broker's absence is noticed quickly, not after the TCP timeout
    assert response.status_code == 200
    return response


def test_the_pages_render_with_the_broker_down(operator_client, mirrored, broker):
    broker.stop()
    for url in ("/", f"/batches/{mirrored['running'].id}/", f"/batches/{mirrored['ended'].id}/", "/health/",
                "/submit/", "/errors/", "/notifications/"):  # fmt: skip
        assert operator_client.get(url).status_code == 200, url
    poll = operator_client.get("/", headers={"HX-Request": "true", "HX-Target": "batch-rows"})
    assert poll.status_code == 200 and mirrored["running"].id in _said(poll)


def test_refresh_says_the_worker_is_unreachable(operator_client, mirrored, broker):
    broker.stop()
    url = f"/batches/{mirrored['running'].id}/refresh/"
    page = _timed_post(operator_client, url, {})
    said = _said(page)
    assert REFRESH_UNREACHABLE in said and "when it is back" not in said  # nothing was kept to run later


def test_an_htmx_refresh_says_the_worker_is_unreachable(operator_client, mirrored, broker):
    broker.stop()
    # A refresh asked a moment ago is joined rather than queued again: this one is the first.
    fragment = operator_client.post(f"/batches/{mirrored['ended'].id}/refresh/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and REFRESH_UNREACHABLE in _said(fragment)
    assert "when it is back" not in _said(fragment)


def test_a_cancel_says_try_again_and_cancels_nothing(operator_client, mirrored, broker, emulator):
    # The worker makes the API call (a page never does), so with the broker down nothing can be canceled.
    broker.stop()
    page = _timed_post(operator_client, f"/batches/{mirrored['running'].id}/cancel/", {"confirmed": "yes"})
    assert CANCEL_NOT_QUEUED in _said(page)
    batch = Batch.objects.get(pk=mirrored["running"].pk)
    assert batch.processing_status == "in_progress" and batch.cancel_requested_at is None  # not "canceling…"
    assert emulator.calls.get("cancel", 0) == 0


def test_a_bulk_cancel_says_try_again_and_cancels_nothing(operator_client, mirrored, broker, emulator):
    broker.stop()
    data = {"action": "cancel", "batch": mirrored["running"].id, "confirmed": "yes"}
    page = _timed_post(operator_client, "/batches/bulk/", data)
    assert CANCEL_NOT_QUEUED in _said(page)
    assert emulator.calls["cancel"] == 0 and Batch.objects.get(pk=mirrored["running"].pk).processing_status != (
        "canceling"
    )
    assert not AuditEvent.objects.filter(action="cancel").exists()  # the log does not claim what did not happen


# --- the work is kept, and done exactly once when the broker is back ------------------------------------
@pytest.fixture
def start_worker(tmp_path, broker, processes):
    env = worker_env(tmp_path, CELERY_BROKER_URL=broker.url)

    def start() -> Path:
        command = celery("worker", "--pool=solo", "--loglevel=INFO", "--queues=celery", "--hostname=down@%h")
        return processes.start(f"worker-{len(processes.started)}", command, env=env).log

    return start


def test_a_send_while_the_broker_is_down_is_kept_and_sent_once_when_it_is_back(
    operator_client, workspace, emulator, broker, start_worker
):
    broker.stop()
    upload = SimpleUploadedFile("r.jsonl", jsonl([batch_request(f"item-{i}") for i in range(3)]))
    page = _timed_post(operator_client, "/submit/", {"workspace": workspace.name, "label": "nightly", "file": upload})
    assert "The worker is unreachable right now: no estimate could be made" in _said(page)
    submission = Submission.objects.get()
    page = _timed_post(operator_client, f"/submissions/{submission.pk}/send/", {})
    assert f"3 requests queued for submission. {WORKER_UNREACHABLE}" in _said(page)
    assert emulator.calls["create"] == 0

    broker.start()
    # The beat's sweep, twice (a tick while the first one's task still waits): the send happens once.
    tasks.resume_submissions()
    tasks.resume_submissions()
    log_path = start_worker()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _done(log_path, "submit_batches") < 2:  # both tasks have run
        time.sleep(0.3)
    assert emulator.calls["create"] == 1, log_path.read_text()[-3000:]
    part = submission.parts.get()
    assert part.status == "created" and Batch.objects.filter(pk=part.batch_id, label="nightly").exists()


def _done(log_path: Path, task: str) -> int:
    return sum(f"batches.tasks.{task}[" in line and " succeeded " in line for line in log_path.read_text().splitlines())
