"""Builders shared by the tests: plain functions, importable from any test module.

Requests as the API takes them (an `[emulate:...]` marker in the text picks the emulator's outcome)
and JSONL files of them need nothing else; the row builders write mirrored rows straight to the
database, for tests of what reads them (pricing, spend), and import Django only when called, so the
emulator's own tests can import this module without it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batches.models import Batch, Result

MODEL = "claude-haiku-4-5-20251001"
ENDED = datetime(2026, 5, 31, 12, tzinfo=UTC)


# --- requests ------------------------------------------------------------------------------------
def batch_request(
    custom_id: str, text: Any = "hi [emulate:succeeded]", *, model: str = MODEL, max_tokens: int = 64, **params: Any
) -> dict[str, Any]:
    """One request of a create-batch body (or one line of an upload)."""
    return {
        "custom_id": custom_id,
        "params": {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}], **params},
    }


def outcome_request(custom_id: str, outcome: str, **kwargs: Any) -> dict[str, Any]:
    """A request the emulator answers with `outcome` (`succeeded`, `expired`, `errored:overloaded_error`...)."""
    return batch_request(custom_id, f"hi [emulate:{outcome}]", **kwargs)


def jsonl(lines: list[dict[str, Any] | str]) -> bytes:
    """A JSONL file: dicts as JSON, strings as they are (to write a bad line on purpose)."""
    return "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines).encode()


# --- emulator workspaces ---------------------------------------------------------------------------
def workspace_on(emu: Any, name: str) -> Any:
    """A dashboard workspace named `name` on the emulator `emu` (a key it knows); `test_api_key` to seed it."""
    from batches.models import Workspace

    key = f"sk-ant-test-{name}-{'x' * 20}"
    emu.add_workspace(api_key=key, name=name)
    workspace = Workspace(name=name, base_url=emu.base_url)
    workspace.set_api_key(key)
    workspace.save()
    workspace.test_api_key = key
    return workspace


# --- rows ----------------------------------------------------------------------------------------
def ended_batch(name: str = "b1", ended: datetime = ENDED, workspace: str = "acme") -> Batch:
    """A batch row that ended (and was ingested) at `ended`, in workspace `workspace` (made if missing)."""
    from batches.models import Batch, Workspace

    ws, _ = Workspace.objects.get_or_create(name=workspace, defaults={"api_key_encrypted": "x", "api_key_hint": "…"})
    return Batch.objects.create(
        id=f"msgbatch_{name}", workspace=ws, processing_status="ended", created_at=ended - timedelta(hours=1),
        expires_at=ended + timedelta(hours=23), ended_at=ended, results_ingested_at=ended,
    )  # fmt: skip


def stored_result(batch: Batch, custom_id: str, model: str, result_type: str = "succeeded", **usage: Any) -> Result:
    """A result row with a placeholder raw line."""
    from batches import result_lines
    from batches.models import Result, ResultChunk

    chunk = ResultChunk.objects.create(batch=batch, data=result_lines.pack([b"{}"]), line_count=1, raw_bytes=2)
    return Result.objects.create(batch=batch, custom_id=custom_id, result_type=result_type, model=model, chunk=chunk,
                                 line_index=0, **usage)  # fmt: skip


def golden_results(batch: Batch) -> None:
    """The results whose cost was worked out by hand (tests/batches/test_pricing.py says how)."""
    stored_result(batch, "sonnet", "claude-sonnet-4-5-20250929", input_tokens=200_000, output_tokens=360_000)
    stored_result(batch, "haiku", "claude-haiku-4-5-20251001", input_tokens=500_000, output_tokens=100_000,
                  cache_creation_input_tokens=300_000, cache_creation_5m_input_tokens=200_000,
                  cache_creation_1h_input_tokens=100_000, cache_read_input_tokens=1_000_000)  # fmt: skip
    stored_result(batch, "opus", "claude-opus-4-1-20250805", input_tokens=100_000, output_tokens=10_000,
                  cache_creation_input_tokens=400_000)  # fmt: skip
    stored_result(batch, "unknown", "gpt-4o", input_tokens=1000, output_tokens=1000)
    stored_result(batch, "err", "claude-sonnet-4-5", "errored", error_type="overloaded_error")
    stored_result(batch, "exp", "claude-sonnet-4-5", "expired")
