"""The forms of operator actions: upload, attach inputs, choose and shape a retry."""

from __future__ import annotations

import json
import re

from django import forms
from django.db.models import QuerySet

from batches.models import (
    Workspace,
)
from batches.services import uploads
from dashboard.forms.fields import DayField

LONE_SURROGATE = f"{uploads.LONE_SURROGATE[0].upper()}{uploads.LONE_SURROGATE[1:]}, so it cannot be sent."


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
    betas = forms.CharField(
        required=False, max_length=500, label="Betas",
        help_text="anthropic-beta values, comma-separated (e.g. output-300k-2026-03-24): the batch is then created "
        "through the beta endpoint, and its requests may use beta-only fields",
    )  # fmt: skip
    user_profile_id = forms.CharField(
        required=False, max_length=128, label="User profile",
        help_text="anthropic-user-profile-id: every request of the batch is attributed to it",
    )  # fmt: skip

    def __init__(self, *args, workspaces: QuerySet[Workspace] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if workspaces is not None:  # those in which this user may do it
            self.fields["workspace"].queryset = workspaces.filter(is_active=True)
        _choose_the_only_workspace(self.fields["workspace"])

    def clean_betas(self) -> list[str]:
        betas = sorted({b.strip() for b in self.cleaned_data["betas"].split(",") if b.strip()})
        for beta in betas:
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,99}", beta):
                raise forms.ValidationError(f"{beta!r} is not an anthropic-beta value (lowercase words and dates)")
        return betas

    def clean_user_profile_id(self) -> str:
        value = self.cleaned_data["user_profile_id"].strip()
        if value and not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise forms.ValidationError("A user profile id has only letters, digits, _ and -.")
        return value


class AttachForm(forms.Form):
    file = forms.FileField(help_text="The JSONL file the batch was created from")


class RetryChoiceForm(forms.Form):
    """What a retry across a workspace's batches covers (the retry page's GET parameters)."""

    KINDS = [
        ("retryable", "Everything that can be sent again without a fix (transient errors, expired, canceled, "
                      "paused turns, which are continued)"),
        ("overloaded_error", "overloaded_error"), ("api_error", "api_error"), ("rate_limit_error", "rate_limit_error"),
        ("timeout_error", "timeout_error"), ("expired", "Expired items"), ("canceled", "Canceled items"),
        ("invalid_request_error", "invalid_request_error (needs the request fixed)"),
        ("incomplete", "Every incomplete answer (cut off, paused or refused)"),
        ("max_tokens", "Cut off at max_tokens (needs a higher max_tokens)"),
        ("model_context_window_exceeded", "Cut off by the context window (needs a larger model or less input)"),
        ("pause_turn", "Paused turns (continued)"), ("refusal", "Refusals (sent again only on purpose)"),
    ]  # fmt: skip

    workspace = forms.ModelChoiceField(queryset=Workspace.objects.filter(is_active=True), to_field_name="name")
    created_from = DayField(required=False, label="Batches created from")
    created_to = DayField(required=False, label="to")
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
        except (ValueError, RecursionError) as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(params, dict) or not {"model", "max_tokens", "messages"} <= params.keys():
            raise forms.ValidationError("The params must be an object with model, max_tokens and messages.")
        # As an upload's line is checked: what the SDK could not send would fail in the worker, not here.
        if uploads.deeper_than(params):
            raise forms.ValidationError(f"The params are nested more than {uploads.MAX_DEPTH} levels deep.")
        if uploads.lone_surrogate(params):
            raise forms.ValidationError(LONE_SURROGATE)
        return params

    def clean_model(self) -> str:
        model = self.cleaned_data["model"]
        if uploads.lone_surrogate(model):
            raise forms.ValidationError(LONE_SURROGATE)
        return model

    def overrides(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("model", "max_tokens") if data.get(k)}

    def edits(self) -> dict[str, dict]:
        data = self.cleaned_data
        return (
            {str(data["edit_result"]): data["edit_params"]} if data.get("edit_params") and data["edit_result"] else {}
        )
