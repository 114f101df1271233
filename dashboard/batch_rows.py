"""The batch list's rows: what each cell says, decided once here so the template only places it.

One line per batch (issue 21): the id is cut in the middle (`msgbatch_01Hk…ZsDbjF`, the full id on hover and
Copy), a running batch's elapsed time goes in the Duration cell, and the notes that used to add lines (deleted in
the API, sync failing) become a short tag beside the status with the explanation on hover.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from batches.models import Batch
from dashboard import times
from dashboard.templatetags.dashboard_tags import duration as duration_text

# Column priorities: 1 always shown; 4 leaves below 1280 px wide, 3 below 1180, 2 below 1040
# (static/dashboard/app.css). A phone shows every one, in a card per batch.
PRIORITY = {
    "Workspace": 2, "Batch": 1, "Status": 1, "Created": 1, "Ended": 4, "Duration": 3, "Requests": 3,
    "Progress": 1, "Errors": 1, "Cost": 2, "Results": 2, "Label": 2,
}  # fmt: skip
HEAD, TAIL = 13, 6  # "msgbatch_01Hk" … "ZsDbjF": the prefix says what it is, the tail tells ids apart


def short_id(batch_id: str) -> str:
    if len(batch_id) <= HEAD + TAIL + 1:
        return batch_id
    return f"{batch_id[:HEAD]}…{batch_id[-TAIL:]}"


@dataclass(frozen=True)
class Note:
    """A short tag beside the status, with its reason on hover."""

    text: str
    title: str
    kind: str  # a CSS class: "gone", "stale"


@dataclass(frozen=True)
class Row:
    batch: Batch
    short_id: str
    created: times.When
    ended: times.When | None
    duration: str  # how long it ran, or has been running ("12 min so far")
    progress_text: str  # "45%" while running, "done" once ended
    counts_text: str  # every request count, on hover: "30 succeeded, 3 errored, 1 expired"
    errors: int
    notes: list[Note]


def stale_note(batch: Batch) -> Note | None:
    """A running batch whose workspace's sync fails, or has stopped running: what is shown of it may be out of date
    (its row, and its page)."""
    workspace = batch.workspace
    if batch.is_terminal or not (workspace.is_failing or workspace.is_overdue):
        return None
    if workspace.is_failing:
        reason = f"{workspace.last_error_type}: {workspace.last_error_message}"[:200]
        return Note("sync failing", f"This may be out of date: {reason}", "stale")
    return Note("sync overdue", "This may be out of date: no sync has run for a while, and none has failed: the "
                "workers or the beat may have stopped.", "stale")  # fmt: skip


def row(batch: Batch, now=None) -> Row:
    now = now or timezone.now()
    notes = []
    if batch.gone_from_api_at and batch.is_terminal:  # one deleted while running says so in its status
        notes.append(Note("deleted in API", "The API no longer lists this batch; its results are gone.", "gone"))
    if stale := stale_note(batch):
        notes.append(stale)
    if batch.ended_at:
        ran = duration_text(batch.duration)
    elif batch.gone_from_api_at:
        ran = "—"
    else:
        ran = f"{duration_text(now - batch.created_at)} so far"
    processed = int(batch.progress * 100)
    return Row(
        batch=batch,
        short_id=short_id(batch.id),
        created=times.when(batch.created_at, now),
        ended=times.when(batch.ended_at, now),
        duration=ran,
        progress_text="done" if batch.is_terminal else f"{min(processed, 99)}%",
        counts_text=", ".join(f"{n:,} {name}" for name, n in batch.request_counts.items() if n) or "no requests",
        errors=batch.errored_count + batch.malformed_count,
        notes=notes,
    )


def rows(batches: list[Batch]) -> list[Row]:
    now = timezone.now()
    return [row(batch, now) for batch in batches]
