"""Attach a batch's original request file (Operators)."""

from __future__ import annotations

from django import forms
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from batches import inputs, uploads
from batches.models import Batch
from dashboard.access import role_required

NO_SPLIT = 10**12  # matching, not sending: the API's per-batch limits do not apply here


class AttachForm(forms.Form):
    file = forms.FileField(help_text="The JSONL file the batch was created from")


@require_http_methods(["GET", "POST"])
@role_required("attach_inputs")
def attach_inputs(request, batch_id: str):
    batch = get_object_or_404(Batch.objects.select_related("workspace"), pk=batch_id)
    form = AttachForm(*(request.POST, request.FILES) if request.method == "POST" else ())
    context = {"batch": batch, "form": form}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        validation = uploads.validate(upload, max_requests=NO_SPLIT, max_bytes=NO_SPLIT)
        if not validation.ok:
            return render(request, "batches/attach.html", {**context, "validation": validation}, status=400)
        context["report"] = inputs.attach(batch, request.user, upload, upload.name)
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    return render(request, "batches/attach.html", context, status=status)
