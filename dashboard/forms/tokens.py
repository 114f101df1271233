"""A new API token: its name, workspaces, role and expiry (the service refuses more than the user holds)."""

from __future__ import annotations

import secrets

from django import forms

from batches.models import Workspace
from batches.roles import WORKSPACE_ROLES


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. nightly-evals")
    workspaces = forms.ModelMultipleChoiceField(
        queryset=Workspace.objects.none(), to_field_name="name", widget=forms.CheckboxSelectMultiple
    )
    role = forms.ChoiceField(choices=[(role, role) for role in WORKSPACE_ROLES], initial="Viewer")
    # This form's own id: the browser sends a form again on reload, and each send would make another live token.
    once = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    expires_days = forms.IntegerField(required=False, min_value=1, max_value=3650, label="Expires after (days)",
                                      help_text="Empty: never (revoke it when it is no longer needed)")  # fmt: skip

    def __init__(self, *args, workspaces, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workspaces"].queryset = workspaces
        self.fields["once"].initial = secrets.token_urlsafe(16)
