"""Batches, the emulated clock and the batch state machine.

Nothing runs in the background: a batch's status, counts and timestamps are computed from its creation
time, duration and cancel time against the emulated clock whenever someone asks. That keeps advance()
exact, makes a frozen clock (speed 0) trivially deterministic, and costs nothing for 10,000 idle batches.
"""

from __future__ import annotations

import random
import threading
import time
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field
from typing import Any

from .plan import RESULT_TYPES, BatchPlan, OutcomeTable, RequestItem, plan_item, seeded_custom_id
from .util import base62, rfc3339

DAY = 86400.0
EXPIRES_AFTER = 1 * DAY  # "expires_at: 24 hours after creation"
# Results stay downloadable 29 days after creation; then archived_at is set and the results endpoint
# answers 404 not_found_error. We keep results_url as it was (the docs are silent; the SDK then gets
# a clean NotFoundError from the results GET rather than "no results_url"). Change it here if needed.
ARCHIVE_AFTER = 29 * DAY
KEEP_RESULTS_URL_WHEN_ARCHIVED = True
DEFAULT_CANCEL_DELAY = 5.0  # emulated seconds between cancel and "ended"
# Times are float epoch seconds that also travel through microsecond datetimes (created_at=..., now()),
# so "has time t been reached" allows a microsecond of rounding slack.
EPSILON = 1e-6


def reached(now: float, t: float) -> bool:
    return now >= t - EPSILON


class Clock:
    """Emulated UTC clock: real time scaled by `speed`, plus explicit advance() jumps."""

    def __init__(self, speed: float = 0.0, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._anchor = time.time() if start is None else start
        self._mono = time.monotonic()
        self._speed = float(speed)

    def now(self) -> float:
        with self._lock:
            return self._anchor + (time.monotonic() - self._mono) * self._speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._anchor += seconds

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, speed: float) -> None:
        with self._lock:  # re-anchor so the change does not make the clock jump
            now = time.monotonic()
            self._anchor += (now - self._mono) * self._speed
            self._mono, self._speed = now, float(speed)


@dataclass(slots=True, eq=False)
class Batch:
    id: str
    workspace: str
    seq: int
    created: float
    duration: float
    n: int
    model: str
    table: OutcomeTable
    items: list[RequestItem] | None = None  # None for seeded batches: custom_ids are generated
    line_bytes: int | None = None
    text: str = "lorem"  # what pads succeeded lines to line_bytes (padding.TEXTS)
    via_api: bool = False
    cancel_at: float | None = None
    cancel_delay: float = DEFAULT_CANCEL_DELAY
    deleted: bool = False
    plan: BatchPlan | None = field(default=None, repr=False)
    final_counts: dict[str, int] | None = field(default=None, repr=False)

    @property
    def expires(self) -> float:
        return self.created + EXPIRES_AFTER

    @property
    def archived_at(self) -> float:
        return self.created + ARCHIVE_AFTER

    def end_info(self) -> tuple[float, str]:
        """When processing ends and why: "completed", "canceled" or "expired"."""
        natural = self.created + self.duration
        cause = "completed"
        if natural > self.expires:
            natural, cause = self.expires, "expired"
        if self.cancel_at is not None and self.cancel_at + self.cancel_delay < natural:
            return self.cancel_at + self.cancel_delay, "canceled"
        return natural, cause

    def status(self, now: float) -> str:
        if reached(now, self.end_info()[0]):
            return "ended"
        return "in_progress" if self.cancel_at is None else "canceling"

    def threshold(self, ts: float) -> float:
        """Fraction of the duration elapsed at `ts`; items with fraction <= it have finished."""
        return 1.0 if self.duration <= 0 else (ts - self.created) / self.duration


