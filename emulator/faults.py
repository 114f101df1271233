"""Fault injection: make the next N calls of an operation fail, slow down, or cut the results stream."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

OPS = ("list", "retrieve", "create", "cancel", "delete", "results")


@dataclass
class Fault:
    op: str = "*"
    status: int | None = None  # answer this status with the API's error body for it
    times: int = 1  # how many calls it applies to; a negative number means every call until cleared
    retry_after: float | None = None  # `retry-after` header (seconds); 429 defaults to 1
    delay: float | None = None  # real seconds to wait before answering
    cut_after_lines: int | None = None  # results only: send N lines, then drop the connection
    error_type: str | None = None  # override the error type implied by the status
    message: str | None = None

    def applies_to(self, op: str) -> bool:
        if self.op not in ("*", op):
            return False
        # A pure "cut" fault only makes sense on results; don't let other calls use it up.
        return not (self.cut_after_lines is not None and self.status is None and op != "results")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        op: str = "*",
        status: int | None = None,
        times: int = 1,
        retry_after: float | None = None,
        delay: float | None = None,
        cut_after_lines: int | None = None,
        error_type: str | None = None,
        message: str | None = None,
    ) -> Fault:
        if op != "*" and op not in OPS:
            raise ValueError(f"unknown op {op!r}; use one of {', '.join(OPS)} or '*'")
        if status is None and delay is None and cut_after_lines is None:
            raise ValueError("a fault needs a status, a delay or cut_after_lines")
        if status == 429 and retry_after is None:
            retry_after = 1.0  # the real API always tells a rate-limited client when to come back
        fault = Fault(op, status, times, retry_after, delay, cut_after_lines, error_type, message)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, op: str) -> Fault | None:
        """The first pending fault for `op`, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(op):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
            return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]
