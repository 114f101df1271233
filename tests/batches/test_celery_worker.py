"""A real Celery worker with beat syncs and ingests on its own.

Against Redis when REDIS_URL is set (as CI's second run does), else kombu's filesystem broker.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from batches.models import Batch, Result, Workspace
from tests.builders import batch_request
from tests.processes import celery, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def start_worker(tmp_path, processes):
    """Start real worker processes: `start_worker(name, queues, beat=...)` returns its log's path."""
    env = worker_env(tmp_path, SYNC_INTERVAL_SECONDS="1", NOTIFY_SEND_INTERVAL_SECONDS="1",
                     NOTIFY_RETRY_BASE_SECONDS="1")  # fmt: skip

    def start(name: str = "all", queues: str = "celery,ingest", *, beat: bool = True) -> Path:
        command = celery("worker", "--pool=solo", "--loglevel=INFO", f"--hostname={name}@%h", f"--queues={queues}")
        if beat:
            command += ["--beat", f"--schedule={tmp_path / 'beat-schedule'}"]
        return processes.start(name, command, env=env).log

    return start


@pytest.fixture
def worker(start_worker):
    return start_worker()


def _wait_for(predicate, timeout: float, log_path: Path) -> None:
    wait_for(predicate, timeout, lambda: f"worker log:\n{log_path.read_text()[-4000:]}")


def test_beat_and_worker_mirror_batches_and_ingest_results(emulator, make_workspace, worker):
    log_path = worker
    workspace = make_workspace("celery")
    ended = emulator.seed_batches(workspace.test_api_key, 2, status="ended", n_requests=75)
    running = emulator.create_batch(
        workspace.test_api_key,
        [batch_request(f"r-{i}") for i in range(10)],
        duration=60,
    )  # fmt: skip

    _wait_for(lambda: Result.objects.filter(batch_id__in=ended).count() == 150, 60, log_path)
    assert Batch.objects.get(pk=running).processing_status == "in_progress"

    emulator.advance(120)  # the running batch ends; the next beat tick picks it up
    _wait_for(lambda: Result.objects.filter(batch_id=running).count() == 10, 60, log_path)
    workspace.refresh_from_db()
    assert workspace.last_synced_at is not None and not workspace.is_failing


def test_two_workers_share_the_ingests_and_stream_each_batch_once(emulator, make_workspace, start_worker):
    logs = [start_worker("one"), start_worker("two", "ingest", beat=False)]
    for log_path in logs:  # both ready before there is work, so both can take some
        _wait_for(lambda log_path=log_path: "ready." in log_path.read_text(), 60, log_path)
    workspace = make_workspace("shared")
    emulator.faults.add(op="results", delay=0.2, times=-1)  # each download takes a moment: both get some
    ended = emulator.seed_batches(workspace.test_api_key, 16, status="ended", n_requests=40)

    _wait_for(lambda: Batch.objects.filter(pk__in=ended).exclude(results_ingested_at=None).count() == 16, 90, logs[0])

    assert emulator.calls["results"] == 16  # each batch streamed once, by one worker or the other
    assert Result.objects.count() == Result.objects.values("batch_id", "custom_id").distinct().count() == 16 * 40
    assert all("Task batches.tasks.ingest_batch" in log.read_text() for log in logs)


def test_the_list_stays_fresh_while_a_100000_line_batch_streams(emulator, make_workspace, start_worker):
    logs = [start_worker("sync", "celery"), start_worker("ingest", "ingest", beat=False)]
    workspace = make_workspace("busy")
    # The big batch's download is slow to start: its ingest holds a worker and its lease meanwhile.
    emulator.faults.add(op="results", delay=8)
    big = emulator.seed_batch(workspace.test_api_key, 100_000, status="ended")
    running = emulator.create_batch(workspace.test_api_key, [batch_request("r-0")], duration=60)
    _wait_for(lambda: Batch.objects.filter(pk=big).exclude(ingest_lease_until=None).exists(), 60, logs[1])

    emulator.advance(120)  # the small batch ends while the big one is still being ingested

    _wait_for(lambda: Batch.objects.get(pk=running).processing_status == "ended", 6, logs[0])
    assert Batch.objects.get(pk=big).results_ingested_at is None  # still streaming when the list caught up
    _wait_for(lambda: Result.objects.filter(batch_id=big).count() == 100_000, 120, logs[1])
    _wait_for(lambda: Result.objects.filter(batch_id=running).count() == 1, 30, logs[1])  # then the small one


def test_two_workers_deliver_a_batch_end_to_a_webhook_exactly_once(
    emulator, make_workspace, start_worker, make_receiver
):
    from batches.models import Delivery, NotificationChannel, NotificationEvent

    receiver = make_receiver(500)  # the first attempt fails: the retry is a worker's too
    channel = NotificationChannel(name="hook", kind="webhook", address=receiver.url)
    channel.set_secret("s3cret")
    channel.save()
    workspace = make_workspace("notified")
    logs = [start_worker("one", "celery,ingest,notify"), start_worker("two", "celery,ingest,notify", beat=False)]
    running = emulator.create_batch(workspace.test_api_key, [batch_request("n-0")], duration=60)
    _wait_for(lambda: Batch.objects.filter(pk=running).exists(), 60, logs[0])
    emulator.advance(120)

    _wait_for(lambda: Delivery.objects.filter(status="delivered").exists(), 90, logs[0])
    time.sleep(3)  # more beat ticks: nothing is sent twice
    event = NotificationEvent.objects.get(kind="batch.ended", batch_id=running)
    assert receiver.event_ids() == [event.id, event.id] and receiver.requests[1].signed_by("s3cret")
    assert Delivery.objects.get().attempts == 2


def test_beat_syncs_once_as_it_starts_without_waiting_a_whole_interval(emulator, make_workspace, tmp_path, processes):
    workspace = make_workspace("first-sync")
    emulator.seed_batches(workspace.test_api_key, 1, status="in_progress", n_requests=5)
    env = worker_env(tmp_path, SYNC_INTERVAL_SECONDS="3600")  # the schedule's own first tick is an hour away
    command = celery("worker", "--pool=solo", "--loglevel=INFO", "--beat", f"--schedule={tmp_path / 'beat-schedule'}")
    log_path = processes.start("first-sync", command, env=env).log
    # The pass writes the batch first and marks the workspace synced as it ends: wait for both.
    _wait_for(lambda: Workspace.objects.filter(pk=workspace.pk, last_synced_at__isnull=False).exists(), 60, log_path)
    assert Batch.objects.filter(workspace=workspace).exists()
