"""Querysets behind the pages: filters that live in the URL, and a keyset pager.

Every function here issues a fixed number of queries whatever the data, so pages stay fast at
10,000 batches and 1,000,000 results (bench/pages.py) and their query counts can be asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from batches.models import RESULTS_RETENTION, Batch, Result, Workspace

EXPIRING_SOON = timedelta(days=3)
PAGE_SIZE = 50


# --- batch list ---------------------------------------------------------------------------------
class BatchFilterForm(forms.Form):
    """The list's filters, all GET parameters, so a filtered view can be bookmarked and shared."""

    SORTS = {
        "-created": "-created_at",
        "created": "created_at",
        "-ended": "-ended_at",
        "ended": "ended_at",
        "-errors": "-errored_count",
        "status": "processing_status",
    }

    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.all(), required=False, to_field_name="name", empty_label="All workspaces"
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *Batch.Status.choices], required=False)
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    has_errors = forms.BooleanField(required=False, label="Has errors")
    expiring = forms.BooleanField(required=False, label="Results expiring within 3 days")
    q = forms.CharField(required=False, label="Batch id", max_length=128)
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)

    def filter(self, batches: QuerySet[Batch]) -> QuerySet[Batch]:
        if not self.is_valid():
            return batches.none()
        data = self.cleaned_data
        if data["workspace"]:
            batches = batches.filter(workspace=data["workspace"])
        if data["status"]:
            batches = batches.filter(processing_status=data["status"])
        if data["created_from"]:
            batches = batches.filter(created_at__gte=start_of(data["created_from"]))
        if data["created_to"]:
            batches = batches.filter(created_at__lt=start_of(data["created_to"] + timedelta(days=1)))
        if data["has_errors"]:
            batches = batches.filter(Q(errored_count__gt=0) | Q(malformed_count__gt=0))
        if data["expiring"]:
            # Results available until created_at + 29 days: expiring within 3 days, not yet gone.
            now = timezone.now()
            batches = batches.filter(
                created_at__gt=now - RESULTS_RETENTION,
                created_at__lte=now - RESULTS_RETENTION + EXPIRING_SOON,
                archived_at=None,
            )
        if data["q"]:
            batches = batches.filter(id__icontains=data["q"].strip())
        return batches.order_by(self.SORTS.get(data["sort"] or "-created", "-created_at"), "-id")


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --- item table ---------------------------------------------------------------------------------
class ItemFilterForm(forms.Form):
    result_type = forms.ChoiceField(
        choices=[("", "Any result"), *Result.Type.choices],
        required=False,
        widget=forms.Select(attrs={"aria-label": "Result type"}),
    )
    error_type = forms.CharField(required=False, max_length=64)
    q = forms.CharField(required=False, label="custom_id", max_length=128)

    def filter(self, results: QuerySet[Result]) -> QuerySet[Result]:
        if not self.is_valid():
            return results.none()
        data = self.cleaned_data
        if data["result_type"]:
            results = results.filter(result_type=data["result_type"])
        if data["error_type"]:
            results = results.filter(error_type=data["error_type"])
        if data["q"]:
            results = results.filter(custom_id__startswith=data["q"].strip())
        return results

    @property
    def active(self) -> dict[str, str]:
        """The filters in force, to carry into links and downloads."""
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


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


def keyset_page(results: QuerySet[Result], *, after: str = "", before: str = "", last: bool = False) -> KeysetPage:
    size = PAGE_SIZE
    if before or last:
        qs = results.filter(custom_id__lt=before) if before else results
        rows = list(qs.order_by("-custom_id")[: size + 1])
        more = len(rows) > size
        items = list(reversed(rows[:size]))
        page = KeysetPage(items, has_next=bool(before), has_previous=more)
    else:
        qs = results.filter(custom_id__gt=after) if after else results
        rows = list(qs.order_by("custom_id")[: size + 1])
        more = len(rows) > size
        items = rows[:size]
        page = KeysetPage(items, has_next=more, has_previous=bool(after))
    if items:
        page.first_key, page.last_key = items[0].custom_id, items[-1].custom_id
    return page


def query_without(params, *names: str) -> str:
    """The query string of `params` less `names`: for links that change only those (a page, a cursor)."""
    params = params.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()
