"""Access checks, enforced on the server for every request (hiding a button is not enough)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, permission_required


def role_required(codename: str) -> Callable:
    """Log in first (anonymous users go to the login page), then hold the permission or get a 403."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required(f"batches.{codename}", raise_exception=True)(view))

    return decorate


can_view = role_required("view_batch")
