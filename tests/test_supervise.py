"""bin/supervise.sh (bin/start's supervisor): on TERM it stops its process, and one that does not stop within the
grace is killed. A Celery worker whose shutdown hung on a lock once held ./bin/start open after Ctrl+C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OBEYS = "import time; time.sleep(600)"
IGNORES = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"


def _supervised(tmp_path: Path, program: str, grace: int) -> tuple[subprocess.Popen, int, int, Path]:
    """A shell that supervises `program` as bin/start does: (the shell, the supervisor, the program, its stderr)."""
    pid_file, err = tmp_path / "child.pid", tmp_path / "err.log"
    child = f"import os; open({str(pid_file)!r}, 'w').write(str(os.getpid())); {program}"
    supervise = f'supervise worker {sys.executable} -c "{child}"'
    script = f"pids=(); source bin/supervise.sh; {supervise}; echo ${{pids[0]}}; wait"
    shell = subprocess.Popen(["bash", "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=err.open("w"), text=True,
                             env={**os.environ, "STOP_GRACE_SECONDS": str(grace)})  # fmt: skip
    supervisor = int(shell.stdout.readline())
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    return shell, supervisor, int(pid_file.read_text()), err


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(("program", "killed"), [(OBEYS, False), (IGNORES, True)], ids=["stops", "hangs"])
def test_a_supervised_process_is_stopped_and_killed_past_the_grace(tmp_path, program, killed):
    # A grace of 20 s for the one that stops (it must not be waited for), 1 s for the one that hangs.
    shell, supervisor, child, err = _supervised(tmp_path, program, grace=1 if killed else 20)
    started = time.monotonic()

    os.kill(supervisor, signal.SIGTERM)
    shell.wait(timeout=10)

    took = time.monotonic() - started
    assert _gone(child) and _gone(supervisor)
    said = err.read_text()
    assert ("did not stop within 1s; killing it" in said) is killed, said
    assert took < 10, took  # well under the 20 s grace for the one that stops; 1 s and a kill for the one that hangs


def test_a_process_in_its_restart_back_off_is_stopped_at_once(tmp_path):
    """Between restarts the supervisor sleeps (1 s, doubling to 60): a TERM then waited out that sleep."""
    shell, supervisor, _, err = _supervised(tmp_path, "import sys; sys.exit(3)", grace=20)
    time.sleep(3.5)  # it has exited twice: the back-off is 4 s now
    started = time.monotonic()

    os.kill(supervisor, signal.SIGTERM)
    shell.wait(timeout=30)

    assert time.monotonic() - started < 3 and _gone(supervisor)
    assert "worker exited with status 3; restarting it" in err.read_text()
