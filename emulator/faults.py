"""Fault injection: make the next N calls of an operation fail, slow down, or cut the results stream.

A fault can also be aimed at one batch (`batch_id`), count its `times` per batch (`per_batch`: "every
batch's first results stream is cut"), or strike a share of calls at random (`probability`, seeded so a
storm is the same on every run).
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

OPS = ("list", "retrieve", "create", "cancel", "delete", "results", "cost", "count_tokens")
# A retry_after_date below this is a delta in seconds from now; from it on, an absolute epoch (2001-09-09).
_EPOCH_FROM = 1e9


@dataclass
class Fault:
    op: str = "*"
    status: int | None = None  # answer this status with the API's error body for it
    times: int = 1  # how many calls it applies to; a negative number means every call until cleared
    retry_after: float | None = None  # `retry-after` header (seconds); 429 defaults to 1 (see Faults.add)
    retry_after_ms: float | None = None  # `retry-after-ms` header (milliseconds; the SDK reads it first)
    # `retry-after` as an RFC 7231 HTTP-date: a number < 1e9 is seconds from the moment of answering, a
    # larger one an absolute epoch; a string is sent verbatim. The date is rounded up to a whole second.
    retry_after_date: float | str | None = None
    delay: float | None = None  # real seconds to wait before answering
    cut_after_lines: int | None = None  # results only: send N lines, then drop the connection
    malformed_lines: int | None = None  # results only: truncate N lines, evenly spread, mid-JSON
    # Carry out the operation first, then fail its response: the case where a client cannot know
    # whether its create (or cancel) took effect. With `drop`, the connection closes unanswered.
    after: bool = False
    drop: bool = False
    error_type: str | None = None  # override the error type implied by the status
    message: str | None = None
    error_code: str | None = None  # `error.details.error_code`: the SDK raises its coded subclass
    # `x-should-retry: true|false` instead of what the status implies (errors.should_retry)
    should_retry: bool | None = None
    batch_id: str | None = None  # only calls naming this batch (retrieve, cancel, delete, results)
    per_batch: bool = False  # `times` counts each batch's calls apart; the fault stays until cleared
    probability: float | None = None  # each matching call is struck with this chance (seeded)
    seed: int = 1
    _seen: dict[str, int] = field(default_factory=dict, repr=False)
    _rng: random.Random | None = field(default=None, repr=False)

    def applies_to(self, op: str, batch_id: str | None = None) -> bool:
        if self.op not in ("*", op):
            return False
        if self.batch_id is not None and self.batch_id != batch_id:
            return False
        if self.per_batch and (batch_id is None or self._seen.get(batch_id, 0) >= self.times):
            return False
        # A pure "cut" or "malformed" fault only makes sense on results; don't let other calls use it up.
        results_only = self.cut_after_lines is not None or self.malformed_lines is not None
        return not (results_only and self.status is None and op != "results")

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def strikes(self) -> bool:
        """Whether this matching call is struck: always, or by the seeded draw of a random storm."""
        if self.probability is None:
            return True
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng.random() < self.probability

    def retry_headers(self) -> dict[str, str]:
        """The retry-after headers of this fault's error response, computed at the moment of answering."""
        headers = {}
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{self.retry_after_ms:g}"
        if self.retry_after_date is not None:
            headers["retry-after"] = http_date(self.retry_after_date)
        elif self.retry_after is not None:
            headers["retry-after"] = f"{self.retry_after:g}"
        return headers


def http_date(value: float | str) -> str:
    """An RFC 7231 date for retry_after_date (see Fault)."""
    if isinstance(value, str):
        return value
    epoch = value if value >= _EPOCH_FROM else time.time() + value
    return email.utils.formatdate(math.ceil(epoch), usegmt=True)


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
        malformed_lines: int | None = None,
        after: bool = False,
        drop: bool = False,
        retry_after_ms: float | None = None,
        retry_after_date: float | str | None = None,
        error_code: str | None = None,
        should_retry: bool | None = None,
        batch_id: str | None = None,
        per_batch: bool = False,
        probability: float | None = None,
        seed: int = 1,
    ) -> Fault:
        if op != "*" and op not in OPS:
            raise ValueError(f"unknown op {op!r}; use one of {', '.join(OPS)} or '*'")
        if status is None and delay is None and cut_after_lines is None and malformed_lines is None and not drop:
            raise ValueError("a fault needs a status, a delay, cut_after_lines or malformed_lines")
        if should_retry is not None and not isinstance(should_retry, bool):
            raise ValueError(f"should_retry must be true, false or null, got {should_retry!r}")
        if error_code is not None and not isinstance(error_code, str):
            raise ValueError(f"error_code must be a string, got {error_code!r}")
        if retry_after_date is not None and not isinstance(retry_after_date, int | float | str):
            raise ValueError(
                f"retry_after_date must be a number of seconds, an epoch or a date, got {retry_after_date!r}"
            )
        if probability is not None and not 0 <= probability <= 1:
            raise ValueError(f"probability must be between 0 and 1, got {probability!r}")
        if per_batch and times < 1:
            raise ValueError("per_batch needs times of 1 or more: how many of each batch's calls")
        if status == 429 and retry_after is None and retry_after_ms is None and retry_after_date is None:
            retry_after = 1.0  # the real API always tells a rate-limited client when to come back
        fault = Fault(
            op=op,
            status=status,
            times=times,
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            retry_after_date=retry_after_date,
            delay=delay,
            cut_after_lines=cut_after_lines,
            malformed_lines=malformed_lines,
            after=after,
            drop=drop,
            error_type=error_type,
            message=message,
            error_code=error_code,
            should_retry=should_retry,
            batch_id=batch_id,
            per_batch=per_batch,
            probability=probability,
            seed=seed,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, op: str, batch_id: str | None = None) -> Fault | None:
        """The first pending fault for `op` (on `batch_id`) that strikes, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(op, batch_id) and fault.strikes():
                    if fault.per_batch:
                        fault._seen[batch_id] = fault._seen.get(batch_id, 0) + 1
                    elif fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
            return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]


def corrupt_lines(body: bytes, n: int) -> bytes:
    """Truncate `n` lines, evenly spread, to half their length: each is then invalid JSON."""
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    step = max(1, len(lines) // max(n, 1))
    for i in range(0, min(n * step, len(lines)), step):
        lines[i] = lines[i][: len(lines[i]) // 2]
    return b"".join(line + b"\n" for line in lines)
