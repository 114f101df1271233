"""The audit log: read and export (Auditors and Admins); nobody edits it from the UI."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from batches import audit
from batches.models import AuditEvent
from dashboard.access import HtmxHttpRequest, role_required
from dashboard.exports import csv_stream
from dashboard.forms import AuditFilterForm
from dashboard.queries import query_without

COLUMNS = ["at", "actor_name", "action", "target", "outcome", "params", "detail"]


@require_GET
@role_required("view_audit_log")
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page = Paginator(form.filter(AuditEvent.objects.all()), 100).get_page(request.GET.get("page"))
    return render(request, "audit.html", {"form": form, "page": page, "query": query_without(request.GET, "page")})


@require_GET
@role_required("view_audit_log")
def audit_export(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    events = form.filter(AuditEvent.objects.all()).values_list(*COLUMNS)
    audit.record(request.user, "export", "audit_log", params={k: str(v) for k, v in form.data.items() if v})
    rows = (tuple(map(str, row)) for row in events.iterator(chunk_size=2000))
    response = StreamingHttpResponse(csv_stream(COLUMNS, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename="audit-log.csv")
    return response
