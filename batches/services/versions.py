"""A per-workspace counter of what its pages show: bumped with every change, read by the polls' ETags.

Call `bump` inside the transaction of the change (or right after a single-statement write), so a poll that
reads the old version also reads the old data: it can never be answered 304 for data it has not seen.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F

from batches.models import Workspace


def bump(*workspace_ids: int) -> None:
    """One UPDATE: the next poll of any page showing these workspaces renders again."""
    bump_many(workspace_ids)


def bump_many(workspace_ids: Iterable[int]) -> None:
    ids = sorted(set(workspace_ids))  # sorted: two bumps of the same workspaces lock rows in the same order
    if ids:
        Workspace.objects.filter(pk__in=ids).update(data_version=F("data_version") + 1)


def of(workspace_ids: Iterable[int] | None) -> list[tuple[int, int]]:
    """(id, version) of these workspaces (None: every one), in id order: one small query."""
    workspaces = Workspace.objects.all() if workspace_ids is None else Workspace.objects.filter(pk__in=workspace_ids)
    return list(workspaces.order_by("pk").values_list("pk", "data_version"))
