"""Access checks, enforced on the server for every request (hiding a button is not enough).

Every view declares the permission it needs (`role_required`), and every object a view opens by id
comes through one of the `*_or_404` helpers below: the one place where "may this user see it?" is
answered, so narrowing access (per workspace, say) is a change here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django_htmx.middleware import HtmxDetails

from batches.models import Batch, Result, Submission
from batches.roles import ROLES


class HtmxHttpRequest(HttpRequest):
    """What the views receive: django-htmx's `request.htmx` and an authenticated user."""

    htmx: HtmxDetails
    user: AbstractBaseUser | AnonymousUser


def role_required(codename: str) -> Callable:
    """Log in first (anonymous users go to the login page), then hold the permission or get a 403 that
    names the roles which have it."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs):
            if not request.user.has_perm(f"batches.{codename}"):
                raise PermissionDenied(needed_roles(codename))
            return view(request, *args, **kwargs)

        return login_required(checked)

    return decorate


def needed_roles(codename: str) -> str:
    """ "the Operator or Admin role": who may do what `codename` allows (batches/roles.py)."""
    roles = [role for role, codenames in ROLES.items() if codename in codenames]
    return f"This needs the {' or '.join(roles)} role." if roles else "This needs a permission nobody has been given."


can_view = role_required("view_batch")


def visible_workspace_ids(request: HttpRequest) -> list[int] | None:
    """The workspaces this user may see, or None for every one (today: everyone sees every workspace)."""
    return None


def visible_batches(request: HttpRequest):
    """The batches this user may see: those of the workspaces they may see."""
    ids = visible_workspace_ids(request)
    return Batch.objects.all() if ids is None else Batch.objects.filter(workspace_id__in=ids)


def batch_or_404(request: HttpRequest, batch_id: str, *related: str) -> Batch:
    """The batch with its workspace (and any other `related`), or 404 if it is not one this user may see."""
    return get_object_or_404(visible_batches(request).select_related("workspace", *related), pk=batch_id)


def result_or_404(request: HttpRequest, batch_id: str, custom_id: str) -> Result:
    results = Result.objects.filter(batch__in=visible_batches(request)).select_related("batch__workspace", "chunk")
    return get_object_or_404(results, batch_id=batch_id, custom_id=custom_id)


def submission_or_404(request: HttpRequest, submission_id: int) -> Submission:
    submissions = Submission.objects.select_related("workspace", "created_by")
    return get_object_or_404(submissions, pk=submission_id)
