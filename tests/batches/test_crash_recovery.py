"""Crashed work resumes within one lease: a real worker killed mid-ingest, a database connection cut mid-ingest.

Each ends with every result stored exactly once, within the lease plus a minute.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection

from batches.models import Batch, Result
from tests.processes import celery, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
LEASE = 8
N = 60_000


@pytest.fixture
def start_worker(tmp_path, processes):
    env = worker_env(tmp_path, SYNC_INTERVAL_SECONDS="1", INGEST_LEASE_SECONDS=str(LEASE), INGEST_CHUNK_LINES="500")

    def start(name: str):
        command = celery("worker", "--pool=solo", "--loglevel=INFO", f"--hostname={name}@%h",
                         "--queues=celery,ingest", "--beat", f"--schedule={tmp_path / f'beat-{name}'}")  # fmt: skip
        return processes.start(name, command, env=env)

    return start


def _stored(batch_id: str) -> int:
    return Result.objects.filter(batch_id=batch_id).count()


def _mid_stream(batch_id: str, worker) -> int:
    wait_for(lambda: _stored(batch_id) >= 2_000, 120, worker.output)
    stored = _stored(batch_id)
    assert stored < N, "the ingest ended before the fault: the test proved nothing"
    return stored


def _assert_complete_within(batch_id: str, seconds: float, worker) -> None:
    wait_for(lambda: Batch.objects.filter(pk=batch_id).exclude(results_ingested_at=None).exists(), seconds,
             worker.output)  # fmt: skip
    assert _stored(batch_id) == N
    assert Result.objects.filter(batch_id=batch_id).values("custom_id").distinct().count() == N


def test_a_worker_killed_mid_ingest_is_taken_over_within_the_lease(emulator, make_workspace, start_worker):
    workspace = make_workspace("killed")
    batch_id = emulator.seed_batch(workspace.test_api_key, N, status="ended")
    first = start_worker("first")
    _mid_stream(batch_id, first)

    os.killpg(first.pid, signal.SIGKILL)
    first.proc.wait(10)
    batch = Batch.objects.get(pk=batch_id)
    assert batch.ingest_lease_token and batch.results_ingested_at is None  # held by a dead worker
    killed_at = time.monotonic()
    second = start_worker("second")

    _assert_complete_within(batch_id, LEASE + 60, second)
    assert time.monotonic() - killed_at < LEASE + 60


def test_a_database_connection_cut_mid_ingest_reconnects_and_completes(emulator, make_workspace, start_worker):
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's (CI's second run)")
    workspace = make_workspace("cut")
    batch_id = emulator.seed_batch(workspace.test_api_key, N, status="ended")
    worker = start_worker("worker")
    _mid_stream(batch_id, worker)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1  # the worker's connection, mid-ingest
    cut_at = time.monotonic()

    _assert_complete_within(batch_id, LEASE + 60, worker)
    assert time.monotonic() - cut_at < LEASE + 60
    assert worker.running()
