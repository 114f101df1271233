"""Retry, spend and audit through the REST API: the pages' own selection, services and figures."""

from __future__ import annotations

import re
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api import serializers as s
from api.auth import needs
from api.views.common import AuditCursor, answers, batch_for, form_parameters, valid
from batches.models import INCOMPLETE_STOP_REASONS, AuditEvent, Result
from batches.result_lines import MALFORMED_LINE
from batches.services import audit, retry
from dashboard import access
from dashboard.forms import AuditFilterForm, RetryChoiceForm, RetryOptionsForm, SpendFilterForm
from dashboard.forms.fields import FIRST_DAY, LAST_DAY
from dashboard.queries import dates_readable, retry_selection
from dashboard.spend.report import build_report

SELECTION = [
    OpenApiParameter("batch", str, description="One batch's failed items (with result_type, error_type, q)"),
    OpenApiParameter("workspace", str, description="Or a workspace's batches created from/to, by kind"),
    OpenApiParameter("created_from", OpenApiTypes.DATE), OpenApiParameter("created_to", OpenApiTypes.DATE),
    OpenApiParameter("kind", str, many=True, description="retryable (default), an error type, expired, canceled"),
    OpenApiParameter("result_type", str), OpenApiParameter("error_type", str), OpenApiParameter("q", str),
]  # fmt: skip
# The kinds a retry selects by (dashboard/queries.retry_selection); any error type the API may add ends in "_error".
KINDS = {kind for kind, _ in RetryChoiceForm.KINDS} | set(Result.Type.values) | set(INCOMPLETE_STOP_REASONS)
KINDS |= {"request_too_large", MALFORMED_LINE}  # error types outside the "_error" naming: the API's 413, our own
ERROR_TYPE = re.compile(r"[a-z][a-z0-9_]{0,57}_error")
KINDS_TEXT = ", ".join(sorted(k for k in KINDS if not ERROR_TYPE.fullmatch(k))) + ", or an error type (…_error)"
PLAN = inline_serializer("RetryPlan", {
    "selected": serializers.IntegerField(), "ready": serializers.IntegerField(),
    "needs_fix": serializers.ListField(child=serializers.CharField(), help_text="custom_ids to fix before sending"),
    "missing_inputs": serializers.ListField(child=serializers.CharField(), help_text="batches with no kept inputs"),
    "already_retried": serializers.IntegerField(), "problem": serializers.CharField(),
})  # fmt: skip
OPTIONS = inline_serializer("RetryOptions", {
    "model": serializers.CharField(required=False), "max_tokens": serializers.IntegerField(required=False),
    "include_needs_fix": serializers.BooleanField(required=False),
})  # fmt: skip


@extend_schema(parameters=SELECTION, request=OPTIONS,
               responses=answers(PLAN, 400, 404, more={201: s.SubmissionSerializer}))  # fmt: skip
@api_view(["GET", "POST"])
@permission_classes([needs("retry_results")])
def retry_items(request: Request) -> Response:
    """GET: the plan (what would be sent again, what needs a fix, what lacks its inputs); POST: send it as a linked
    child batch, once (the same retry asked again answers 200 with the first)."""
    if unknown := [k for k in request.query_params.getlist("kind") if k not in KINDS and not ERROR_TYPE.fullmatch(k)]:
        # A misspelt kind selected nothing, and the plan said so as if there were nothing to retry.
        raise ValidationError({"kind": [f"No kind {unknown[0][:64]!r}: use {KINDS_TEXT}."]})
    if batch_id := request.query_params.get("batch"):
        batch_for(request, batch_id, "retry_results")
    if not request.query_params.get("batch") and not dates_readable(request.query_params):
        # It would select nothing, and "no failed result matches" would be the wrong answer (as the page asks again).
        raise ValidationError(f"created_from and created_to are days from {FIRST_DAY} to {LAST_DAY} (YYYY-MM-DD).")
    results = retry_selection(request.query_params, access.visible_workspace_ids(request))
    if results is None:
        raise ValidationError({"batch": ["Name a batch, or a workspace with created_from/created_to."]})
    plan = retry.plan(results)
    for workspace_id in plan.workspace_ids:
        access.check_workspace(request, workspace_id, "retry_results")
    if request.method == "GET":
        return Response({
            "selected": plan.selected, "ready": len(plan.ready), "needs_fix": [r.custom_id for r, _ in plan.needs_fix],
            "missing_inputs": plan.missing_batches, "already_retried": len(plan.already_retried),
            "problem": plan.problem,
        })  # fmt: skip
    if plan.problem:
        raise ValidationError(plan.problem)
    if not isinstance(request.data, dict):  # a JSON list, number or null: no options can be read from it
        raise ValidationError("The body must be a JSON object of options (model, max_tokens, include_needs_fix).")
    form = valid(RetryOptionsForm({k: v for k, v in request.data.items() if k in ("model", "max_tokens",
                                                                                  "include_needs_fix")}))  # fmt: skip
    try:
        made = retry.create(plan, request.user, overrides=form.overrides(), edits={},
                            include_needs_fix=form.cleaned_data["include_needs_fix"])  # fmt: skip
    except ValueError as exc:
        raise ValidationError(str(exc).capitalize() + ".") from exc
    return Response(s.SubmissionSerializer(made.submission).data, status=201 if made.created else 200)


@extend_schema(
    parameters=form_parameters(SpendFilterForm),
    responses=answers(inline_serializer("Spend", {
        "columns": serializers.ListField(child=serializers.CharField()),
        "rows": serializers.ListField(child=serializers.ListField(child=serializers.JSONField())),
        "total": serializers.ListField(child=serializers.JSONField()),
    }), 400),
)  # fmt: skip
@api_view(["GET"])
@permission_classes([needs("view_spend")])
def spend(request: Request) -> Response:
    """The spend report as the CSV has it (same rows, columns and totals); money as decimal strings, exact."""
    form = valid(SpendFilterForm(request.query_params, workspaces=access.visible_workspaces(request, "view_spend")))
    report = build_report(form)
    rows = [[_plain(cell) for cell in row] for row in report.csv_rows()]
    audit.record(request.user, "export", "spend", params={**form.params, "via": "api"})
    return Response({"columns": report.csv_header, "rows": rows[:-1], "total": rows[-1]})


@extend_schema(operation_id="audit_list", parameters=form_parameters(AuditFilterForm, cursor=True),
               responses=answers(s.paged(s.AuditEventSerializer, "PagedAuditEvents"), 400, 404))  # fmt: skip
@api_view(["GET"])
@permission_classes([needs("view_audit_log")])
def audit_log(request: Request) -> Response:
    """The audit log, newest first, filtered as the page filters; paged by cursor."""
    form = valid(AuditFilterForm(request.query_params))
    ids = access.workspace_ids_with(request, "view_audit_log")
    events = AuditEvent.objects.all() if ids is None else AuditEvent.objects.filter(workspace_id__in=ids)
    pager = AuditCursor()
    page = pager.paginate_queryset(form.filter(events.select_related("workspace")).order_by(), request)
    return pager.get_paginated_response(s.AuditEventSerializer(page, many=True).data)


def _plain(value):
    return str(value) if isinstance(value, Decimal) else (None if value == "" else value)
