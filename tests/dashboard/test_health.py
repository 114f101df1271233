"""/healthz and /readyz: no login, each check named, nothing secret in the answer."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from batches.models import Heartbeat
from config.celery import app as celery_app
from tests.processes import celery, wait_for, worker_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def beating(db):
    """Beat sent the heartbeat and a worker ran it a moment ago."""
    for name in (Heartbeat.BEAT, Heartbeat.WORKER):
        Heartbeat.objects.create(name=name, at=timezone.now() - timedelta(seconds=1))


def _ready(client=None) -> tuple[int, dict]:
    response = (client or Client()).get("/readyz")
    return response.status_code, json.loads(response.content)


def test_healthz_answers_ok_without_login_or_database():
    # No `db` fixture: any query here would raise.
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"


def test_readyz_is_200_when_every_check_passes(beating):
    status, body = _ready()
    assert status == 200 and body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "beat", "worker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_a_worker_heartbeat_older_than_two_sync_intervals(beating):
    stale = timezone.now() - timedelta(seconds=2 * settings.SYNC_INTERVAL_SECONDS + 1)
    Heartbeat.objects.filter(name=Heartbeat.WORKER).update(at=stale)
    status, body = _ready()
    assert status == 503 and body["failing"] == ["worker"]
    assert body["checks"]["worker"]["age_seconds"] > body["checks"]["worker"]["limit_seconds"]


def test_readyz_fails_beat_and_worker_never_seen(db):
    status, body = _ready()
    assert status == 503 and body["failing"] == ["beat", "worker"]
    assert body["checks"]["beat"] == {"ok": False, "error": "never seen"}


@pytest.fixture
def own_redis(processes, monkeypatch):
    """A redis-server of this test's own, with a password, as the broker; stopped by the test when it likes."""
    server, port = processes.redis("--requirepass", "hunter2-broker-secret")
    url = f"redis://:hunter2-broker-secret@127.0.0.1:{port}/0"
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setitem(celery_app.conf, "broker_transport", None)  # the URL's own, not the embedded broker's
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads it before its own settings
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})
    return server, port


def test_readyz_connects_to_the_broker_and_names_it_when_it_is_down_without_its_url(beating, own_redis):
    server, port = own_redis
    assert _ready()[1]["checks"]["broker"] == {"ok": True}

    server.stop()
    started = time.monotonic()
    status, body = _ready()
    assert status == 503 and body["failing"] == ["broker"]
    assert time.monotonic() - started < 5  # a short timeout, not the TCP default
    text = json.dumps(body)
    assert "hunter2" not in text and "127.0.0.1" not in text and str(port) not in text


def test_readyz_never_shows_the_database_address(beating):
    text = Client().get("/readyz").content.decode()
    db = connection.settings_dict
    for secret in (db["HOST"], db["USER"], db["PASSWORD"], str(db["NAME"])):
        if secret:
            assert secret not in text


# --- with a real worker and beat ---------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_running_beat_and_worker_make_readyz_ready(tmp_path, processes):
    assert _ready()[0] == 503  # nothing has beaten yet
    env = worker_env(tmp_path, SYNC_INTERVAL_SECONDS="1")
    worker = processes.start("worker", celery("worker", "--beat", "--pool=solo", f"--schedule={tmp_path / 'beat'}"),
                             env=env)  # fmt: skip
    wait_for(lambda: _ready()[0] == 200, 60, lambda: f"never ready: {_ready()[1]}\n{worker.output()}")
    assert set(Heartbeat.objects.values_list("name", flat=True)) == {"beat", "worker"}