class Store:
    """Workspaces and their batches; all methods are called with `self.lock` held by the caller or self."""

    def __init__(self, seed: int, clock: Clock, id_salt: str = "") -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.clock = clock
        self.live_counts = False
        # Ids follow the seed; a salt (the CLI draws one at every start) makes a restarted emulator's ids new, as the
        # API's are: ids reused for other batches would be an impossible answer (the mirror refuses them).
        self._rng = random.Random(f"{seed}:{id_salt}" if id_salt else seed)
        self._seq = 0
        self.keys: dict[str, str] = {}  # api key -> workspace name
        self.batches: dict[str, Batch] = {}
        # Per workspace: ascending (created, seq) keys and the parallel ids, for cursor pagination.
        self._order: dict[str, tuple[list[tuple[float, int]], list[str]]] = {}

    # -- workspaces and ids -------------------------------------------------------------------------
    def add_workspace(self, api_key: str, name: str) -> None:
        with self.lock:
            self.keys[api_key] = name
            self._order.setdefault(name, ([], []))

    def new_batch_id(self) -> str:
        return "msgbatch_" + base62(self._rng.getrandbits(192), 24)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- storage ------------------------------------------------------------------------------------
    def insert(self, batch: Batch) -> None:
        with self.lock:
            self.batches[batch.id] = batch
            keys, ids = self._order.setdefault(batch.workspace, ([], []))
            key = (batch.created, batch.seq)
            if not keys or key > keys[-1]:  # the common case: appending the newest
                keys.append(key)
                ids.append(batch.id)
            else:
                pos = bisect_left(keys, key)
                insort(keys, key)
                ids.insert(pos, batch.id)

    def get(self, workspace: str, batch_id: str) -> Batch | None:
        batch = self.batches.get(batch_id)
        if batch is None or batch.deleted or batch.workspace != workspace:
            return None
        return batch

    def delete(self, batch: Batch) -> None:
        with self.lock:
            batch.deleted = True
            keys, ids = self._order[batch.workspace]
            pos = bisect_left(keys, (batch.created, batch.seq))
            del keys[pos], ids[pos]

    def page(self, workspace: str, limit: int, after_id: str | None, before_id: str | None):
        """Newest first. Returns (batches, has_more) or raises KeyError for an unknown cursor."""
        with self.lock:
            keys, ids = self._order.get(workspace, ([], []))
            if before_id:  # the `limit` batches just newer than the cursor
                lo = bisect_right(keys, self._cursor_key(workspace, before_id))
                hi = min(len(keys), lo + limit)
                page_ids, has_more = ids[lo:hi], hi < len(keys)
            else:  # the `limit` batches just older than the cursor (or the newest ones)
                hi = bisect_left(keys, self._cursor_key(workspace, after_id)) if after_id else len(keys)
                lo = max(0, hi - limit)
                page_ids, has_more = ids[lo:hi], lo > 0
            return [self.batches[i] for i in reversed(page_ids)], has_more

    def _cursor_key(self, workspace: str, batch_id: str) -> tuple[float, int]:
        batch = self.batches.get(batch_id)
        if batch is None or batch.workspace != workspace:  # deleted batches still work as cursors
            raise KeyError(batch_id)
        return batch.created, batch.seq

    # -- derived state --------------------------------------------------------------------------------
    def batch_plan(self, batch: Batch) -> BatchPlan:
        if batch.plan is None:
            seed, bid, table = self.seed, batch.id, batch.table
            if batch.items is None:
                items = [plan_item(seed, bid, seeded_custom_id(i), table) for i in range(batch.n)]
            else:
                items = [plan_item(seed, bid, it.custom_id, table, it.forced) for it in batch.items]
            batch.plan = BatchPlan(items)
        return batch.plan

    def counts(self, batch: Batch, now: float) -> dict[str, int]:
        """request_counts. Documented behaviour: everything is `processing` until the batch ends; with
        live_counts the finished requests move to their type while processing (nicer for a demo)."""
        end, cause = batch.end_info()
        if reached(now, end):
            if batch.final_counts is None:
                batch.final_counts = self._settled(batch, end, cause)
            return batch.final_counts
        if not self.live_counts:
            return {"processing": batch.n, **dict.fromkeys(RESULT_TYPES, 0)}
        done = self.batch_plan(batch).done_counts(batch.threshold(now))
        return {"processing": batch.n - sum(done.values()), **done}

    def _settled(self, batch: Batch, end: float, cause: str) -> dict[str, int]:
        threshold = 1.0 if cause == "completed" else batch.threshold(end)
        counts = {"processing": 0, **self.batch_plan(batch).done_counts(threshold)}
        if cause != "completed":  # requests not finished when the batch ended
            counts[cause] += batch.n - sum(counts.values())
        return counts

    def settled_type(self, batch: Batch, fraction: float, planned: str) -> str:
        """The final result type of an item of an ended batch."""
        end, cause = batch.end_info()
        if cause == "completed" or fraction <= batch.threshold(end):
            return planned
        return cause

    def to_json(self, batch: Batch, now: float) -> dict[str, Any]:
        status = batch.status(now)
        end = batch.end_info()[0]
        archived = reached(now, batch.archived_at)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": self.counts(batch, now),
            "ended_at": rfc3339(end) if status == "ended" else None,
            "created_at": rfc3339(batch.created),
            "expires_at": rfc3339(batch.expires),
            "archived_at": rfc3339(batch.archived_at) if archived else None,
            "cancel_initiated_at": rfc3339(batch.cancel_at),
            "results_url": self.results_url(batch, status, archived),
        }

    @staticmethod
    def results_url(batch: Batch, status: str, archived: bool) -> str | None:
        if status != "ended" or (archived and not KEEP_RESULTS_URL_WHEN_ARCHIVED):
            return None
        # Relative on purpose: the SDK joins it to base_url; an absolute URL would be dialled verbatim.
        return f"/v1/messages/batches/{batch.id}/results"
