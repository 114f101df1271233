"""Every form of the dashboard: the filters that live in URLs, and the action forms.

A filter form turns its GET parameters into queryset filters (`filter()`); an invalid one selects
nothing rather than everything, so a malformed link never widens what a page or an action covers.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core import validators
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from batches.models import (
    RESULTS_EXPIRING_SOON,
    RESULTS_RETENTION,
    AuditEvent,
    Batch,
    Delivery,
    EventKind,
    NotificationChannel,
    NotifyThresholds,
    Result,
    Workspace,
)
from batches.notify import deliver

SPEND_DEFAULT_DAYS = 30
_DATE_INPUT = forms.DateInput(attrs={"type": "date"})


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
        if workspaces is not None:  # only those this user may see: no other workspace's name is shown
            self.fields["workspace"].queryset = workspaces

    status = forms.ChoiceField(choices=[("", "Any status"), *((k, label) for k, (label, _) in TABS.items())],
                               required=False)  # fmt: skip
    created_from = forms.DateField(required=False, widget=_DATE_INPUT, label="Created from")
    created_to = forms.DateField(required=False, widget=_DATE_INPUT, label="to")
    has_errors = forms.BooleanField(required=False, label="Has errors")
    expiring = forms.BooleanField(required=False, label="Results expiring within 3 days")
    q = forms.CharField(required=False, label="Search", max_length=128, widget=_SEARCH)
    sort = forms.ChoiceField(choices=[(f"{d}{k}", k) for k in SORTS for d in ("", "-")], required=False)

    def filter(self, batches: QuerySet[Batch], *, tab: bool = True) -> QuerySet[Batch]:
        """The batches these filters select, sorted; `tab=False` leaves the status tab out (for its counts)."""
        if not self.is_valid():
            return batches.none()
        data = self.cleaned_data
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
            batches = batches.filter(_search(data["q"].strip()))
        return self._sorted(batches)

    def _sorted(self, batches: QuerySet[Batch]) -> QuerySet[Batch]:
        sort = self.cleaned_data["sort"] or "-created"
        name = sort.lstrip("-")
        if name == "duration":
            batches = batches.annotate(duration=F("ended_at") - F("created_at"))
        field = self.SORTS[name]
        order = F(field).desc(nulls_last=True) if sort.startswith("-") else F(field).asc(nulls_last=True)
        return batches.order_by(order, "-created_at", "-id")

    @property
    def sort_in_force(self) -> str:
        return (self.cleaned_data.get("sort") if self.is_valid() else "") or "-created"


def _search(q: str) -> Q:
    """A batch id (part of one), a label, a submitter's user name, or the exact custom_id of one of its results."""
    found = Q(id__icontains=q) | Q(label__icontains=q) | Q(submitted_by__username__iexact=q)
    # Answered by the index on custom_id alone (migration 0018); exact, as that hash index is.
    return found | Q(pk__in=Result.objects.filter(custom_id=q).values("batch_id"))


class ItemFilterForm(forms.Form):
    """A batch's result table filters (also what a download or a retry of "these items" covers)."""

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
    created_from = forms.DateField(required=False, widget=_DATE_INPUT, label="Batches created from")
    created_to = forms.DateField(required=False, widget=_DATE_INPUT, label="to")

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
    since = forms.DateField(required=False, widget=_DATE_INPUT)
    until = forms.DateField(required=False, widget=_DATE_INPUT)

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if not self.is_valid():
            return events.none()
        data = self.cleaned_data
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["actor"]:
            events = events.filter(actor_name=data["actor"])
        if data["target"]:
            events = events.filter(target__startswith=data["target"])
        if data["since"]:
            events = events.filter(at__date__gte=data["since"])
        if data["until"]:
            events = events.filter(at__date__lte=data["until"])
        return events


