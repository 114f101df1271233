"""What a result line shows a person: the message text, or the error, in full."""

from __future__ import annotations

import json
from typing import Any

from batches import result_lines
from batches.models import Result


def render_result(result: Result) -> dict[str, Any]:
    """The parts of the raw line a person reads; never truncated. Text is escaped by the template."""
    raw = result.raw_line()
    shown: dict[str, Any] = {"raw": raw, "text": ""}
    data = result_lines.load(raw)
    if data is None:
        return shown  # malformed: the raw text is all there is
    shown["text"] = result_lines.text_of(raw)
    shown["pretty"] = json.dumps(data, indent=2, ensure_ascii=False)
    return shown
