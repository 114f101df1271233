"""A mirrored workspace with batches in every state, via the real sync."""

from __future__ import annotations

import pytest

from batches.models import Batch
from batches.services import sync
from tests.builders import batch_request


@pytest.fixture
def mirrored(emulator, workspace):
    """An ended batch with errors (ingested), a running batch, and a batch past the 29 days."""
    key = workspace.test_api_key
    ended = emulator.create_batch(
        key,
        [batch_request(f"ok-{i:03d}", "hi [emulate:succeeded]") for i in range(120)]
        + [batch_request(f"over-{i}", "x [emulate:errored:overloaded_error]") for i in range(3)]
        + [
            batch_request("bad-1", "x [emulate:errored:invalid_request_error]"),
            batch_request("exp-1", "x [emulate:expired]"),
        ],
        duration=30,
    )
    emulator.advance(60)
    running = emulator.create_batch(
        key, [batch_request(f"r-{i}", "hi [emulate:succeeded]") for i in range(10)], duration=600
    )
    from datetime import timedelta

    old = emulator.seed_batch(
        key, 4, status="ended", created_at=emulator.now() - timedelta(days=30), outcomes={"succeeded": 1.0}
    )
    sync.catch_up(workspace.pk)
    return {
        "ended": Batch.objects.get(pk=ended),
        "running": Batch.objects.get(pk=running),
        "old": Batch.objects.get(pk=old),
        "workspace": workspace,
    }
