"""When a running batch will likely end, from the workspace's own history.

The API keeps `request_counts` at `processing` until a whole batch ends, so a bar of counts says
nothing while it runs. What can be said honestly: how long it has run, how long similar batches of
this workspace took (the p50–p90 band of those that ended on their own, with how many there were),
how long is left before its 24-hour expiry, and that it is running late once past that p90.

"Similar": the same workspace, the same size class (requests within a power of ten) and the same
model family when the batch's model is known; without enough of those, any model of that size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from batches.models import Batch

HISTORY = 200  # the most recent ended batches a band is drawn from
MIN_SAMPLES = 5  # fewer than this and the band widens to any model of the size class
_DATED = re.compile(r"-\d{8}$")


@dataclass(frozen=True)
class Band:
    p50: timedelta
    p90: timedelta
    samples: int
    same_model: bool  # drawn from batches of this batch's model family, or of any model


@dataclass(frozen=True)
class Eta:
    elapsed: timedelta
    left_before_expiry: timedelta
    band: Band | None  # None: no history yet

    @property
    def late(self) -> bool:
        """Running longer than nine in ten similar batches took."""
        return self.band is not None and self.elapsed > self.band.p90

    @property
    def left(self) -> tuple[timedelta, timedelta] | None:
        """How much longer, from now, similar batches suggest: (p50, p90), never below zero."""
        if self.band is None:
            return None
        zero = timedelta(0)
        return max(self.band.p50 - self.elapsed, zero), max(self.band.p90 - self.elapsed, zero)


def model_family(model: str) -> str:
    """`claude-haiku-4-5-20251001` and its alias `claude-haiku-4-5` are one family."""
    return _DATED.sub("", model)


def size_class(requests: int) -> tuple[int, int]:
    """The power of ten holding `requests`: 1–9, 10–99, 100–999, ..."""
    low = 1
    while low * 10 <= requests:
        low *= 10
    return low, low * 10 - 1


def etas(batches: list[Batch], now: datetime | None = None) -> dict[str, Eta]:
    """The ETA of each running batch of `batches`: one query per (workspace, size class) among them."""
    now = now or timezone.now()
    # Only a batch that will run to its end: one being canceled ends when the API has stopped it, and one
    # deleted in the API never ends here; an ETA beside either would contradict its status.
    running = [b for b in batches if b.shown_status == Batch.Status.IN_PROGRESS and b.gone_from_api_at is None]
    histories: dict[tuple[int, tuple[int, int]], list[tuple[str, timedelta]]] = {}
    for batch in running:
        key = (batch.workspace_id, size_class(batch.request_total))
        if key not in histories:
            histories[key] = _history(*key)
    return {
        b.id: Eta(
            elapsed=now - b.created_at,
            left_before_expiry=max(b.expires_at - now, timedelta(0)),
            band=_band(histories[(b.workspace_id, size_class(b.request_total))], model_family(b.model)),
        )
        for b in running
    }


def eta(batch: Batch, now: datetime | None = None) -> Eta | None:
    return etas([batch], now).get(batch.id)


def _history(workspace_id: int, sizes: tuple[int, int]) -> list[tuple[str, timedelta]]:
    """(model family, duration) of the workspace's latest batches of this size that ended on their own:
    a canceled batch's duration says when someone gave up, not how long the work takes."""
    rows = (
        Batch.objects.filter(
            workspace_id=workspace_id,
            processing_status=Batch.Status.ENDED,
            request_total__range=sizes,
            cancel_initiated_at=None,
        )
        .exclude(ended_at=None)
        .order_by("-ended_at")
        .values_list("model", "created_at", "ended_at")[:HISTORY]
    )
    return [(model_family(model), ended - created) for model, created, ended in rows]


def _band(history: list[tuple[str, timedelta]], family: str) -> Band | None:
    same = [d for f, d in history if family and f == family]
    same_model = len(same) >= MIN_SAMPLES
    durations = sorted(same if same_model else [d for _, d in history])
    if not durations:
        return None
    return Band(p50=_percentile(durations, 0.5), p90=_percentile(durations, 0.9), samples=len(durations),
                same_model=same_model)  # fmt: skip


def _percentile(ordered: list[timedelta], q: float) -> timedelta:
    """Linear interpolation between the closest ranks."""
    rank = q * (len(ordered) - 1)
    low, frac = int(rank), rank - int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * frac
