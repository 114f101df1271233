"""Batches: list (the list page's filters), one batch (counts, errors, cost, lineage), its results, the errors
summary, cancel and refresh. The database only; the worker calls the API."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from api import serializers as s
from api.auth import needs
from api.views.common import Cursor, answers, batch_for, form_parameters, valid
from batches.models import RequestInput, Result, SubmissionPart
from batches.services import actions, audit, handoff, kept_bodies, retry
from batches.tasks import refresh_batch
from dashboard import access, exports
from dashboard.forms import BatchFilterForm, ErrorFilterForm, ItemFilterForm
from dashboard.queries import error_groups
from dashboard.spend.figures import spend_of_batch

CONTENT_TYPES = {"jsonl": "application/jsonl; charset=utf-8", "csv": "text/csv; charset=utf-8"}


@extend_schema(operation_id="batches_list", parameters=form_parameters(BatchFilterForm, cursor=True),
               responses=answers(s.paged(s.BatchSerializer, "PagedBatches"), 400, 404))  # fmt: skip
@api_view(["GET"])
@permission_classes([needs("view_batch")])
def batch_list(request: Request) -> Response:
    """Batches, newest first, filtered exactly as the list page filters; paged by cursor."""
    form = valid(BatchFilterForm(request.query_params, workspaces=access.visible_workspaces(request)))
    batches = form.filter(access.visible_batches(request).select_related("workspace", "submitted_by"))
    pager = Cursor()
    page = pager.paginate_queryset(batches.order_by(), request)
    return pager.get_paginated_response(s.BatchSerializer(page, many=True).data)


@extend_schema(responses=answers(s.BatchDetailSerializer, 404))
@api_view(["GET"])
@permission_classes([needs("view_batch")])
def batch_detail(request: Request, batch_id: str) -> Response:
    batch = batch_for(request, batch_id, "view_batch", "submitted_by")
    spend = spend_of_batch(batch.pk)
    parent = SubmissionPart.objects.filter(batch=batch).values_list("submission__parent_batch_id", flat=True).first()
    children = RequestInput.objects.filter(retry_of__batch_id=batch.pk).values_list("batch_id", flat=True).distinct()
    batch.errors_by_type = list(batch.error_counts.order_by("-count").values("error_type", "count"))
    batch.cost = spend and {
        "requests": spend.requests, "input_tokens": spend.input, "output_tokens": spend.output,
        "cost_usd": spend.cost, "standard_cost_usd": spend.standard, "unpriced_requests": spend.unpriced,
        "unpriced_models": spend.unpriced_models,
    }  # fmt: skip
    batch.lineage = {
        "retry_of": parent, "retried_by": sorted(filter(None, children)), **retry.outcome(batch),
        "inputs_kept": kept_bodies.inputs_kept(batch),
    }  # fmt: skip
    return Response(s.BatchDetailSerializer(batch).data)


@extend_schema(
    parameters=[*form_parameters(ItemFilterForm), OpenApiParameter("format", str, enum=list(CONTENT_TYPES))],
    responses={
        (200, "application/jsonl"): OpenApiTypes.BINARY,
        (200, "text/csv"): OpenApiTypes.BINARY,
        **answers(None, 400, 404, 409, 410),
    },  # fmt: skip
)
@api_view(["GET"])
@permission_classes([needs("view_batch")])
def batch_results(request: Request, batch_id: str) -> Response | StreamingHttpResponse:
    """The kept results, filtered as the result table filters, streamed as JSONL (the API's own lines) or CSV."""
    fmt = request.query_params.get("format", "jsonl")
    if fmt not in CONTENT_TYPES:
        return _error(400, "invalid_request_error", "format is jsonl or csv.")
    batch = batch_for(request, batch_id)
    if not batch.results_ingested_at:
        if not batch.is_terminal:
            return _error(409, "conflict_error", "This batch is still processing: its results come once it ends.")
        if batch.results_expired() or batch.results_unavailable_at or batch.gone_from_api_at:
            return _error(410, "not_found_error", "These results were never kept, and the API no longer has them.")
        return _error(409, "conflict_error", "The results are being kept now: ask again in a moment.")
    form = valid(ItemFilterForm(request.query_params))
    results = form.filter(Result.objects.filter(batch=batch))
    content, size = exports.results_file(batch, results, fmt, form.filtered)
    audit.record(request.user, "download", batch.id, params={"format": fmt, "via": "api", **form.active})
    return exports.sized(content, size, CONTENT_TYPES[fmt])


@extend_schema(
    parameters=form_parameters(ErrorFilterForm),
    responses=answers(OpenApiTypes.OBJECT, 400),
)
@api_view(["GET"])
@permission_classes([needs("view_batch")])
def errors_summary(request: Request) -> Response:
    """Errored results by error type, then workspace, with each type's top batches (the errors page)."""
    form = valid(ErrorFilterForm(request.query_params, workspaces=access.visible_workspaces(request)))
    start, end = form.range()
    groups = error_groups(form.cleaned_data["workspace"], start, end, visible=access.visible_workspace_ids(request))
    return Response({"error_types": [{
        "error_type": g["error_type"], "total": g["total"], "batches": g["batches"], "advice": g["advice"][1],
        "retry_as_is": g["advice"][0] == "retry",
        "workspaces": [{"workspace": w["workspace__name"], "total": w["total"], "batches": w["batches"]}
                       for w in g["workspaces"]],
        "top_batches": [{"batch": e.batch_id, "count": e.count} for e in g["top"]],
    } for g in groups]})  # fmt: skip


@extend_schema(request=None, responses=answers(None, 404, 409, 503, more={202: s.Message}))
@api_view(["POST"])
@permission_classes([needs("cancel_batch")])
def batch_cancel(request: Request, batch_id: str) -> Response:
    """Cancel: the worker asks the API once, however often this is called; the batch then shows canceling."""
    batch = batch_for(request, batch_id, "cancel_batch")
    outcome = actions.request_cancel(batch, request.user)
    if outcome.ok:
        return Response({"message": outcome.message}, status=202)
    status = 503 if outcome.message == actions.NOT_QUEUED else 409
    return _error(status, "overloaded_error" if status == 503 else "conflict_error", outcome.message)


@extend_schema(request=None, responses=answers(None, 404, 503, more={202: s.Message}))
@api_view(["POST"])
@permission_classes([needs("view_batch")])
def batch_refresh(request: Request, batch_id: str) -> Response:
    """Refresh now: the worker retrieves the batch from the API; GET the batch for `refreshed_at` to move."""
    batch = batch_for(request, batch_id)
    since, asked = actions.request_refresh(batch)
    if asked and not handoff.enqueue(refresh_batch, batch.pk):
        return _error(503, "overloaded_error", "The worker is unreachable right now: try again shortly.")
    return Response({"message": f"Refresh asked at {since.isoformat()}."}, status=202)


def _error(status: int, kind: str, message: str) -> Response:
    return Response({"type": "error", "error": {"type": kind, "message": message}}, status=status)
