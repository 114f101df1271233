"""What every REST view shares: objects opened through dashboard/access.py (another workspace's is a 404, a role
short of the action a 403), filters that are refused out loud, and cursor pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

from batches.models import Batch, Submission
from batches.roles import VIEW
from dashboard import access


class Cursor(pagination.CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000


class AuditCursor(Cursor):
    ordering = ("-at", "-id")


def batch_for(request, batch_id: str, need: str = VIEW, *related: str) -> Batch:
    """The batch, if this caller sees its workspace (else 404: another workspace's ids are not confirmed), and
    may do `need` there (else 403, saying which role would)."""
    batch = get_object_or_404(access.visible_batches(request).select_related("workspace", *related), pk=batch_id)
    access.check_workspace(request, batch.workspace_id, need)
    return batch


def submission_for(request, submission_id: int, need: str = VIEW) -> Submission:
    visible = access.in_visible_workspaces(request, Submission.objects.select_related("workspace", "created_by"))
    submission = get_object_or_404(visible, pk=submission_id)
    access.check_workspace(request, submission.workspace_id, need)
    return submission


def valid(form):
    """The form, or a 400 naming each filter that is wrong (a page would select nothing; code should know)."""
    if not form.is_valid():
        raise ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})
    return form
