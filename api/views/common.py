"""What every REST view shares: objects opened through dashboard/access.py (another workspace's is a 404, a role
short of the action a 403), filters that are refused out loud, and cursor pages."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

from api.auth import UNKNOWN, token_text
from api.serializers import ErrorSerializer
from batches.models import Batch, Submission
from batches.roles import VIEW
from batches.services import tokens
from dashboard import access


class Cursor(pagination.CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000

    def decode_cursor(self, request):
        # A cursor is base64 the client can write: one whose position is no time ("x", 30 digits) decoded well and
        # then failed the query (a 500). Refused here, as DRF refuses one it cannot decode; the query's own errors
        # stay errors.
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                models.DateTimeField().to_python(cursor.position)
            except (DjangoValidationError, ValueError, OverflowError):
                raise NotFound(self.invalid_cursor_message) from None
        return cursor


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


_TYPES = {forms.DateField: OpenApiTypes.DATE, forms.BooleanField: OpenApiTypes.BOOL,
          forms.IntegerField: OpenApiTypes.INT}  # fmt: skip


def form_parameters(form_class, *, cursor: bool = False) -> list[OpenApiParameter]:
    """A filter form's fields as the schema's query parameters, typed as the form reads them."""
    found = []
    for name, field in form_class.base_fields.items():
        kind = next((t for cls, t in _TYPES.items() if isinstance(field, cls)), OpenApiTypes.STR)
        choices = None  # a model's choices are read from the database at request time, not at import
        if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
            choices = [str(value) for value, _ in field.choices if value] or None
        found.append(OpenApiParameter(name, kind, enum=choices, description=str(field.label or "")))
    if cursor:
        found += [OpenApiParameter("cursor", str), OpenApiParameter("limit", int)]
    return found


def answers(ok, *statuses: int, more: dict | None = None) -> dict:
    """`ok` as the 200 answer (None: no 200), and the error shape for each status listed (401, 403 always)."""
    errors = {status: ErrorSerializer for status in sorted({401, 403, *statuses})}
    return ({200: ok} if ok is not None else {}) | errors | (more or {})


@csrf_exempt  # no cookie is trusted here: a token or a 401, on any method
def not_found(request, rest: str = "") -> JsonResponse:
    """Any other path under /api/v1/ or /anthropic/: a JSON 404 in the API's shape, not the site's HTML page; a
    401 first without a token or a login, as on every other path."""
    if not request.user.is_authenticated and tokens.authenticate(token_text(request.META)) is None:
        error, status = {"type": "authentication_error", "message": UNKNOWN}, 401
    else:
        error, status = {"type": "not_found_error", "message": "No such endpoint."}, 404
    return JsonResponse({"type": "error", "error": error}, status=status)
