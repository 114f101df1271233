"""Logs: a request id on every request and line, JSON on demand, task ids in Celery, never a request body."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from batches import client
from batches.models import Credentials
from tests.processes import celery, wait_for, worker_env

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a-prompt-that-must-never-reach-any-log-7f3c"


def _request(custom_id: str) -> dict:
    return {"custom_id": custom_id, "params": {"model": "claude-haiku-4-5-20251001", "max_tokens": 16,
            "messages": [{"role": "user", "content": f"{PROMPT} [emulate:succeeded]"}]}}  # fmt: skip


def test_each_response_carries_a_new_request_id():
    first, second = Client().get("/healthz"), Client().get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_the_request_watchdog_names_a_request_it_cuts_by_its_request_id():
    from config.watchdog import Flight

    response = Client().get("/healthz")
    flight = Flight(sock=None, started=10.0, progress=10.0, label="GET /healthz",  # type: ignore[arg-type]
                    environ=response.wsgi_request.META)  # fmt: skip
    assert flight.name(now=13.0) == f"GET /healthz (request id {response['X-Request-ID']}, running 3 s)"


def test_a_valid_incoming_request_id_is_kept_and_an_invalid_one_replaced():
    assert Client().get("/healthz", headers={"X-Request-ID": "lb-7d1e.42:a_b"})["X-Request-ID"] == "lb-7d1e.42:a_b"
    for bad in ("x" * 129, "<script>", "a b", ""):
        kept = Client().get("/healthz", headers={"X-Request-ID": bad})["X-Request-ID"]
        assert kept != bad and re.fullmatch(r"[0-9a-f]{32}", kept)


def _python(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DASHBOARD_VAR_DIR": str(tmp_path), **env},
    )  # fmt: skip


def test_log_format_json_writes_one_object_per_line_with_the_request_id(tmp_path):
    code = """
import logging
from django.test import Client
logging.getLogger("dashboard.test").warning("multi\\nline %s", "message")
Client().get("/healthz", headers={"X-Request-ID": "trace-abc-123"}, HTTP_HOST="localhost")
"""
    result = _python(code, {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is one JSON object
    warning = next(line for line in lines if line["logger"] == "dashboard.test")
    assert warning["message"] == "multi\nline message" and warning["level"] == "WARNING"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", warning["time"])
    access = next(line for line in lines if line["logger"] == "dashboard.request")
    assert access["request_id"] == "trace-abc-123" and access["path"] == "/healthz" and access["status"] == 200


def test_an_unknown_log_format_is_refused(tmp_path):
    result = _python("", {"LOG_FORMAT": "xml"}, tmp_path)
    assert result.returncode != 0 and "LOG_FORMAT must be text or json" in result.stderr


def test_sdk_debug_logs_never_hold_a_request_body(emulator, caplog):
    emulator.add_workspace(api_key="sk-ant-logs-test-abcd", name="logs")
    creds = Credentials(api_key="sk-ant-logs-test-abcd", base_url=emulator.base_url)
    for name in ("", "anthropic", "anthropic._base_client", "httpx2"):
        caplog.set_level(logging.DEBUG, logger=name)
    remote = client.create_batch(creds, [_request(f"r-{i}") for i in range(3)])
    assert remote.id.startswith("msgbatch_")
    options = [r for r in caplog.records if r.getMessage().startswith("Request options")]
    assert options, "the SDK logged no request options at DEBUG: this test would prove nothing"
    assert "'method': 'post'" in options[0].getMessage() and "(not logged)" in options[0].getMessage()
    assert PROMPT not in caplog.text


def test_the_configured_handlers_drop_request_bodies_even_with_the_sdks_own_debug_switch(emulator, tmp_path):
    emulator.add_workspace(api_key="sk-ant-logs-test-abcd", name="logs")
    code = f"""
from batches import client
from batches.models import Credentials
client.create_batch(Credentials(api_key="sk-ant-logs-test-abcd", base_url="{emulator.base_url}"), {[_request("r")]!r})
"""
    result = _python(code, {"LOG_LEVEL": "DEBUG", "ANTHROPIC_LOG": "debug"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Request options" in result.stderr and PROMPT not in result.stderr + result.stdout


# --- Celery -----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_workers_task_logs_are_json_lines_carrying_the_task_id(tmp_path, processes):
    env = worker_env(tmp_path, LOG_FORMAT="json", SYNC_INTERVAL_SECONDS="1")
    command = celery("worker", "--beat", "--pool=solo", f"--schedule={tmp_path / 'beat-schedule'}")
    worker = processes.start("worker", command, env=env, stderr_only=True)
    stderr = worker.log
    wait_for(lambda: re.search(r"Task batches\.tasks\.heartbeat\[.*succeeded", stderr.read_text()), 60, worker.output)
    worker.stop()
    lines = [json.loads(line) for line in stderr.read_text().splitlines()]
    done = next(line for line in lines if re.match(r"Task batches\.tasks\.heartbeat\[.*succeeded", line["message"]))
    task_id = re.search(r"heartbeat\[([0-9a-f-]+)\]", done["message"]).group(1)
    assert done["task_id"] == task_id and "request_id" not in done


def test_a_403_is_one_log_line_without_a_traceback(viewer_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert viewer_client.get("/spend/").status_code == 403  # a Viewer may not read spend
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelname == "WARNING" and "/spend/" in record.getMessage()
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_the_text_log_cannot_be_forged_through_a_path_or_an_id(tmp_path):
    code = """
import logging
from django.test import Client
Client().get("/healthz%0a2026-01-01 00:00:00,000 INFO forged [-] admin logged in", HTTP_HOST="localhost")
logging.getLogger("dashboard.test").warning("batch %s ended", "msgbatch_x\\r\\n2026-01-01 INFO forged\\u2028too")
"""
    result = _python(code, {"LOG_FORMAT": "text", "LOG_LEVEL": "INFO"}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if " forged" in line.split("[")[0] or
                line.startswith("2026-01-01")]  # fmt: skip
    assert "msgbatch_x\\r\\n2026-01-01 INFO forged\\u2028too" in result.stderr  # shown, escaped, on its own line
    assert "\\n2026-01-01 00:00:00,000 INFO forged" in result.stderr
