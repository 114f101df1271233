"""What the mirror refuses to believe of an API answer, whoever sent it.

The API (or whatever answers at a workspace's base URL: a stand-in restarted with the same seed, a proxy, an id
collision) can say things no real batch does. Written as they came, they would move a batch to another workspace,
set an ended and ingested batch running again with new totals under its old costs, or put a `/` or a newline into
a URL. So every answer is screened before `upsert` writes it:
- an id outside the documented shape is refused (it would reach URLs, logs and the SDK's paths);
- a batch never changes workspace;
- a batch never changes its `created_at` (then it is another batch under the same id: its kept results and cost
  must not be overwritten);
- an ended batch never goes back to running;
- timestamps are clamped to a sane range (a year 9999 overflows date arithmetic on every page).
A refusal is logged, kept (MirrorRefusal, counted per id), shown on the health bar and counted in /metrics.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import UTC, datetime, timedelta

from django.db.models import F
from django.utils import timezone

from batches.client import RemoteBatch
from batches.models import Batch, MirrorRefusal, Workspace
from batches.services import versions

log = logging.getLogger(__name__)

# The API's ids are `msgbatch_` and letters and digits; this is looser, and still keeps a URL path segment whole.
BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class MirrorRefused(Exception):
    """An answer the mirror would not write (its reason is the message)."""


def clamp(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return min(max(moment, EARLIEST), LATEST)


def screen(
    workspace: Workspace, remotes: list[RemoteBatch], also: tuple[str, ...] = ()
) -> tuple[list[RemoteBatch], list[tuple[str, str]], dict[str, tuple]]:
    """(what may be written, with its timestamps clamped; (id, reason) of each answer refused; the mirror's row of
    each id already held: its `also` fields, read in the same query, for a caller that compares them)."""
    ok, refused, seen = [], [], set()
    candidates = []
    for remote in remotes:
        if not isinstance(remote.id, str) or not BATCH_ID.fullmatch(remote.id):
            refused.append((str(remote.id), "an id outside the documented pattern"))
        elif remote.id in seen:
            refused.append((remote.id, "the same id twice in one answer"))
        else:
            seen.add(remote.id)
            candidates.append(_clamped(remote))
    # Each name once: values_list() answers one column per distinct name, so a name in `also` that the rules read too
    # (processing_status, created_at) must not shift the columns after it.
    names = list(dict.fromkeys(("workspace_id", "processing_status", "created_at", *also)))
    rows = {row[0]: dict(zip(names, row[1:], strict=True))
            for row in Batch.objects.filter(pk__in=seen).values_list("pk", *names)}  # fmt: skip
    for remote in candidates:
        held = rows.get(remote.id)
        mirrored = (held["workspace_id"], held["processing_status"], held["created_at"]) if held else None
        reason = _impossible(workspace, remote, mirrored)
        (refused.append((remote.id, reason)) if reason else ok.append(remote))
    return ok, refused, {pk: tuple(held[name] for name in also) for pk, held in rows.items()}


def _clamped(remote: RemoteBatch) -> RemoteBatch:
    names = ("created_at", "expires_at", "ended_at", "cancel_initiated_at", "archived_at")
    return dataclasses.replace(remote, **{name: clamp(getattr(remote, name)) for name in names})


def _impossible(workspace: Workspace, remote: RemoteBatch, mirrored: tuple | None) -> str:
    if mirrored is None:
        return ""
    workspace_id, status, created_at = mirrored
    if workspace_id != workspace.pk:
        return "the mirror holds this id for another workspace"
    if abs(remote.created_at - created_at) > timedelta(seconds=1):
        return (f"another batch under an id the mirror holds (created {created_at:%Y-%m-%d %H:%M:%S}, "
                f"now said {remote.created_at:%Y-%m-%d %H:%M:%S})")  # fmt: skip
    if status == Batch.Status.ENDED and remote.processing_status != Batch.Status.ENDED:
        return f"an ended batch said to be {remote.processing_status[:40]} again"
    return ""


def record(workspace: Workspace, refused: list[tuple[str, str]]) -> None:
    """Keep, count and log each refusal (in the caller's transaction); the workspace's health bar shows the last."""
    if not refused:
        return
    now = timezone.now()
    for batch_id, reason in refused:
        shown = batch_id[:200]
        updated = MirrorRefusal.objects.filter(workspace=workspace, batch_id=shown).update(
            reason=reason[:300], count=F("count") + 1, last_refused_at=now
        )
        if not updated:
            MirrorRefusal.objects.create(workspace=workspace, batch_id=shown, reason=reason[:300])
        # repr: an id with a newline or a control character cannot forge a log line.
        log.warning("workspace %s: refused the API's answer for %r: %s", workspace.pk, batch_id[:200], reason)
    last_id, last_reason = refused[-1]
    summary = f"{last_id[:80]!r}: {last_reason}"[:300]
    Workspace.objects.filter(pk=workspace.pk).update(last_refusal_at=now, last_refusal=summary)
    versions.bump(workspace.pk)  # the health bar says so at its next poll