class SpendFilterForm(forms.Form):
    """The spend report's filters, all GET parameters; missing ones take their defaults (the last 30 days)."""

    period = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week"), ("month", "Month")])
    group = forms.ChoiceField(
        choices=[("workspace", "Workspace"), ("model", "Model"), ("submitter", "Submitter"), ("none", "Nothing")]
    )
    workspace = forms.ChoiceField(required=False)

    def __init__(self, data, *, today: date | None = None, workspaces: QuerySet[Workspace] | None = None) -> None:
        today = today or datetime.now(UTC).date()  # rollups are dated by UTC day
        defaults = {"period": "day", "group": "workspace", "to": today.isoformat(),
                    "from": (today - timedelta(days=SPEND_DEFAULT_DAYS - 1)).isoformat()}  # fmt: skip
        super().__init__({**defaults, **{k: v for k, v in data.items() if v}})
        self.fields["from"] = forms.DateField(label="From", widget=_DATE_INPUT)
        self.fields["to"] = forms.DateField(label="To", widget=_DATE_INPUT)
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

    start = forms.DateField(required=False, widget=_DATE_INPUT)
    end = forms.DateField(required=False, widget=_DATE_INPUT)


# --- actions -------------------------------------------------------------------------------------
def _choose_the_only_workspace(field: forms.ModelChoiceField) -> None:
    """With one workspace there is nothing to choose: it is selected, with no "---------" before it."""
    only = list(field.queryset[:2])
    if len(only) == 1:
        field.initial, field.empty_label = only[0].name, None


class UploadForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.filter(is_active=True), to_field_name="name")
    label = forms.CharField(max_length=200, required=False)
    file = forms.FileField(help_text='One request per line: {"custom_id": …, "params": {…}}')
    again = forms.BooleanField(required=False, label="Submit again, even if this exact file was submitted before")

    def __init__(self, *args, workspaces: QuerySet[Workspace] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if workspaces is not None:  # those in which this user may do it
            self.fields["workspace"].queryset = workspaces.filter(is_active=True)
        _choose_the_only_workspace(self.fields["workspace"])


class AttachForm(forms.Form):
    file = forms.FileField(help_text="The JSONL file the batch was created from")


class RetryChoiceForm(forms.Form):
    """What a retry across a workspace's batches covers (the retry page's GET parameters)."""

    KINDS = [
        ("retryable", "Everything that can be sent again as it is (transient errors, expired, canceled)"),
        ("overloaded_error", "overloaded_error"), ("api_error", "api_error"), ("rate_limit_error", "rate_limit_error"),
        ("timeout_error", "timeout_error"), ("expired", "Expired items"), ("canceled", "Canceled items"),
        ("invalid_request_error", "invalid_request_error (needs the request fixed)"),
    ]  # fmt: skip

    workspace = forms.ModelChoiceField(queryset=Workspace.objects.filter(is_active=True), to_field_name="name")
    created_from = forms.DateField(required=False, widget=_DATE_INPUT, label="Batches created from")
    created_to = forms.DateField(required=False, widget=_DATE_INPUT, label="to")
    kind = forms.MultipleChoiceField(choices=KINDS, initial=["retryable"], widget=forms.CheckboxSelectMultiple,
                                     label="Items")  # fmt: skip

    def __init__(self, *args, workspaces: QuerySet[Workspace] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if workspaces is not None:  # those in which this user may do it
            self.fields["workspace"].queryset = workspaces.filter(is_active=True)
        _choose_the_only_workspace(self.fields["workspace"])


class RetryOptionsForm(forms.Form):
    model = forms.CharField(required=False, max_length=128, help_text="Send every item to this model instead")
    max_tokens = forms.IntegerField(required=False, min_value=1, help_text="Override max_tokens for every item")
    include_needs_fix = forms.BooleanField(required=False, label="Also send the items that need a fix, unchanged")
    edit_result = forms.IntegerField(required=False, widget=forms.HiddenInput)
    edit_params = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 80}))

    def clean_edit_params(self) -> dict | None:
        text = self.cleaned_data["edit_params"].strip()
        if not text:
            return None
        try:
            params = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(params, dict) or not {"model", "max_tokens", "messages"} <= params.keys():
            raise forms.ValidationError("The params must be an object with model, max_tokens and messages.")
        return params

    def overrides(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("model", "max_tokens") if data.get(k)}

    def edits(self) -> dict[str, dict]:
        data = self.cleaned_data
        return (
            {str(data["edit_result"]): data["edit_params"]} if data.get("edit_params") and data["edit_result"] else {}
        )


