"""The CLI process, the /_emulator/ control endpoints and the demo scenario."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import urllib.request
from datetime import datetime, timedelta

import anthropic
import pytest

from emulator import DEMO_ADMIN_KEY, DEMO_API_KEY, Emulator, content
from emulator.plan import ERROR_TYPES
from tests.processes import wait_for


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_cli_serves_health_and_stops_on_sigterm(processes):
    command = [sys.executable, "-m", "emulator", "--port", "0", "--scenario", "demo", "--seed", "1", "--speed", "60"]
    cli = processes.start("emulator", command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wait_for(lambda: re.search(r"http://\S+", cli.output()), 30, cli.output)
    url = re.search(r"http://\S+", cli.output()).group(0)
    health = _get(f"{url}/_emulator/health")
    assert health["status"] == "ok" and health["speed"] == 60
    client = anthropic.Anthropic(api_key=DEMO_API_KEY, base_url=url, max_retries=0)
    assert len(client.messages.batches.list().data) == 20
    admin = anthropic.Anthropic(api_key=DEMO_ADMIN_KEY, base_url=url, max_retries=0)
    week_ago = datetime.fromisoformat(health["now"].replace("Z", "+00:00")) - timedelta(days=7)
    rows = admin.beta.organization.analytics.cost.list(starting_at=week_ago).data
    assert len(rows) == 1 and rows[0].cost.requests > 0  # e.g. the batch canceled 4 h ago; no group_by: 1 row
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.proc.wait(timeout=10) == 0
    rest = cli.output()
    assert DEMO_API_KEY in rest and DEMO_ADMIN_KEY in rest and "emulator stopped" in rest


def test_control_endpoints_drive_the_emulator(emu: Emulator):
    base = emu.base_url
    _post(f"{base}/_emulator/workspaces", {"api_key": "sk-ant-ctl", "name": "ctl"})
    seeded = _post(f"{base}/_emulator/seed_batch", {"api_key": "sk-ant-ctl", "n_requests": 3, "status": "in_progress"})
    client = anthropic.Anthropic(api_key="sk-ant-ctl", base_url=base, max_retries=0)
    assert client.messages.batches.retrieve(seeded["id"]).processing_status == "in_progress"

    _post(f"{base}/_emulator/advance", {"seconds": 601})
    assert client.messages.batches.retrieve(seeded["id"]).processing_status == "ended"
    assert _get(f"{base}/_emulator/calls")["retrieve"] == 2
    assert _post(f"{base}/_emulator/reset_calls", {})["retrieve"] == 0

    many = _post(f"{base}/_emulator/seed_batch", {"api_key": "sk-ant-ctl", "count": 3, "n_requests": 2})
    assert len(many["ids"]) == 3
    config = _post(f"{base}/_emulator/config", {"live_counts": True, "not_found_after_create": 2})
    assert config["live_counts"] is True and emu.not_found_after_create == 2


def test_control_endpoint_errors_are_400(emu: Emulator):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        _post(f"{emu.base_url}/_emulator/faults", {"op": "nope", "status": 500})
    assert excinfo.value.code == 400


def test_demo_scenario_has_every_state():
    emu = Emulator(scenario="demo", seed=1, speed=0, live_counts=True)
    url = emu.start()
    try:
        client = anthropic.Anthropic(api_key=DEMO_API_KEY, base_url=url, max_retries=0)
        batches = list(client.messages.batches.list(limit=100))
        statuses = {b.processing_status for b in batches}
        assert statuses == {"in_progress", "canceling", "ended"}
        assert any(b.archived_at for b in batches)
        assert any(b.request_counts.canceled for b in batches)
        assert any(b.request_counts.expired for b in batches)
        assert len({b.id for b in batches}) == len(batches) >= 30

        error_types, stop_reasons, block_types = set(), set(), set()
        for batch in batches:
            if batch.processing_status == "ended" and not batch.archived_at and batch.request_counts.errored:
                for line in client.messages.batches.results(batch.id):
                    if line.result.type == "errored":
                        error_types.add(line.result.error.error.type)
                    elif line.result.type == "succeeded":
                        stop_reasons.add(line.result.message.stop_reason)
                        block_types.update(b.type for b in line.result.message.content)
        assert error_types == set(ERROR_TYPES)
        # The demo shows every stop reason and content block type the pinned SDK knows (emulator/content.py).
        assert stop_reasons == set(content.STOP_REASONS) and block_types == set(content.CONTENT_BLOCK_TYPES)

        emu.advance(30 * 60)  # new batches appear as the demo runs
        assert len(list(client.messages.batches.list(limit=100))) > len(batches)
    finally:
        emu.stop()
