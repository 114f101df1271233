"""A batch's results as a file, always from the kept copy in the database, never from the API; the batch list as CSV."""

from __future__ import annotations

from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from batches.models import Batch, Result
from batches.services import audit
from dashboard import exports
from dashboard.access import HtmxHttpRequest, batch_or_404, can_view, visible_batches, visible_workspaces
from dashboard.forms import BatchFilterForm, ItemFilterForm

CONTENT_TYPES = {"jsonl": "application/jsonl; charset=utf-8", "csv": "text/csv; charset=utf-8"}


@require_GET
@can_view
def batch_download(request: HtmxHttpRequest, batch_id: str, fmt: str) -> HttpResponse:
    if fmt not in CONTENT_TYPES:
        raise Http404("Unknown download format")
    batch = batch_or_404(request, batch_id)
    if not batch.results_ingested_at:
        return _unavailable(request, batch)
    form = ItemFilterForm(request.GET)
    filtered = form.filtered
    if filtered and not form.is_valid():
        return render(request, "batches/download_unavailable.html", {"batch": batch, "state": "bad_filter"}, status=400)
    results = form.filter(Result.objects.filter(batch=batch))
    content, size = exports.results_file(batch, results, fmt, filtered)
    audit.record(request.user, "download", batch.id, params={"format": fmt, **form.active})
    response = exports.sized(content, size, CONTENT_TYPES[fmt])
    filename = f"{batch.id}{'-filtered' if filtered else ''}.{fmt}"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def _unavailable(request: HtmxHttpRequest, batch: Batch) -> HttpResponse:
    """Why there is no file yet (409: wait) or ever (410: expired or deleted before it was kept)."""
    expired_on = min(filter(None, [batch.archived_at, batch.results_available_until]))
    if not batch.is_terminal:
        state, status = "processing", 409
    elif batch.results_expired():
        state, status = "expired", 410
    elif batch.results_unavailable_at or batch.gone_from_api_at:
        state, status = "unavailable", 410
    else:
        state, status = "ingesting", 409
    context = {"batch": batch, "state": state, "expired_on": expired_on}
    return render(request, "batches/download_unavailable.html", context, status=status)


@require_GET
@can_view
def batch_list_export(request: HtmxHttpRequest) -> HttpResponse:
    """The batches the list shows for the same filters (every page of them, in its order), of this user's workspaces.

    A filter the list would name and leave out refuses the file instead: a download carries no warning."""
    form = BatchFilterForm(request.GET, workspaces=visible_workspaces(request))
    if form.ignored:
        return HttpResponseBadRequest(
            "Not exported: these filters could not be read: " + "; ".join(form.ignored) + "\n",
            content_type="text/plain; charset=utf-8",
        )
    batches = form.filter(visible_batches(request))
    audit.record(request.user, "export", "batch_list", params={k: v for k, v in request.GET.items() if v})
    response = StreamingHttpResponse(exports.batch_list_rows(batches), content_type=CONTENT_TYPES["csv"])
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename="batches.csv")
    return response
