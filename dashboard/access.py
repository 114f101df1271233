"""Access checks, enforced on the server for every request (hiding a button is not enough).

Every view declares the permission it needs (`role_required`), every object a view opens by id comes
through one of the `*_or_404` helpers below, and every list through `in_visible_workspaces`: the one
place where "may this user see it, and act on it, in its workspace?" is answered (batches/services/workspace_roles.py
holds who has which workspaces).
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

from batches.models import Batch, Result, Submission, Workspace
from batches.roles import ROLES, VIEW
from batches.services import workspace_roles as scoped


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
    """The workspaces this user may see, or None for every one (a user given no chosen workspaces)."""
    return scoped.visible_workspace_ids(request.user)


def in_visible_workspaces(request: HttpRequest, queryset, field: str = "workspace_id"):
    """`queryset` narrowed to the workspaces this user may see, through `field`."""
    ids = visible_workspace_ids(request)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


def workspace_ids_with(request: HttpRequest, codename: str) -> list[int] | None:
    """The workspaces in which this user may do `codename`, or None for every one."""
    roles = scoped.workspace_roles(request.user)
    if roles is None:
        return None if request.user.has_perm(f"batches.{codename}") else []
    return sorted(ws for ws, codenames in roles.items() if codename in codenames)


def visible_workspaces(request: HttpRequest, codename: str = VIEW):
    """The workspaces in which this user may do `codename` (by default: see them)."""
    ids = workspace_ids_with(request, codename)
    return Workspace.objects.all() if ids is None else Workspace.objects.filter(pk__in=ids)


def visible_batches(request: HttpRequest):
    """The batches this user may see: those of the workspaces they may see."""
    return in_visible_workspaces(request, Batch.objects.all())


def may(request: HttpRequest, codename: str, workspace_id: int) -> bool:
    """Whether this user may do `codename` in that workspace (what a page shows, not only what it allows)."""
    return scoped.may(request.user, codename, workspace_id)


def check_workspace(request: HttpRequest, workspace_id: int, need: str = VIEW) -> None:
    """A 403, saying why, unless this user may do `need` in that workspace."""
    ids = visible_workspace_ids(request)
    if ids is not None and workspace_id not in ids:
        raise PermissionDenied("This belongs to a workspace you have not been given.")
    if not scoped.may(request.user, need, workspace_id):
        raise PermissionDenied(needed_roles(need).removesuffix(".") + " in this workspace.")


def batch_or_404(request: HttpRequest, batch_id: str, *related: str, need: str = VIEW) -> Batch:
    """The batch with its workspace (and any other `related`); 404 if there is none, 403 if it is in a workspace
    this user has not been given, or one where their role does not allow `need`."""
    batch = get_object_or_404(Batch.objects.select_related("workspace", *related), pk=batch_id)
    check_workspace(request, batch.workspace_id, need)
    return batch


def result_or_404(request: HttpRequest, batch_id: str, custom_id: str) -> Result:
    results = Result.objects.select_related("batch__workspace", "chunk")
    result = get_object_or_404(results, batch_id=batch_id, custom_id=custom_id)
    check_workspace(request, result.batch.workspace_id)
    return result


def submission_or_404(request: HttpRequest, submission_id: int, need: str = VIEW) -> Submission:
    submission = get_object_or_404(Submission.objects.select_related("workspace", "created_by"), pk=submission_id)
    check_workspace(request, submission.workspace_id, need)
    return submission
