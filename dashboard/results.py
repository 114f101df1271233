"""What a result line shows a person: the message text, or the error, in full."""

from __future__ import annotations

import json
from typing import Any

from batches import result_lines
from batches.models import Result
from dashboard import blocks

# What a person is told of each incomplete stop reason (the answer counts as succeeded at the API).
INCOMPLETE_WORDING = {
    "max_tokens": "Cut off: the answer reached max_tokens. Retry with a higher max_tokens.",
    "model_context_window_exceeded": "Cut off: the model's context window was full. Retry with a shorter input, "
    "a lower max_tokens or a model with a larger window.",
    "pause_turn": "Paused: the API paused a long turn. Retrying continues it (the paused content is sent back).",
    "refusal": "Refused: the model declined to answer. Retry only on purpose, after reading why.",
}


def render_result(result: Result) -> dict[str, Any]:
    """The parts of the raw line a person reads; never truncated. Text is escaped by the template."""
    raw = result.raw_line()
    shown: dict[str, Any] = {"raw": raw, "text": ""}
    data = result_lines.load(raw)
    if data is None:
        return shown  # malformed: the raw text is all there is
    shown["text"] = result_lines.text_of(raw)
    shown["pretty"] = json.dumps(data, indent=2, ensure_ascii=False)
    message = data["result"].get("message")
    if isinstance(message, dict):
        shown["blocks"] = blocks.present(message.get("content"))
        shown["container"] = blocks.container(message)
    shown["incomplete"] = INCOMPLETE_WORDING.get(result.stop_reason, "") if result.incomplete else ""
    return shown


def why_retried(result: Result) -> str:
    """What a retry plan says of an item that needs a fix: its error, or what cut its answer short."""
    if result.incomplete:
        category = f" (category {result.stop_details_category})" if result.stop_details_category else ""
        explanation = f": {result.stop_details_explanation}" if result.stop_details_explanation else ""
        return f"{result.stop_reason}{category}{explanation}. {INCOMPLETE_WORDING[result.stop_reason]}"
    return f"{result.error_type}: {result.error_message}"
