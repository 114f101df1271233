"""A real Celery worker with beat syncs and ingests on its own.

Against Redis when REDIS_URL is set (as CI's second run does), else kombu's filesystem broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from batches.models import Batch, Result

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DASHBOARD_VAR_DIR": str(tmp_path),
        # Its own var dir would generate another SECRET_KEY, and the workspace keys would not decrypt.
        "SECRET_KEY": settings.SECRET_KEY,
        "SYNC_INTERVAL_SECONDS": "1",
        "ANTHROPIC_API_KEY": "",
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get("REDIS_URL"):
        env["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
    else:
        env.pop("CELERY_BROKER_URL", None)
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat", "--pool=solo",
         "--loglevel=INFO", f"--schedule={tmp_path / 'beat-schedule'}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    yield proc, tmp_path / "worker.log"
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def _wait_for(predicate, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out; worker log:\n{log_path.read_text()[-4000:]}")


def test_beat_and_worker_mirror_batches_and_ingest_results(emulator, make_workspace, worker):
    _, log_path = worker
    workspace = make_workspace("celery")
    ended = emulator.seed_batches(workspace.test_api_key, 2, status="ended", n_requests=75)
    running = emulator.create_batch(
        workspace.test_api_key,
        [{"custom_id": f"r-{i}", "params": {"model": "claude-haiku-4-5-20251001", "max_tokens": 8,
          "messages": [{"role": "user", "content": "hi"}]}} for i in range(10)],
        duration=60,
    )  # fmt: skip

    _wait_for(lambda: Result.objects.filter(batch_id__in=ended).count() == 150, 60, log_path)
    assert Batch.objects.get(pk=running).processing_status == "in_progress"

    emulator.advance(120)  # the running batch ends; the next beat tick picks it up
    _wait_for(lambda: Result.objects.filter(batch_id=running).count() == 10, 60, log_path)
    workspace.refresh_from_db()
    assert workspace.last_synced_at is not None and not workspace.is_failing
