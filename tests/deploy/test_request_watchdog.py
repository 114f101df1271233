"""A real gunicorn with the project's settings (config/gunicorn.py) bounds every request's time: a request that
makes no progress is cut at WEB_REQUEST_TIMEOUT with a logged line, a stuck one has its process recycled after the
others in flight finish, and the server goes on answering (config/watchdog.py)."""

from __future__ import annotations

import http.client
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

from tests.processes import free_port, listening, wait_for

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DASHBOARD_",
           "CSRF_", "SECURE_", "ANTHROPIC_", "DJANGO_SETTINGS_MODULE", "LOG_", "WEB_")  # fmt: skip
STRONG_KEY = "r8Vq2kLw9-ZpT4xN7bYc3HdF6sJm1GaE5uQeW0oKiR_yXvBnC7"
BOUND = 2.0  # WEB_REQUEST_TIMEOUT for these servers


def _gunicorn(processes, tmp_path, threads: int):
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OUTSIDE)}
    env = {**clean, "PORT": str(port), "DASHBOARD_VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": STRONG_KEY,
           "WEB_CONCURRENCY": "1", "WEB_THREADS": str(threads), "WEB_REQUEST_TIMEOUT": str(BOUND),
           "SUBMIT_VALIDATE_SECONDS": "1",
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:config.gunicorn",
        "tests.deploy.watchdog_app:application",
    ]
    server = processes.start("gunicorn", command, env=env)
    wait_for(lambda: listening(port), 60, server.output)
    return server, port


def _get(port: int, path: str, timeout: float = 60) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _in_background(call):
    """Run `call` in a thread; the returned dict gets its answer (or error) and the seconds it took."""
    outcome: dict = {}

    def run():
        started = time.monotonic()
        try:
            outcome["answer"] = call()
        except Exception as error:  # the connection closed under it: what the test looks for
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return outcome, thread


def test_a_stuck_request_is_cut_and_its_process_replaced_after_the_others_finish(tmp_path, processes):
    server, port = _gunicorn(processes, tmp_path, threads=4)
    assert _get(port, "/healthz") == (200, "ok")

    stuck, stuck_thread = _in_background(lambda: _get(port, "/_test/stuck"))
    # A legitimate long answer in the same process: 12 s in all, far over the bound, but a chunk every 0.5 s.
    stream, stream_thread = _in_background(lambda: _get(port, "/_test/stream?chunks=24&every=0.5"))

    stuck_thread.join(30)
    # Cut at the bound (plus the watchdog's tick), not answered: its client sees the connection close.
    assert "error" in stuck and BOUND <= stuck["seconds"] < BOUND + 4, (stuck, server.output())
    wait_for(lambda: "Worker recycling" in server.output(), 15, server.output)
    assert stream_thread.is_alive()  # the recycle began while the stream was still being answered

    # A request arriving during the recycle is answered (by the new process, once the old one has finished).
    assert _get(port, "/healthz") == (200, "ok")
    stream_thread.join(30)
    assert stream["answer"] == (200, "".join(f"chunk {n}\n" for n in range(24))), (stream, server.output())

    log = server.output(20000)
    # Cut at the first tick of the watchdog past the bound: a tick comes late on a busy machine (it once said 3 s).
    cut = re.search(r"Request cut: GET /_test/stuck .* no progress for ([\d.]+) s \(WEB_REQUEST_TIMEOUT is 2 s\)", log)
    # The line rounds to a tenth: a cut at 2.03 s (past the bound, as the watchdog cuts) reads "2.0 s".
    assert cut and BOUND <= float(cut[1]) < BOUND + 4, log
    assert "Worker recycling: GET /_test/stuck" in log and "1 other request(s) in flight finish first" in log
    assert "Request abandoned by the recycle: GET /_test/stuck" in log
    assert "/_test/stream" not in log  # never cut, never abandoned
    assert log.count("Booting worker with pid") == 2, log
    assert _get(port, "/healthz") == (200, "ok")


def test_a_stalled_client_frees_its_thread_at_the_bound_without_a_recycle(tmp_path, processes):
    # One thread: while the stalled client holds it, nobody else is answered.
    server, port = _gunicorn(processes, tmp_path, threads=1)
    # Once its process has booted and served a first page, so the time measured below is the cut alone.
    assert _get(port, "/healthz") == (200, "ok")
    stalled = socket.create_connection(("127.0.0.1", port), timeout=30)
    stalled.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and the rest of its headers never come
    time.sleep(0.5)
    started = time.monotonic()
    assert _get(port, "/healthz") == (200, "ok")  # waited for the stalled client to be cut
    waited = time.monotonic() - started
    assert BOUND - 0.5 - 0.1 <= waited < BOUND + 4, waited
    assert stalled.recv(100) == b""  # closed without an answer
    stalled.close()

    log = server.output()
    assert "Request cut: a request whose request line was not yet read" in log
    assert "Worker recycling" not in log and log.count("Booting worker with pid") == 1
