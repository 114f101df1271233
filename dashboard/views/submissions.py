"""Submit a JSONL file of requests as batches (Operators), and follow the submission."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from batches import submit, uploads
from dashboard.access import HtmxHttpRequest, can_view, role_required, submission_or_404
from dashboard.forms import UploadForm
from dashboard.views.outcomes import show_submission
from dashboard.wording import counted


@require_http_methods(["GET", "POST"])
@role_required("submit_batch")
def submit_upload(request: HtmxHttpRequest) -> HttpResponse:
    form = UploadForm(*(request.POST, request.FILES) if request.method == "POST" else ())
    if request.method != "POST":
        return render(request, "submit.html", {"form": form})
    if not form.is_valid():
        return render(request, "submit.html", {"form": form}, status=400)
    upload, data = form.cleaned_data["file"], form.cleaned_data
    # Streams the file (Django keeps large uploads on disk); nothing is sent while a line is wrong.
    validation = uploads.validate(upload)
    if not validation.ok:
        return render(request, "submit.html", {"form": form, "validation": validation}, status=400)
    made = submit.prepare_upload(
        data["workspace"], request.user, upload, validation, label=data["label"], filename=upload.name,
        again=data["again"],
    )  # fmt: skip
    return show_submission(
        request, made,
        made_text=f"{counted(validation.request_count, 'request')} validated and queued for submission.",
        found_text="This exact file was already submitted to this workspace: here is that submission.",
    )  # fmt: skip


@require_GET
@can_view
def submission_detail(request: HtmxHttpRequest, submission_id: int) -> HttpResponse:
    submission = submission_or_404(request, submission_id)
    parts = list(submission.parts.select_related("batch"))
    context = {"submission": submission, "parts": parts, "live": any(p.in_flight for p in parts)}
    template = "submission.html#parts" if request.htmx else "submission.html"
    return render(request, template, context)
