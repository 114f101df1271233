"""Fixtures for the emulator's own tests: a fresh emulator on a free port and an official SDK client.

No Django and no database: these tests must pass with `-p no:django` and under the project's config."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from emulator import Emulator

KEY = "sk-ant-test-1"
OTHER_KEY = "sk-ant-test-2"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(seed=1, speed=0.0)
    emulator.start(host="127.0.0.1", port=0)
    emulator.add_workspace(api_key=KEY, name="ws1")
    emulator.add_workspace(api_key=OTHER_KEY, name="ws2")
    yield emulator
    emulator.stop()


@pytest.fixture
def client(emu: Emulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0)


def request(custom_id: str, text: str = "Hello", model: str = "claude-sonnet-4-6", **params: Any):
    return {
        "custom_id": custom_id,
        "params": {
            "model": model,
            "max_tokens": 256,
            "messages": [{"role": "user", "content": text}],
            **params,
        },
    }
