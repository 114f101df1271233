"""Submit a JSONL file of requests as batches (Operators), and follow the submission."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from batches import submit, uploads
from batches.models import Submission, Workspace
from batches.tasks import submit_batches
from dashboard.access import can_view, role_required


class UploadForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.filter(is_active=True), to_field_name="name")
    label = forms.CharField(max_length=200, required=False)
    file = forms.FileField(help_text='One request per line: {"custom_id": …, "params": {…}}')
    again = forms.BooleanField(required=False, label="Submit again, even if this exact file was submitted before")


@require_http_methods(["GET", "POST"])
@role_required("submit_batch")
def submit_upload(request):
    form = UploadForm(*(request.POST, request.FILES) if request.method == "POST" else ())
    if request.method != "POST":
        return render(request, "submit.html", {"form": form})
    if not form.is_valid():
        return render(request, "submit.html", {"form": form}, status=400)
    upload, data = form.cleaned_data["file"], form.cleaned_data
    # Streams the file (Django keeps large uploads on disk); nothing is sent while a line is wrong.
    validation = uploads.validate(
        upload, max_requests=settings.SUBMIT_MAX_REQUESTS, max_bytes=settings.SUBMIT_MAX_BYTES
    )
    if not validation.ok:
        return render(request, "submit.html", {"form": form, "validation": validation}, status=400)
    submission, created = submit.prepare_upload(
        data["workspace"], request.user, upload, validation, label=data["label"], filename=upload.name,
        again=data["again"],
    )  # fmt: skip
    if created:
        submit_batches.delay_on_commit(submission.pk)
        messages.success(request, f"{submission.request_count:,} requests validated and queued for submission.")
    else:
        messages.info(request, "This exact file was already submitted to this workspace: here is that submission.")
    return redirect("submission_detail", submission.pk)


@require_GET
@can_view
def submission_detail(request, submission_id: int):
    submission = get_object_or_404(Submission.objects.select_related("workspace", "created_by"), pk=submission_id)
    parts = list(submission.parts.select_related("batch"))
    live = any(p.status in ("pending", "creating") for p in parts)
    context = {"submission": submission, "parts": parts, "live": live}
    template = "submission.html#parts" if request.htmx else "submission.html"
    return render(request, template, context)
