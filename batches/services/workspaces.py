"""Workspaces defined by the environment rather than the admin."""

from __future__ import annotations

from django.conf import settings

from batches.errors import PermanentAPIError
from batches.models import Workspace

DEFAULT_NAME = "default"


def ensure_default_workspace() -> Workspace | None:
    """Create or update the `default` workspace from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL.

    Idempotent; called before every sync so a changed key in the environment takes effect.
    """
    api_key = settings.ANTHROPIC_API_KEY.strip()
    if not api_key:
        return None
    base_url = settings.ANTHROPIC_BASE_URL
    workspace = Workspace.objects.filter(name=DEFAULT_NAME).first()
    if workspace is None:
        workspace = Workspace(name=DEFAULT_NAME, base_url=base_url)
        workspace.set_api_key(api_key)
        workspace.save()
        return workspace
    try:
        same_key = workspace.credentials.api_key == api_key
    except PermanentAPIError:  # stored under another SECRET_KEY: replace it with the environment's
        same_key = False
    if not same_key or workspace.base_url != base_url:
        workspace.set_api_key(api_key)
        workspace.base_url = base_url
        workspace.save(update_fields=["api_key_encrypted", "api_key_hint", "base_url"])
    return workspace
