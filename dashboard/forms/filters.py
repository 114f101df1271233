"""The filters that live in URLs: each turns its GET parameters into queryset filters (`filter()`).

An invalid one selects nothing rather than everything, so a malformed link never widens what a page or an
action covers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.models import User
from django.db.models import F, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from batches.models import (
    RESULTS_EXPIRING_SOON,
    RESULTS_RETENTION,
    AuditEvent,
    Batch,
    RequestInput,
    Result,
    Submission,
    Workspace,
)
from dashboard.forms.fields import DayField

SPEND_DEFAULT_DAYS = 30


def start_of(day: date) -> datetime:
    """Midnight at the start of `day` in the active (the browser's) time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


# --- filters -------------------------------------------------------------------------------------
_HAS_ERRORS = Q(errored_count__gt=0) | Q(malformed_count__gt=0)
_SEARCH = forms.TextInput(
    attrs={"type": "search", "data-search": "", "placeholder": "Batch id, label, submitter or custom_id"}
)


class BatchFilterForm(forms.Form):
    """The batch list's filters, all GET parameters, so a filtered view can be bookmarked and shared."""

    # name -> the ordering; each column sorts both ways ("-" first: newest, most, longest).
    SORTS = {
        "created": "created_at", "ended": "ended_at", "status": "processing_status", "errors": "errored_count",
        "requests": "request_total", "duration": "duration",
    }  # fmt: skip
    # The status tabs: name -> (label, filter).
    TABS = {
        "in_progress": ("In progress", Q(processing_status=Batch.Status.IN_PROGRESS)),
        "canceling": ("Canceling", Q(processing_status=Batch.Status.CANCELING)),
        "ended": ("Ended", Q(processing_status=Batch.Status.ENDED)),
        "errors": ("Ended with errors", Q(processing_status=Batch.Status.ENDED) & _HAS_ERRORS),
    }

    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.all(), required=False, to_field_name="name", empty_label="All workspaces"
    )

    def __init__(self, *args, workspaces: QuerySet[Workspace] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._searched: Q | None = None
        if workspaces is not None:  # only those this user may see: no other workspace's name is shown
            self.fields["workspace"].queryset = workspaces

    status = forms.ChoiceField(choices=[("", "Any status"), *((k, label) for k, (label, _) in TABS.items())],
                               required=False)  # fmt: skip
    created_from = DayField(required=False, label="Created from")
    created_to = DayField(required=False, label="to")
    has_errors = forms.BooleanField(required=False, label="Has errors")
    expiring = forms.BooleanField(required=False, label="Results expiring within 3 days")
    q = forms.CharField(required=False, label="Search", max_length=128, widget=_SEARCH)
    sort = forms.ChoiceField(choices=[(f"{d}{k}", k) for k in SORTS for d in ("", "-")], required=False)

    def filter(self, batches: QuerySet[Batch], *, tab: bool = True) -> QuerySet[Batch]:
        """The batches these filters select, sorted; `tab=False` leaves the status tab out (for its counts)."""
        # A filter that cannot be read (a bad date, an unknown sort) is left out and the page names it
        # (`ignored`); the others still apply, rather than an empty list that looks like "no batches".
        self.is_valid()
        data = {name: self.cleaned_data.get(name) for name in self.fields}
        if data["workspace"]:
            batches = batches.filter(workspace=data["workspace"])
        if tab and data["status"]:
            batches = batches.filter(self.TABS[data["status"]][1])
        if data["created_from"]:
            batches = batches.filter(created_at__gte=start_of(data["created_from"]))
        if data["created_to"]:
            batches = batches.filter(created_at__lt=start_of(data["created_to"] + timedelta(days=1)))
        if data["has_errors"]:
            batches = batches.filter(_HAS_ERRORS)
        if data["expiring"]:
            # Results available until created_at + 29 days: expiring within 3 days, not yet gone.
            now = timezone.now()
            batches = batches.filter(
                created_at__gt=now - RESULTS_RETENTION,
                created_at__lte=now - RESULTS_RETENTION + RESULTS_EXPIRING_SOON,
                archived_at=None,
            )
        if data["q"]:
            if self._searched is None:  # the list and its tabs' counts both filter: look up once
                self._searched = _search(data["q"].strip())
            batches = batches.filter(self._searched)
        return self._sorted(batches)

    def _sorted(self, batches: QuerySet[Batch]) -> QuerySet[Batch]:
        sort = self.cleaned_data.get("sort") or "-created"
        name = sort.lstrip("-")
        if name == "duration":
            batches = batches.annotate(duration=F("ended_at") - F("created_at"))
        field = self.SORTS[name]
        if name == "created":
            # Exactly the order of the batch_by_created index (created_at DESC, id DESC), read forwards or
            # backwards: the page is read off the index. `DESC NULLS LAST` on this never-null column made
            # PostgreSQL scan and sort every batch for each page instead (22 ms at 100,000 batches).
            return (
                batches.order_by("-created_at", "-id") if sort.startswith("-") else batches.order_by("created_at", "id")
            )
        order = F(field).desc(nulls_last=True) if sort.startswith("-") else F(field).asc(nulls_last=True)
        return batches.order_by(order, "-created_at", "-id")

    @property
    def narrows(self) -> bool:
        """Whether a filter other than the workspace (and the tab, and the order) is in force: without one, the
        tabs' counts are the batch tally's (batches/models/tally.py), not a count of the filtered batches."""
        self.is_valid()
        narrowing = ("created_from", "created_to", "has_errors", "expiring", "q")
        return any(self.cleaned_data.get(name) for name in narrowing)

    @property
    def sort_in_force(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("sort") or "-created"

    @property
    def ignored(self) -> list[str]:
        return unread_filters(self)


def unread_filters(form: forms.Form) -> list[str]:
    """What the URL asked that could not be read, said plainly: "sort=bogus: not a choice"."""
    form.is_valid()
    said = []
    for name, errors in form.errors.items():
        value = form.data.get(name, "")
        said.append(f"{name}={value}: {' '.join(str(e).rstrip('.') for e in errors).lower()}")
    return said


MANY_BATCHES = 500  # a custom_id in more batches than this is matched by a subquery, not a list of ids


def _search(q: str) -> Q:
    """A batch id (part of one), a label, a submitter's user name, or the exact custom_id of one of its results or
    kept requests: three small queries (the submitter's id, the batches holding that custom_id in their results, then
    in their kept requests), then one condition per column.

    On PostgreSQL each part of the OR has its own index (the trigram indexes on UPPER(id) and UPPER(label) of
    migrations 0043 and 0032, the submitter's, the primary key), so a narrow search reads a few index entries,
    and a broad one is a single scan. With a subquery among them (as the submitter and custom_id were),
    PostgreSQL scanned every batch for any search (40-60 ms a query at 100,000 batches)."""
    # A batch id is case-sensitive (base62), so part of one is matched as typed.
    submitters = list(User.objects.filter(username__iexact=q).values_list("pk", flat=True))
    # Answered by the index on custom_id alone (migration 0018); exact, as that hash index is.
    holding = Result.objects.filter(custom_id=q).values_list("batch_id", flat=True)
    # A running batch has no results yet: its kept requests name its items (the index of migration 0044).
    kept = RequestInput.objects.filter(custom_id=q, batch__isnull=False).values_list("batch_id", flat=True)
    batch_ids = list({*holding[: MANY_BATCHES + 1], *kept[: MANY_BATCHES + 1]})
    by_custom_id = Q(pk__in=batch_ids) if len(batch_ids) <= MANY_BATCHES else Q(pk__in=holding) | Q(pk__in=kept)
    # Part of an id: case-insensitively first, which the trigram index on UPPER(id) answers (migration 0043), then
    # exactly as typed among those.
    by_id = Q(id__icontains=q) & Q(id__contains=q)
    return by_id | Q(label__icontains=q) | Q(submitted_by__in=submitters) | by_custom_id


class ItemFilterForm(forms.Form):
    """A batch's result table filters (also what a download or a retry of "these items" covers)."""

    result_type = forms.ChoiceField(
        choices=[("", "Any result"), *Result.Type.choices],
        required=False,
        widget=forms.Select(attrs={"aria-label": "Result type"}),
    )
    error_type = forms.CharField(required=False, max_length=64)
    stop_reason = forms.CharField(required=False, max_length=64)  # e.g. the incomplete answers of one kind
    q = forms.CharField(required=False, label="custom_id", max_length=128)

    def filter(self, results: QuerySet[Result]) -> QuerySet[Result]:
        if not self.is_valid():
            return results.none()
        data = self.cleaned_data
        if data["result_type"]:
            results = results.filter(result_type=data["result_type"])
        if data["stop_reason"]:
            results = results.filter(stop_reason=data["stop_reason"])
        if data["error_type"]:
            results = results.filter(error_type=data["error_type"])
        if data["q"]:
            results = results.filter(custom_id__startswith=data["q"].strip())
        return results

    @property
    def searches(self) -> bool:
        """Whether a valid custom_id prefix narrows the results."""
        return self.is_valid() and bool(self.cleaned_data["q"].strip())

    @property
    def filtered(self) -> bool:
        """Whether any of these filters was asked for (valid or not)."""
        return any(self.data.get(name) for name in self.fields)

    @property
    def active(self) -> dict[str, str]:
        """The filters in force, to carry into links and downloads."""
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class ErrorFilterForm(forms.Form):
    """The errors view's filters; a retry from it covers the same workspace and dates."""

    workspace = forms.ChoiceField(required=False, label="Workspace")
    created_from = DayField(required=False, label="Batches created from")
    created_to = DayField(required=False, label="to")

    def __init__(self, *args, workspaces: QuerySet[Workspace] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = (
            (workspaces if workspaces is not None else Workspace.objects.all()).filter(is_active=True).order_by("name")
        )
        self.fields["workspace"].choices = [
            ("", "All workspaces"),
            *((n, n) for n in names.values_list("name", flat=True)),
        ]

    def range(self) -> tuple[datetime | None, datetime | None]:
        data = self.cleaned_data
        start = start_of(data["created_from"]) if data["created_from"] else None
        end = start_of(data["created_to"] + timedelta(days=1)) if data["created_to"] else None
        return start, end

    def retry_query(self) -> str:
        """The retry page's parameters for these filters (less the workspace, which each link names)."""
        return urlencode({k: self.data[k] for k in ("created_from", "created_to") if self.data.get(k)})


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditEvent.Action.choices], required=False)
    actor = forms.CharField(required=False, max_length=150)
    target = forms.CharField(required=False, max_length=200)
    since = DayField(required=False)
    until = DayField(required=False)

    @property
    def unread(self) -> list[str]:
        """Filters that could not be read: nothing is listed, and the page says why (an empty log is a finding)."""
        return unread_filters(self)

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if not self.is_valid():
            return events.none()
        data = self.cleaned_data
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["actor"]:
            events = events.filter(actor_name=data["actor"])
        if data["target"]:
            # A retry's target is its label ("Retry of msgbatch_…", or "of 3 batches"): the batches it retried are
            # its `parents` (the first 20, as recorded), and an audit of one batch must list its retries too. Matched
            # as the target is, from the start of an id (the JSON list's opening quote) and, on PostgreSQL, in case.
            target = data["target"]
            parents = KeyTextTransform("parents", "params")
            events = events.alias(parents=parents).filter(
                Q(target__startswith=target) | Q(action="retry", parents__contains=f'"{target}')
            )
        if data["since"]:
            events = events.filter(at__date__gte=data["since"])
        if data["until"]:
            events = events.filter(at__date__lte=data["until"])
        return events


class SubmissionFilterForm(forms.Form):
    """The submissions list's filters (GET): which state, which kind, which workspace, only mine."""

    STATES = {
        "draft": ("Drafts", Q(confirmed_at=None, discarded_at=None)),
        "sent": ("Sent", Q(confirmed_at__isnull=False)),
        "discarded": ("Discarded", Q(discarded_at__isnull=False)),
    }
    state = forms.ChoiceField(choices=[("", "Any"), *((k, label) for k, (label, _) in STATES.items())], required=False)
    kind = forms.ChoiceField(choices=[("", "Uploads and retries"), *Submission.Kind.choices], required=False)
    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.all(), required=False, to_field_name="name", empty_label="All workspaces"
    )
    mine = forms.BooleanField(required=False, label="Only mine")

    def __init__(self, *args, workspaces: QuerySet[Workspace], user: Any, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workspace"].queryset = workspaces  # only those this user may see
        self.user = user

    def filter(self, submissions: QuerySet[Submission], *, state: bool = True) -> QuerySet[Submission]:
        """Newest first; a filter that cannot be read selects nothing (the page names it). `state=False`: for the
        tabs' counts."""
        if not self.is_valid():
            return submissions.none()
        data = self.cleaned_data
        if state and data["state"]:
            submissions = submissions.filter(self.STATES[data["state"]][1])
        if data["kind"]:
            submissions = submissions.filter(kind=data["kind"])
        if data["workspace"]:
            submissions = submissions.filter(workspace=data["workspace"])
        if data["mine"]:
            submissions = submissions.filter(created_by=self.user)
        return submissions.order_by("-created_at", "-pk")


class SpendFilterForm(forms.Form):
    """The spend report's filters, all GET parameters; missing ones take their defaults (the last 30 days)."""

    period = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week"), ("month", "Month")])
    group = forms.ChoiceField(
        choices=[
            ("workspace", "Workspace"),
            ("model", "Model"),
            ("submitter", "Submitter"),
            ("user_profile", "User profile"),
            ("none", "Nothing"),
        ]  # fmt: skip
    )
    workspace = forms.ChoiceField(required=False)

    def __init__(self, data, *, today: date | None = None, workspaces: QuerySet[Workspace] | None = None) -> None:
        today = today or datetime.now(UTC).date()  # rollups are dated by UTC day
        defaults = {"period": "day", "group": "workspace", "to": today.isoformat(),
                    "from": (today - timedelta(days=SPEND_DEFAULT_DAYS - 1)).isoformat()}  # fmt: skip
        super().__init__({**defaults, **{k: v for k, v in data.items() if v}})
        self.fields["from"] = DayField(label="From")
        self.fields["to"] = DayField(label="To")
        # Only the workspaces this user may see: their names are the choices, and "all" means all of these.
        self.workspace_ids = dict(
            (workspaces if workspaces is not None else Workspace.objects.all())
            .order_by("name")
            .values_list("name", "id")
        )
        self.scoped = workspaces is not None
        self.fields["workspace"].choices = [("", "All workspaces"), *((n, n) for n in self.workspace_ids)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    @property
    def params(self) -> dict[str, str]:
        """The filters in force, defaults included: for the export link and the audit log."""
        data = self.cleaned_data
        params = {"period": data["period"], "group": data["group"], "from": data["from"].isoformat(),
                  "to": data["to"].isoformat()}  # fmt: skip
        return {**params, "workspace": data["workspace"]} if data["workspace"] else params


class RangeForm(forms.Form):
    """The reconciliation page's days."""

    start = DayField(required=False)
    end = DayField(required=False)
