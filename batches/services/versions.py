"""A per-workspace counter of what its pages show: bumped with every change, read by the polls' ETags.

Call `bump` inside the transaction of the change (or right after a single-statement write), so a poll that
reads the old version also reads the old data: it can never be answered 304 for data it has not seen.

With a shared cache (settings.SHARED_CACHE), polls read counters kept there instead of the database: one per
workspace, and one for "any workspace" (a user who sees every workspace). A bump moves them once its
transaction is committed, so a poll that still reads the old counter may only have read the old data too.
Each counter lives until the next POLL_ETAG_SECONDS boundary, when the polls render again anyway (relative
times): a move lost to an unreachable cache is seen then at the latest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from batches.models import Workspace

ANY = "*"


def bump(*workspace_ids: int) -> None:
    """One UPDATE: the next poll of any page showing these workspaces renders again."""
    bump_many(workspace_ids)


def bump_many(workspace_ids: Iterable[int]) -> None:
    ids = sorted(set(workspace_ids))  # sorted: two bumps of the same workspaces lock rows in the same order
    if ids:
        Workspace.objects.filter(pk__in=ids).update(data_version=F("data_version") + 1)
        if settings.SHARED_CACHE:
            transaction.on_commit(lambda: _move([*ids, ANY]), robust=True)


def of(workspace_ids: Iterable[int] | None) -> list[tuple[int | str, int]]:
    """(id, version) of these workspaces (None: every one): from the shared cache, or one small query."""
    if settings.SHARED_CACHE:
        counters = _counters(_counted(workspace_ids))
        if counters is not None:
            return counters
    workspaces = Workspace.objects.all() if workspace_ids is None else Workspace.objects.filter(pk__in=workspace_ids)
    return list(workspaces.order_by("pk").values_list("pk", "data_version"))


def keys(workspace_ids: Iterable[int] | None) -> list[str]:
    """The shared cache's keys of these workspaces' counters: to read them in a round trip made for more."""
    return [_key(ws) for ws in _counted(workspace_ids)]


def found_in(workspace_ids: Iterable[int] | None, found: dict) -> list[tuple[int | str, int]] | None:
    """What `of` answers, from the counters among `found` (a get_many of `keys`); None if one is not kept."""
    counted = _counted(workspace_ids)
    if any(_key(ws) not in found for ws in counted):
        return None
    return [(ws, found[_key(ws)]) for ws in counted]


def _counted(workspace_ids: Iterable[int] | None) -> list[int | str]:
    return [ANY] if workspace_ids is None else sorted(workspace_ids)


def _key(workspace: int | str) -> str:
    return f"versions:{workspace}"


def _counters(workspaces: list[int | str]) -> list[tuple[int | str, int]] | None:
    """The cached counters, each missing one started afresh; None if the cache does not answer."""
    keys = {_key(ws): ws for ws in workspaces}
    found = cache.get_many(list(keys))
    missing = [key for key in keys if key not in found]
    if missing:
        # A number never used before, so no ETag or shared render of an earlier counter can match it.
        start, ttl = time.time_ns(), _until_boundary()
        for key in missing:
            cache.add(key, start, ttl)
        found |= cache.get_many(missing)
        if any(key not in found for key in missing):
            return None
    return [(keys[key], found[key]) for key in keys]


def _move(workspaces: list[int | str]) -> None:
    for ws in workspaces:
        try:
            moved = cache.incr(_key(ws))
        except ValueError:  # not kept: the next poll starts it afresh
            continue
        if moved is None:  # the cache did not answer: try to drop it (the boundary bounds the rest)
            cache.delete(_key(ws))


def _until_boundary() -> int:
    period = settings.POLL_ETAG_SECONDS
    return max(1, int(period - time.time() % period))
