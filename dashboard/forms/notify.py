"""The notification forms: channels and their rules, thresholds, a user's own subscriptions, the delivery log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core import validators
from django.db.models import QuerySet

from batches.models import (
    Delivery,
    EventKind,
    NotificationChannel,
    NotifyThresholds,
    Workspace,
)
from batches.services.notify import deliver
from batches.services.notify.send import needed
from dashboard.forms.fields import RowsField


# --- notifications -------------------------------------------------------------------------------
class _EventChoices(forms.MultipleChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(choices=EventKind.choices, widget=forms.CheckboxSelectMultiple, required=False, **kwargs)


class ChannelForm(forms.ModelForm):
    """An Admin's channel and its rule. The secret is write-only: never rendered back, only its hint."""

    events = _EventChoices(help_text="None ticked: every event")
    workspaces = RowsField(
        queryset=Workspace.objects.all(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every workspace",
    )  # fmt: skip
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=True,
        help_text="Webhook: the signing secret. Slack or Apprise: the whole URL (it holds the service's token).",
    )  # fmt: skip

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "address", "events", "workspaces", "errors_high_share", "digest", "is_active"]
        labels = {"address": "Email addresses or webhook URL", "errors_high_share": "Errors threshold (a share)"}
        help_texts = {
            "errors_high_share": "batch.errors_high when more than this share of a batch's requests errored, as a "
            "fraction: 0.1 is 10%. Empty: the global threshold."
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.secret_encrypted:  # only an existing secret can be kept
            self.fields["secret"].help_text += " Leave empty to keep the current one."

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
                slack = kind == Kind.SLACK
                if problem := deliver.url_problem(secret, "slack") if slack else deliver.apprise_problem(secret):
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
    workspaces = RowsField(
        queryset=Workspace.objects.filter(is_active=True), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every workspace",
    )  # fmt: skip
    digest = forms.ChoiceField(choices=NotificationChannel.Digest.choices, required=False)

    def __init__(
        self, *args, workspaces: QuerySet[Workspace] | None = None, may: Callable[[str], bool] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        if workspaces is not None:  # only those this user may see
            self.fields["workspaces"].queryset = workspaces.filter(is_active=True)
        if may is not None:  # only events whose page this user may open (a budget's: the spend report)
            events = self.fields["events"]
            events.choices = [(kind, label) for kind, label in events.choices if may(needed(kind))]

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
