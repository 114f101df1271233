"""Production mode fails loudly; the defaults need nothing installed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _django_setup(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "dashboard.settings", **env}, capture_output=True, text=True,
    )  # fmt: skip


def test_production_mode_refuses_to_start_without_secret_key_and_allowed_hosts():
    result = _django_setup({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY and ALLOWED_HOSTS not set" in result.stderr


def test_production_mode_starts_with_both_set():
    result = _django_setup({"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "dash.example.com"})
    assert result.returncode == 0, result.stderr


def test_a_bad_boolean_is_refused_with_its_name():
    result = _django_setup({"DEBUG": "maybe"})
    assert result.returncode != 0 and "DEBUG must be true or false" in result.stderr


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: CI's second run")
@pytest.mark.django_db
def test_postgresql_sessions_run_without_jit():
    # JIT compiled the budget header's query for 193 ms on every page at 100,000 usage rows (bench/spend.py).
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
