"""The batch list's status tabs and sortable column headers, as links that keep every other filter."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.http import QueryDict

from batches.models import Batch, BatchTally
from dashboard.batch_rows import PRIORITY
from dashboard.forms import BatchFilterForm
from dashboard.queries import query_without

BULK_MAX = 1000  # the most batches one bulk action covers; stated on the page


@dataclass(frozen=True)
class Tab:
    key: str  # "" for all
    label: str
    count: int
    query: str
    current: bool


@dataclass(frozen=True)
class Header:
    label: str
    key: str  # the sort name, "" when the column does not sort
    query: str = ""
    aria_sort: str = ""  # "ascending" / "descending" on the column in force
    numeric: bool = False
    priority: int = 1  # which widths show it (dashboard/batch_rows.py PRIORITY)


# Batches a bulk retry can do something with: ended with items that failed, expired or were canceled.
RETRYABLE = Q(processing_status=Batch.Status.ENDED) & (
    Q(errored_count__gt=0) | Q(expired_count__gt=0) | Q(canceled_count__gt=0)
)


@dataclass(frozen=True)
class Offers:
    """Which bulk actions the batches in the current tab make sense for."""

    cancel: bool
    retry: bool


def tabs(
    form: BatchFilterForm, batches: QuerySet[Batch], params: QueryDict, shown_versions: list[tuple[int | str, int]],
    workspace_ids: list[int] | None,
) -> tuple[list[Tab], Offers]:  # fmt: skip
    """All, then each status tab, each with how many batches the other filters leave in it, and which bulk
    actions the current tab's batches allow. One query: of the batch tally, kept by the writes, when only the
    workspace is chosen (`workspace_ids`: those this user may see, None for all); else a count of the batches
    the filters select, none while the workspaces' versions stand still."""
    if form.narrows:
        counts = _counts(form.filter(batches, tab=False).order_by(), shown_versions, form.cleaned_data.get("expiring"))
    else:
        chosen = form.cleaned_data.get("workspace")  # among those this user may see: the form offers no other
        counts = BatchTally.objects.counts(workspace_ids if chosen is None else [chosen.pk])
    base = query_without(params, "status", "page")
    form.is_valid()
    current = form.cleaned_data.get("status") or ""
    shown = [("", "All", counts["all"])] + [(k, label, counts[k]) for k, (label, _) in BatchFilterForm.TABS.items()]
    tab_list = [
        Tab(key, label, n or 0, _join(base, f"status={key}" if key else ""), key == current) for key, label, n in shown
    ]
    in_tab = current or "all"
    cancel = bool(counts["in_progress"]) and in_tab in ("all", "in_progress")
    retry = bool(counts["retryable"]) and in_tab in ("all", "ended", "errors")
    return tab_list, Offers(cancel=cancel, retry=retry)


def _counts(selected: QuerySet[Batch], shown_versions: list[tuple[int | str, int]], moving: bool) -> dict:
    """The tabs' counts of `selected`, kept in the cache under its SQL and the versions of the workspaces shown.

    Counting is a scan of every selected batch (90-128 ms at 100,000 under load). Every write a page shows bumps
    its workspace's version in the same transaction (batches/services/versions.py), so a change moves the key
    and the next page counts afresh: an entry is never read after a change. `moving` (a filter relative to
    now) is never kept. Each entry also lapses with the polls' ETags, which bounds a bump lost to a cache outage.
    """
    per_tab = {key: Count("id", filter=q) for key, (_, q) in BatchFilterForm.TABS.items()}

    def count() -> dict:
        return selected.aggregate(all=Count("id"), retryable=Count("id", filter=RETRYABLE), **per_tab)

    if moving:
        return count()
    sql, sql_params = selected.query.sql_with_params()
    shown = ";".join(f"{pk}:{version}" for pk, version in shown_versions)
    key = "tabs:" + hashlib.sha256(f"{sql}|{sql_params!r}|{shown}".encode()).hexdigest()[:32]
    counts = cache.get(key)
    if counts is None:
        counts = count()
        cache.set(key, counts, settings.POLL_ETAG_SECONDS)
    return counts


# column label -> sort name ("" for a column that does not sort)
COLUMNS = [
    ("Workspace", ""), ("Batch", ""), ("Status", "status"), ("Created", "created"), ("Ended", "ended"),
    ("Duration", "duration"), ("Requests", "requests"), ("Progress", ""), ("Errors", "errors"), ("Cost", ""),
    ("Results", ""), ("Label", ""),
]  # fmt: skip
NUMERIC = {"Duration", "Requests", "Errors", "Cost"}


def headers(form: BatchFilterForm, params: QueryDict) -> list[Header]:
    """Each column's header; a sortable one links to sorting by it, the other way round when already in force."""
    sort = form.sort_in_force
    base = query_without(params, "sort", "page")
    out = []
    for label, key in COLUMNS:
        if not key:
            out.append(Header(label, "", numeric=label in NUMERIC, priority=PRIORITY[label]))
            continue
        ascending, descending = sort == key, sort == f"-{key}"
        # Newest, most, longest first on the first click; a second click turns it round.
        flip = key if descending else f"-{key}"
        aria = "ascending" if ascending else "descending" if descending else ""
        query = _join(base, f"sort={flip}")
        out.append(Header(label, key, query, aria, numeric=label in NUMERIC, priority=PRIORITY[label]))
    return out


def running_share(tab_list: list[Tab]) -> str:
    """What a screen reader is told when the rows refresh: only this changes when batches move on."""
    counts = {tab.key: tab.count for tab in tab_list}
    return f"{counts['in_progress']:,} in progress, {counts['canceling']:,} canceling, {counts['ended']:,} ended."


def _join(*parts: str) -> str:
    return "&".join(p for p in parts if p)


def list_query(said: str) -> str:
    """The list's filters a batch page was opened from (its `list` parameter), for the way back: only the list's
    own parameters, so the link can say nothing else."""
    from django.http import QueryDict

    from dashboard.forms import BatchFilterForm

    asked = QueryDict(said[:1000])
    kept = QueryDict(mutable=True)
    for name in [*BatchFilterForm.base_fields, "page"]:
        if asked.get(name):
            kept[name] = asked[name]
    return kept.urlencode()