# --- notifications -------------------------------------------------------------------------------
class _EventChoices(forms.MultipleChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(choices=EventKind.choices, widget=forms.CheckboxSelectMultiple, required=False, **kwargs)


class ChannelForm(forms.ModelForm):
    """An Admin's channel and its rule. The secret is write-only: never rendered back, only its hint."""

    events = _EventChoices(help_text="None ticked: every event")
    workspaces = forms.ModelMultipleChoiceField(
        queryset=Workspace.objects.all(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every workspace",
    )  # fmt: skip
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=True,
        help_text="Webhook: the signing secret. Slack or Apprise: the whole URL (it holds the service's token). "
        "Leave empty to keep the current one.",
    )  # fmt: skip

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "address", "events", "workspaces", "errors_high_share", "digest", "is_active"]
        labels = {"address": "Email addresses or webhook URL", "errors_high_share": "Errors threshold"}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, address, secret = data.get("kind"), data.get("address", "").strip(), data.get("secret", "")
        # A stored secret is kept only for the same kind: a webhook's signing secret is no Slack URL.
        same_kind = self.instance.pk and self.instance.kind == kind
        has_secret = bool(secret or (same_kind and self.instance.secret_encrypted))
        Kind = NotificationChannel.Kind
        if kind == Kind.EMAIL:
            addresses = [a.strip() for a in address.split(",") if a.strip()]
            if not addresses:
                self.add_error("address", "An email channel needs at least one address.")
            for a in addresses:
                try:
                    validators.validate_email(a)
                except forms.ValidationError:
                    self.add_error("address", f"{a} is not an email address.")
        elif kind == Kind.WEBHOOK:
            if problem := deliver.url_problem(address):
                self.add_error("address", f"The webhook URL is refused: {problem}.")
            if not has_secret:
                self.add_error("secret", "A webhook needs a signing secret (its receivers verify X-Signature-256).")
        elif kind in (Kind.SLACK, Kind.APPRISE):
            data["address"] = ""  # the URL is the secret
            if not has_secret:
                self.add_error("secret", "Enter the service's URL.")
            elif secret:
                check = deliver.url_problem if kind == Kind.SLACK else deliver.apprise_problem
                if problem := check(secret):
                    self.add_error("secret", f"The URL is refused: {problem}.")
        return data

    def save(self, commit: bool = True) -> NotificationChannel:
        if self.cleaned_data.get("secret"):
            self.instance.set_secret(self.cleaned_data["secret"])
        elif self.cleaned_data.get("kind") == NotificationChannel.Kind.EMAIL:
            self.instance.set_secret("")
        return super().save(commit)


class ThresholdsForm(forms.ModelForm):
    class Meta:
        model = NotifyThresholds
        fields = ["errors_high_share", "expiring_hours", "at_risk_days", "sync_failing_minutes", "budget_warning_share"]


class MyNotificationsForm(forms.Form):
    """A user's own email subscription: which events, which of the workspaces they can see, how often."""

    enabled = forms.BooleanField(required=False, label="Email me")
    email = forms.EmailField(required=False)
    events = _EventChoices(help_text="None ticked: every event")
    workspaces = forms.ModelMultipleChoiceField(
        queryset=Workspace.objects.filter(is_active=True), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every workspace",
    )  # fmt: skip
    digest = forms.ChoiceField(choices=NotificationChannel.Digest.choices, required=False)

    def __init__(self, *args, workspaces: QuerySet[Workspace] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if workspaces is not None:  # only those this user may see
            self.fields["workspaces"].queryset = workspaces.filter(is_active=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("enabled") and not data.get("email"):
            self.add_error("email", "Enter the address to send to.")
        return data


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Delivery.Status.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "Any event"), *EventKind.choices], required=False)
    channel = forms.ModelChoiceField(
        queryset=NotificationChannel.objects.all(), required=False, empty_label="Any channel"
    )

    def filter(self, deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
        if not self.is_valid():
            return deliveries.none()
        data = self.cleaned_data
        if data["status"]:
            deliveries = deliveries.filter(status=data["status"])
        if data["kind"]:
            deliveries = deliveries.filter(event__kind=data["kind"])
        if data["channel"]:
            deliveries = deliveries.filter(channel=data["channel"])
        return deliveries
