"""Real processes a test starts (workers, beat, redis-server, the whole system): one way to start, watch and stop.

Every test that starts one does it through the `processes` fixture (tests/conftest.py), which marks the test
`processes`: `pytest -m "not processes"` leaves them out of a developer's quick loop. Each process runs in its
own session with its output in a log file under the test's tmp_path, and is killed when the test ends, whatever
happened.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the database this test runs on (the test database, not the configured one)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, explain: Callable[[], str] = lambda: "") -> None:
    """Poll until `predicate()` is true; fail with `explain()` (a log's tail, say) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s\n{explain()}")
        time.sleep(0.3)


def worker_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """What a worker or beat needs to share this test's database and key: its own var folder, and the suite's
    broker (Redis when the run has one, else the embedded one in its var folder)."""
    from django.conf import settings

    env = {
        **os.environ, "DATABASE_URL": database_url(), "DASHBOARD_VAR_DIR": str(var_dir),
        # Its own var dir would generate another SECRET_KEY, and the workspace keys would not decrypt.
        "SECRET_KEY": settings.SECRET_KEY, "ANTHROPIC_API_KEY": "", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    if os.environ.get("REDIS_URL"):
        env["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
    else:
        env.pop("CELERY_BROKER_URL", None)
    return {**env, **extra}


def celery(*args: str) -> list[str]:
    """A Celery command line for this project's app: `celery("worker", "--beat")`."""
    return [sys.executable, "-m", "celery", "-A", "config", *args]


class Process:
    def __init__(self, name: str, proc: subprocess.Popen, log: Path) -> None:
        self.name, self.proc, self.log = name, proc, log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> None:
        """TERM to its whole session, KILL if it has not gone within `timeout` (at once with 0); then KILL anything
        its children left behind in the session."""
        if self.proc.poll() is None and timeout > 0:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self._signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


class Processes:
    """The processes one test started, all stopped at its end (the `processes` fixture)."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.started = directory, []

    def start(self, name: str, command: list[str], *, env: dict[str, str] | None = None, stderr_only: bool = False,
              cwd: Path = ROOT) -> Process:  # fmt: skip
        """Start `command` in its own session; its output (stderr alone with `stderr_only`) goes to `<name>.log`."""
        log = self.directory / f"{name}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                command, cwd=cwd, env=env if env is not None else dict(os.environ), start_new_session=True,
                stdout=subprocess.DEVNULL if stderr_only else out, stderr=out if stderr_only else subprocess.STDOUT,
            )  # fmt: skip
        process = Process(name, proc, log)
        self.started.append(process)
        return process

    def redis(self, *args: str, port: int | None = None) -> tuple[Process, int]:
        """A redis-server of the test's own (on `port`, or a free one; extra `args`: a password, say), once it
        answers. Nothing is kept on disk."""
        port = port or free_port()
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(self.directory), *args]  # fmt: skip
        server = self.start(f"redis-{port}-{len(self.started)}", command)
        wait_for(lambda: listening(port), 10, server.output)
        return server, port

    def web_server(self, var_dir: Path, port: int | None = None, **env: str) -> tuple[Process, int]:
        """The dashboard served by a process of its own (Django's server, no reloader) on this test's database,
        once it answers: a server a test can stop and start again, which pytest-django's live_server is not."""
        port = port or free_port()
        command = [sys.executable, "manage.py", "runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}"]
        server = self.start(f"web-{port}-{len(self.started)}", command, env=worker_env(var_dir, **env))
        wait_for(lambda: listening(port), 60, server.output)
        return server, port

    def stop_all(self) -> None:
        """Kill each at once, with whatever it started. The test is over: nothing is left to watch, and a graceful
        stop cost 5 to 30 s a process (a Celery worker's warm shutdown, gunicorn's graceful timeout, the 30 s
        wait for ./bin/start), a fifth of the suite's time. A test that checks how something stops calls
        `stop()` itself."""
        for process in reversed(self.started):
            process.stop(timeout=0)


def listening(port: int) -> bool:
    """Whether something accepts connections on this loopback port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True
