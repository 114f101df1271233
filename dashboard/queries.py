"""Every query the pages run that is more than a one-line filter: the batch list's page, the errors
rollup, a retry's selection, and the keyset pager of a batch's results.

Each issues a fixed number of queries whatever the data, so pages stay fast at 10,000 batches and
1,000,000 results (bench/pages.py) and their query counts can be asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django import forms
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.http import QueryDict

from batches.models import INCOMPLETE_STOP_REASONS, Batch, ErrorCount, IncompleteCount, Result, Workspace
from batches.triage import advice, retry_as_is_q
from dashboard.forms import ItemFilterForm, start_of
from dashboard.forms.fields import DayField
from dashboard.spend.figures import spend_of_batches

PAGE_SIZE = 50
TOP_BATCHES = 10


# --- the batch list ------------------------------------------------------------------------------
def batch_page(batches: QuerySet[Batch], number: str | None, *, count: int | None = None) -> tuple[Page, list[Batch]]:
    """One page of the list, each batch with its workspace, submitter and `spend`: four queries, three when the
    caller knows how many `batches` holds (`count`: the status tab's, itself kept while nothing changes).

    It pages through ids alone (an index-only scan, even on the last page), then loads those rows.
    """
    paginator = _FromNearerEnd(batches.values_list("id", flat=True), PAGE_SIZE)
    if count is not None:
        # Counting is the list's slowest query at scale (98 ms of a 165 ms page at a million batches).
        paginator.count = count
    page = paginator.get_page(number)
    rows = Batch.objects.select_related("workspace", "submitted_by").in_bulk(list(page.object_list))
    shown = [rows[batch_id] for batch_id in page.object_list if batch_id in rows]
    costs = spend_of_batches(list(rows))
    for batch in shown:
        batch.spend = costs.get(batch.id)
    return page, shown


class _FromNearerEnd(Paginator):
    """A page past the middle is read from the other end, in the reverse order, and turned round: an OFFSET walks
    the index from its start, so the last of 20,000 pages walked 999,950 entries (2.1x the admin changelist).
    Every order the list sorts by ends in the id, so the reverse order is exact."""

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = self.count if bottom + self.per_page + self.orphans >= self.count else bottom + self.per_page
        if bottom <= self.count // 2 or not self.object_list.ordered:
            return super().page(number)
        rows = list(self.object_list.reverse()[self.count - top : self.count - bottom])
        rows.reverse()
        return self._get_page(rows, number, self)


# --- errors across batches -----------------------------------------------------------------------
def error_groups(
    workspace_name: str = "", start: datetime | None = None, end: datetime | None = None, *,
    visible: list[int] | None = None,
) -> list[dict]:  # fmt: skip
    """Errored results by error type, then workspace, with each type's top batches: two queries. Only the
    `visible` workspaces (None: every one); optionally one of them, and only batches created in [start, end)."""
    counts = ErrorCount.objects.all()
    workspace_id = None
    if workspace_name:
        workspace_id = Workspace.objects.filter(name=workspace_name).values_list("id", flat=True).first()
        if visible is not None and workspace_id not in visible:
            workspace_id = 0  # not one of theirs: nothing, rather than everything
        counts = counts.filter(workspace_id=workspace_id)
    elif visible is not None:
        counts = counts.filter(workspace_id__in=visible)
    counts = _created_in(counts, start, end, workspace_id, visible)
    # Per type and workspace; a batch is in one workspace, so these also sum to the type's totals.
    by_workspace = (
        counts.values("error_type", "workspace__name")
        .annotate(total=Sum("count"), batches=Count("batch_id"))
        .order_by("-total")
    )
    groups: dict[str, dict] = {}
    for row in by_workspace:
        error_type = row["error_type"]
        group = groups.setdefault(error_type, {
            "error_type": error_type, "total": 0, "batches": 0, "workspaces": [], "top": [],
            "advice": advice(error_type),
        })  # fmt: skip
        group["total"] += row["total"]
        group["batches"] += row["batches"]
        group["workspaces"].append(row)
    for error_count in _top_batches(list(groups), workspace_id, start, end, visible):
        groups[error_count.error_type]["top"].append(error_count)
    return sorted(groups.values(), key=lambda g: -g["total"])


def incomplete_groups(
    workspace_name: str = "", start: datetime | None = None, end: datetime | None = None, *,
    visible: list[int] | None = None,
) -> list[dict]:  # fmt: skip
    """Incomplete answers (cut off, paused, refused) by stop reason and refusal category, then workspace: one query
    of the ingest's rollup, scoped as `error_groups` is."""
    counts = IncompleteCount.objects.all()
    workspace_id = None
    if workspace_name:
        workspace_id = Workspace.objects.filter(name=workspace_name).values_list("id", flat=True).first()
        workspace_id = 0 if visible is not None and workspace_id not in visible else workspace_id
        counts = counts.filter(workspace_id=workspace_id)
    elif visible is not None:
        counts = counts.filter(workspace_id__in=visible)
    counts = _created_in(counts, start, end, workspace_id, visible)
    rows = counts.values("stop_reason", "category", "workspace__name").annotate(
        total=Sum("count"), batches=Count("batch_id")
    )
    groups: dict[tuple[str, str], dict] = {}
    for row in rows.order_by("stop_reason", "category", "-total"):
        key = (row["stop_reason"], row["category"])
        group = groups.setdefault(key, {"stop_reason": key[0], "category": key[1], "total": 0, "batches": 0,
                                        "workspaces": []})  # fmt: skip
        group["total"] += row["total"]
        group["batches"] += row["batches"]
        group["workspaces"].append(row)
    return sorted(groups.values(), key=lambda g: (-g["total"], g["stop_reason"], g["category"]))


def _created_in(counts, start: datetime | None, end: datetime | None, workspace_id: int | None,
                visible: list[int] | None):  # fmt: skip
    """Rollup rows of batches created in [start, end). The rows' workspaces are said of their batches too: the batch
    is read for its date, and PostgreSQL then reads one workspace's batches in the span from one index
    (migration 0042), where it read every batch of the span (a million batches: 120-160 ms, now 60 ms)."""
    if not (start or end):
        return counts
    if workspace_id is not None:
        counts = counts.filter(batch__workspace_id=workspace_id)
    elif visible is not None:
        counts = counts.filter(batch__workspace_id__in=visible)
    if start:
        counts = counts.filter(batch__created_at__gte=start)
    if end:
        counts = counts.filter(batch__created_at__lt=end)
    return counts


def _top_batches(
    error_types: list[str], workspace_id: int | None, start: datetime | None, end: datetime | None,
    visible: list[int] | None = None,
) -> list[ErrorCount]:  # fmt: skip
    """The batches with most errors of each type: per type a short scan of its rank index, all in one
    UNION ALL query whatever the number of types (ranking every row first took 85 ms at 10,000
    batches). Each LIMIT sits in its own subquery, as SQLite requires."""
    if not error_types:
        return []
    table, batches, limit = ErrorCount._meta.db_table, Batch._meta.db_table, TOP_BATCHES
    where, extra = ["e.error_type = %s"], []
    dated = start is not None or end is not None
    # The workspace said of the joined batch too, as _created_in does.
    conditions = [
        ("e.workspace_id = %s", workspace_id),
        ("b.workspace_id = %s", workspace_id if dated else None),
        ("b.created_at >= %s", start),
        ("b.created_at < %s", end),
    ]
    for clause, value in conditions:
        if value is not None:
            where.append(clause)
            extra.append(value)
    if workspace_id is None and visible is not None:
        for alias in ("e", "b") if dated else ("e",):
            where.append(f"{alias}.workspace_id IN ({', '.join(['%s'] * len(visible)) or 'NULL'})")
            extra.extend(visible)
    join = f" JOIN {batches} b ON b.id = e.batch_id" if dated else ""
    sql = " UNION ALL ".join(
        f"SELECT * FROM (SELECT e.id FROM {table} e{join} WHERE {' AND '.join(where)} "
        f"ORDER BY e.count DESC, e.batch_id LIMIT {limit}) AS t{i}"
        for i in range(len(error_types))
    )
    params = [p for t in error_types for p in (t, *extra)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pks = [row[0] for row in cursor.fetchall()]
    top = ErrorCount.objects.filter(pk__in=pks).select_related("batch__workspace")
    return list(top.order_by("error_type", "-count", "batch_id"))


# --- what a retry covers -------------------------------------------------------------------------
def _retry_dates(params: QueryDict) -> tuple[date | None, date | None] | None:
    """The retry's `created_from` and `created_to` as days (None where not given); None if either is no day."""
    try:
        return tuple(DayField(required=False).clean(params.get(name)) for name in ("created_from", "created_to"))
    except forms.ValidationError:
        return None


def dates_readable(params: QueryDict) -> bool:
    """Whether the retry's `created_from` and `created_to`, where given, are days (dashboard.forms.fields)."""
    return _retry_dates(params) is not None


def retry_selection(params: QueryDict, visible: list[int] | None = None) -> QuerySet[Result] | None:
    """The results a retry covers, from GET parameters: one batch (with the item table's filters or
    chosen custom_ids), or a workspace's batches created in a date range; `kind` narrows to result
    types (expired, canceled, errored) or error types (overloaded_error, …), several allowed, or to
    `retryable`: every item that can be sent again as it is.
    None when the parameters name neither a batch nor a workspace."""
    results = Result.objects.all() if visible is None else Result.objects.filter(batch__workspace_id__in=visible)
    if params.get("batch"):
        results = results.filter(batch_id=params["batch"])
    elif params.get("workspace"):
        results = results.filter(batch__workspace__name=params["workspace"])
        dates = _retry_dates(params)
        if dates is None:
            return results.none()  # a date that is not one selects nothing, never the whole workspace
        start, end = dates
        if start:
            results = results.filter(batch__created_at__gte=start_of(start))
        if end:
            results = results.filter(batch__created_at__lt=start_of(end + timedelta(days=1)))
    else:
        return None
    if custom_ids := params.getlist("custom_id"):
        results = results.filter(custom_id__in=custom_ids)
    elif params.get("selected"):
        return results.none()  # "Retry selected" with nothing ticked selects nothing, not everything
    if kinds := params.getlist("kind"):
        # "retryable": whatever can be sent again as it is (batches/triage.py); else result or error types.
        types = [k for k in kinds if k in Result.Type.values]
        stops = INCOMPLETE_STOP_REASONS if "incomplete" in kinds else [k for k in kinds if k in INCOMPLETE_STOP_REASONS]
        named = [k for k in kinds if k not in types and k not in stops and k not in ("retryable", "incomplete")]
        chosen = Q(result_type__in=types) | Q(error_type__in=named)
        chosen |= Q(result_type=Result.Type.SUCCEEDED, stop_reason__in=stops)
        results = results.filter(chosen | retry_as_is_q() if "retryable" in kinds else chosen)
    return ItemFilterForm(params).filter(results)


# --- a batch's results, by keyset ----------------------------------------------------------------
@dataclass
class KeysetPage:
    """One page of results ordered by custom_id, reached by cursor rather than OFFSET.

    OFFSET 99,950 reads 99,950 index entries; a cursor reads 50, so the last page of a
    100,000-item batch costs what the first does.
    """

    items: list[Result]
    has_next: bool = False
    has_previous: bool = False
    first_key: str = ""
    last_key: str = ""


def keyset_page(
    results: QuerySet[Result], *, after: str = "", before: str = "", last: bool = False, keys_first: bool = False
) -> KeysetPage:
    """One page of one batch's `results` by custom_id. `keys_first`: read the page's custom_ids alone, then their
    rows (a prefix search: _first)."""
    size = PAGE_SIZE
    if before or last:
        qs = results.filter(custom_id__lt=before) if before else results
        rows = _first(qs.order_by("-custom_id"), size + 1, keys_first)
        more = len(rows) > size
        items = list(reversed(rows[:size]))
        page = KeysetPage(items, has_next=bool(before), has_previous=more)
    else:
        qs = results.filter(custom_id__gt=after) if after else results
        rows = _first(qs.order_by("custom_id"), size + 1, keys_first)
        more = len(rows) > size
        items = rows[:size]
        page = KeysetPage(items, has_next=more, has_previous=bool(after))
    if items:
        page.first_key, page.last_key = items[0].custom_id, items[-1].custom_id
    return page


def _first(ordered: QuerySet[Result], n: int, keys_first: bool) -> list[Result]:
    """The first `n` of one batch's results, in order.

    With a custom_id prefix, PostgreSQL cannot tell how many of a batch match (the database's collation keeps the
    prefix from being a range of the index): for a batch of 226,769 results it guessed one row and scanned every
    result of every batch (263 ms at 3,000,000 results). The custom_ids alone come from the (batch, custom_id)
    index, whose entries hold what the prefix tests (20 ms), then the rows of those few keys."""
    if not keys_first:
        return list(ordered[:n])
    keys = list(ordered.values_list("custom_id", flat=True)[:n])
    rows = {row.custom_id: row for row in ordered.filter(custom_id__in=keys)}  # custom_id is unique in a batch
    return [rows[key] for key in keys]


def query_without(params: QueryDict, *names: str) -> str:
    """The query string of `params` less `names`: for links that change only those (a page, a cursor)."""
    params = params.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()
