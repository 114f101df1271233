"""Attach a batch's original request file (Operators)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from batches.services import inputs, uploads
from dashboard.access import HtmxHttpRequest, batch_or_404, role_required
from dashboard.forms import AttachForm


@require_http_methods(["GET", "POST"])
@role_required("attach_inputs")
def attach_inputs(request: HtmxHttpRequest, batch_id: str) -> HttpResponse:
    batch = batch_or_404(request, batch_id, need="attach_inputs")
    form = AttachForm(*(request.POST, request.FILES) if request.method == "POST" else ())
    context = {"batch": batch, "form": form}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        # Matched to the batch's results, never sent: the lines are checked, no batch limit applies.
        validation = uploads.validate(upload, split=False)
        if not validation.ok:
            return render(request, "batches/attach.html", {**context, "validation": validation}, status=400)
        context["report"] = inputs.attach(batch, request.user, upload, upload.name)
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    return render(request, "batches/attach.html", context, status=status)
