"""./bin/setup (run by every ./bin/start) installs only when pyproject.toml changed: a restart took 45 s when it
reinstalled every time. Run against a stand-in .venv/bin/python that records what it was asked to do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/../../calls.log"
"""


def _setup(tree: Path) -> list[str]:
    log = tree / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run([str(tree / "bin/setup")], check=True, capture_output=True, timeout=60)
    return log.read_text().splitlines() if log.exists() else []


def test_setup_installs_once_and_again_only_when_pyproject_changes(tmp_path):
    (tmp_path / "bin").mkdir()
    shutil.copy(ROOT / "bin/setup", tmp_path / "bin/setup")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)

    first = _setup(tmp_path)
    assert any("pip install" in call and "-e" in call for call in first), first
    assert _setup(tmp_path) == []  # nothing changed: no pip at all

    with open(tmp_path / "pyproject.toml", "a") as f:
        f.write("\n# a new dependency\n")
    assert any("pip install" in call for call in _setup(tmp_path))
