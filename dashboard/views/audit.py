"""The audit log: read and export (Auditors and Admins); nobody edits it from the UI."""

from __future__ import annotations

import json
from datetime import UTC

from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from batches.models import AuditEvent
from batches.services import audit
from dashboard.access import HtmxHttpRequest, role_required, workspace_ids_with
from dashboard.exports import csv_stream
from dashboard.forms import AuditFilterForm
from dashboard.queries import query_without

# As the page shows them: the action's name, the parameters as JSON (a spreadsheet or a script reads them).
HEADER = ["When (UTC)", "Who", "Action", "Target", "Outcome", "Parameters (JSON)", "Detail"]
ACTIONS = dict(AuditEvent.Action.choices)


@require_GET
@role_required("view_audit_log")
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page = Paginator(form.filter(_visible(request)), 100).get_page(request.GET.get("page"))
    return render(request, "audit.html", {"form": form, "page": page, "query": query_without(request.GET, "page")})


@require_GET
@role_required("view_audit_log")
def audit_export(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if form.unread:  # an empty file would read as "nothing happened": a download carries no warning
        return HttpResponseBadRequest(
            "Not exported: these filters could not be read: " + "; ".join(form.unread) + "\n",
            content_type="text/plain; charset=utf-8",
        )
    events = form.filter(_visible(request)).values_list(
        "at", "actor_name", "action", "target", "outcome", "params", "detail"
    )
    audit.record(request.user, "export", "audit_log", params={k: str(v) for k, v in form.data.items() if v})
    rows = (
        (at.astimezone(UTC).isoformat(timespec="seconds"), actor, ACTIONS.get(action, action), target, outcome,
         json.dumps(params, ensure_ascii=False, sort_keys=True), detail)
        for at, actor, action, target, outcome, params, detail in events.iterator(chunk_size=2000)
    )  # fmt: skip
    response = StreamingHttpResponse(csv_stream(HEADER, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename="audit-log.csv")
    return response


def _visible(request: HtmxHttpRequest):
    """Every event for a user of every workspace; for one given chosen workspaces, only those of the ones
    where their role shows the audit log (not the site's own events: users, prices)."""
    ids = workspace_ids_with(request, "view_audit_log")
    return AuditEvent.objects.all() if ids is None else AuditEvent.objects.filter(workspace_id__in=ids)
