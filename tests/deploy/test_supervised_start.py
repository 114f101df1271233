"""./bin/start keeps the web server up when a worker or the emulator dies: it restarts that process, with one log
line naming it; the systemd units restart every service whatever its exit."""

from __future__ import annotations

import configparser
import http.client
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.processes import free_port, listening, wait_for

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DASHBOARD_",
           "CSRF_", "SECURE_", "ANTHROPIC_", "DJANGO_SETTINGS_MODULE", "LOG_", "METRICS_TOKEN")  # fmt: skip


def _in_session(session: int, needle: str) -> list[int]:
    """Pids of the processes of this session whose command line holds `needle`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[3]) == session and needle in cmdline and "bin/start" not in cmdline:
            found.append(int(entry.name))
    return found


def _parent(pid: int) -> int:
    return int((Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split())[1])


def _healthz(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def test_a_killed_emulator_and_worker_are_restarted_and_the_web_server_stays_up(tmp_path, processes):
    port, emulator_port = free_port(), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OUTSIDE)}
    env = {**clean, "PORT": str(port), "EMULATOR_PORT": str(emulator_port), "DASHBOARD_VAR_DIR": str(tmp_path / "var")}
    start = processes.start("start", [str(ROOT / "bin/start")], env=env)
    wait_for(lambda: _healthz(port), 180, start.output)
    wait_for(lambda: _in_session(start.pid, "--hostname=ingest@"), 60, start.output)

    for needle, name in (("-m emulator", "emulator"), ("--hostname=ingest@", "ingest worker")):
        found = _in_session(start.pid, needle)
        [victim] = [pid for pid in found if _parent(pid) not in found]  # the main process, not a pool child
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda name=name: f"bin/start: {name} exited with status 137" in start.output(20000), 30,
                 start.output)  # fmt: skip
        assert _healthz(port) and start.running()  # the web server never went down
        wait_for(lambda needle=needle, victim=victim: [p for p in _in_session(start.pid, needle) if p != victim], 30,
                 start.output)  # fmt: skip
    wait_for(lambda: listening(emulator_port), 30, start.output)  # the emulator is back and serving
    assert start.output(20000).count("exited with status") == 2  # one line each, nothing else restarted


def test_every_systemd_unit_restarts_whatever_the_exit():
    for unit in sorted((ROOT / "deploy").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit)
        assert parser["Service"]["Restart"] == "always", unit.name
        assert float(parser["Service"]["RestartSec"]) > 0, unit.name


def test_systemd_reads_every_unit_without_a_warning(tmp_path):
    # systemd's own parser, offline: a misspelt directive or value (`Restart=sometimes`) is only a warning at boot,
    # and the unit would then never restart. The install path becomes this checkout, so the commands exist.
    # (No systemd runs as PID 1 here, so a kill under systemd itself is not tested: docs/hardening.md.)
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: apt-get install systemd")
    units = []
    for unit in sorted((ROOT / "deploy").glob("*.service")):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/batch-dashboard", str(ROOT)))
        units.append(str(copy))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0 and result.stderr == "" and len(units) == 3, result.stderr
