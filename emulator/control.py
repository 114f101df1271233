"""Control endpoints under /_emulator/ (no auth): for the demo, the start script and cross-process tests."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from .errors import EmulatorError
from .util import rfc3339

if TYPE_CHECKING:
    from .core import EmulatorCore

_SEED_KWARGS = ("status", "created_at", "duration", "outcomes", "line_bytes", "text", "model")
_FAULT_KWARGS = (
    "op", "status", "times", "retry_after", "retry_after_ms", "retry_after_date", "delay", "cut_after_lines",
    "malformed_lines", "after", "drop", "error_type", "message", "error_code", "should_retry", "batch_id",
    "per_batch", "probability", "seed",
)  # fmt: skip


def _config(emu: EmulatorCore) -> dict[str, Any]:
    return {
        "seed": emu.seed,
        "speed": emu.clock.speed,
        "now": rfc3339(emu.clock.now()),
        "live_counts": emu.live_counts,
        "not_found_after_create": emu.not_found_after_create,
        "cancel_delay": emu.cancel_delay,
        "cost_drift": {prefix: str(factor) for prefix, factor in emu.cost_drift.items()},
    }


def _drift(value: Any) -> dict[str, Decimal]:
    """{"claude-haiku-4-5": "1.05"} -> Decimal multipliers; numbers go through str() so 1.05 stays 1.05."""
    if not isinstance(value, dict):
        raise ValueError("cost_drift must be an object of model family prefix -> multiplier")
    try:
        return {str(prefix): Decimal(str(factor)) for prefix, factor in value.items()}
    except InvalidOperation:
        raise ValueError(f"cost_drift multipliers must be decimal numbers, got {value!r}") from None


def _set_config(emu: EmulatorCore, body: dict[str, Any]) -> dict[str, Any]:
    if "speed" in body:
        emu.clock.speed = float(body["speed"])
    if "live_counts" in body:
        emu.live_counts = bool(body["live_counts"])
    if "not_found_after_create" in body:
        emu.not_found_after_create = float(body["not_found_after_create"])
    if "cancel_delay" in body:
        emu.cancel_delay = float(body["cancel_delay"])
    if "cost_drift" in body:  # replaces the whole mapping; {} clears it
        emu.cost_drift = _drift(body["cost_drift"])
    return _config(emu)


def _seed(emu: EmulatorCore, body: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: body[k] for k in _SEED_KWARGS if k in body}
    count = body.get("count")
    if count is None:
        return {"id": emu.seed_batch(body["api_key"], int(body.get("n_requests", 10)), **kwargs)}
    ids = emu.seed_batches(body["api_key"], int(count), n_requests=int(body.get("n_requests", 10)), **kwargs)
    return {"ids": ids}


def _dispatch(emu: EmulatorCore, method: str, name: str, body: dict[str, Any]) -> dict[str, Any] | list[Any] | None:
    if (method, name) == ("GET", "health"):
        return {"status": "ok", **_config(emu)}
    if (method, name) == ("POST", "advance"):
        emu.advance(float(body.get("seconds", 0)))
        return {"now": rfc3339(emu.clock.now())}
    if (method, name) == ("POST", "faults"):
        return {"fault": emu.faults.add(**{k: body[k] for k in _FAULT_KWARGS if k in body}).to_json()}
    if (method, name) == ("GET", "faults"):
        return emu.faults.pending()
    if (method, name) == ("DELETE", "faults"):
        emu.faults.clear()
        return {"cleared": True}
    if (method, name) == ("GET", "calls"):
        return emu.calls
    if (method, name) == ("POST", "reset_calls"):
        emu.reset_calls()
        return emu.calls
    if (method, name) == ("POST", "workspaces"):
        emu.add_workspace(body["api_key"], body.get("name") or body["api_key"])
        name = body.get("name") or body["api_key"]
        return {"api_key": body["api_key"], "name": name, "workspace_id": emu.workspace_id(body["api_key"])}
    if (method, name) == ("POST", "admin_keys"):
        emu.add_admin_key(body["api_key"])
        return {"api_key": body["api_key"], "admin": True}
    if (method, name) == ("POST", "seed_batch"):
        return _seed(emu, body)
    if (method, name) == ("GET", "config"):
        return _config(emu)
    if (method, name) == ("POST", "config"):
        return _set_config(emu, body)
    return None


class Responder(Protocol):
    """What the control endpoints need of the HTTP handler (server.Handler) that received the request."""

    def send_json(self, status: int, payload: Any) -> None: ...

    def send_error_body(self, status: int, error_type: str, message: str) -> None: ...


def handle_control(handler: Responder, emu: EmulatorCore, method: str, path: str, raw: bytes) -> None:
    name = path[len("/_emulator/") :].strip("/")
    try:
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        result = _dispatch(emu, method, name, body)
    except EmulatorError as exc:
        handler.send_error_body(exc.status, exc.error_type, exc.message)
        return
    except (KeyError, ValueError, TypeError) as exc:
        handler.send_json(400, {"error": f"{type(exc).__name__}: {exc}"})
        return
    if result is None:
        handler.send_json(404, {"error": f"unknown control endpoint {method} {path}"})
    else:
        handler.send_json(200, result)
