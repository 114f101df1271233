"""Write batches into the mirror exactly as the API reported them: the sync, actions and submissions use this."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from batches.client import RemoteBatch
from batches.models import REQUEST_COUNTS, Batch, Workspace
from batches.services import mirror_rules, versions

# What the API owns: everything else on a Batch (label, ingest bookkeeping) is the dashboard's own.
SYNCED_FIELDS = [
    "processing_status", *(f"{key}_count" for key in REQUEST_COUNTS), "request_total", "created_at", "expires_at",
    "ended_at",
    "cancel_initiated_at", "archived_at", "results_url", "refreshed_at", "gone_from_api_at",
]  # fmt: skip
# What a page shows of them: every pass moves `refreshed_at`, which must not make a poll render again.
_SHOWN_FIELDS = [name for name in SYNCED_FIELDS if name != "refreshed_at"]


def upsert(
    workspace: Workspace, remotes: list[RemoteBatch], *, bump: bool = True, also: dict[str, object] | None = None
) -> list[tuple[str, str]]:
    """Insert the batches not mirrored yet and update the API's fields of the others: one query. Answers the
    mirror cannot believe (batches/services/mirror_rules.py) are refused, recorded, and returned as (id, reason).
    `bump=False`: the caller bumps the workspace's version itself, in the same transaction (submit._link does, with
    what it writes next), so nothing here compares or bumps. `also`: fields of the dashboard's own set on these rows
    in the same statement (submit._link's label and submitter), on insert and on update alike.

    A new row's `notify_end` says whether its end will be news: it is running, or the workspace's first full
    sync is done (so it is no part of the history found on connecting). Only set on insert: a batch first seen
    ended never runs again.
    """
    if not remotes:
        return []
    now = timezone.now()
    synced_once = workspace.last_full_sync_at is not None
    # No savepoint when called inside a transaction (the pass-through's link): nothing around it catches an error
    # and goes on, and each savepoint is two more round trips.
    with transaction.atomic(savepoint=False):
        # The refusals and the shown fields in one read: a create's link paid a query for each.
        remotes, refused, mirrored = mirror_rules.screen(workspace, remotes, also=tuple(_SHOWN_FIELDS) if bump else ())
        mirror_rules.record(workspace, refused)
        rows = [_row(workspace, remote, now, synced_once) for remote in remotes]
        for row in rows:
            for name, value in (also or {}).items():
                setattr(row, name, value)
        if bump and (refused or _any_change(rows, mirrored)):
            versions.bump(workspace.pk)
        if rows:
            Batch.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["id"], update_fields=[*SYNCED_FIELDS, *(also or ())]
            )
    return refused


def _any_change(rows: list[Batch], mirrored: dict[str, tuple]) -> bool:
    """A new batch, or one whose shown fields differ from the mirror's (as mirror_rules.screen read them)."""
    return any(mirrored.get(row.pk) != tuple(getattr(row, name) for name in _SHOWN_FIELDS) for row in rows)


def _row(workspace: Workspace, remote: RemoteBatch, now, synced_once: bool) -> Batch:
    return Batch(
        id=remote.id,
        workspace=workspace,
        processing_status=remote.processing_status,
        **{f"{key}_count": remote.request_counts[key] for key in REQUEST_COUNTS},
        request_total=sum(remote.request_counts.values()),
        created_at=remote.created_at,
        expires_at=remote.expires_at,
        ended_at=remote.ended_at,
        cancel_initiated_at=remote.cancel_initiated_at,
        archived_at=remote.archived_at,
        results_url=remote.results_url or "",
        first_seen_at=now,
        refreshed_at=now,
        gone_from_api_at=None,
        notify_end=synced_once or remote.processing_status != Batch.Status.ENDED,
    )
