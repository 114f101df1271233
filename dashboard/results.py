"""What a result line shows a person: the message text, or the error, in full."""

from __future__ import annotations

import json
from typing import Any

from batches.models import Result


def render_result(result: Result) -> dict[str, Any]:
    """The parts of the raw line a person reads; never truncated. Text is escaped by the template."""
    raw = result.raw_line()
    shown: dict[str, Any] = {"raw": raw, "text": ""}
    try:
        data = json.loads(raw)
        inner = data["result"]
    except (ValueError, KeyError, TypeError):
        return shown  # malformed: the raw text is all there is
    if inner.get("type") == "succeeded":
        shown["text"] = message_text(inner.get("message") or {})
    shown["pretty"] = json.dumps(data, indent=2, ensure_ascii=False)
    return shown


def message_text(message: dict[str, Any]) -> str:
    """The text of every text block of a message, in order."""
    blocks = message.get("content") or []
    return "\n\n".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
