"""Submit a JSONL file of requests as batches (Operators): upload a draft, read its estimate, send it once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from batches.models import Submission
from batches.services import estimates, submit, uploads
from dashboard import submission_text as text
from dashboard.access import (
    HtmxHttpRequest,
    can_view,
    in_visible_workspaces,
    may,
    role_required,
    submission_or_404,
    visible_workspaces,
)
from dashboard.forms import SubmissionFilterForm, UploadForm
from dashboard.outcomes import show_submission
from dashboard.queries import query_without
from dashboard.wording import counted

# An estimate not made after this long is said to be late (the worker busy or down); the page keeps waiting.
ESTIMATE_PATIENCE = timedelta(seconds=60)
NO_ESTIMATE = "The worker is unreachable right now: no estimate could be made, but the draft can still be sent."


@require_GET
@can_view
def submission_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every upload and retry of this user's workspaces, drafts first to find: a draft left is found here again."""
    form = SubmissionFilterForm(request.GET, workspaces=visible_workspaces(request), user=request.user)
    visible = in_visible_workspaces(request, Submission.objects.all())
    listed = form.filter(visible).select_related("workspace", "created_by")
    page = Paginator(listed.prefetch_related("parts"), 50).get_page(request.GET.get("page"))
    context = {
        "form": form, "page": page, "rows": [text.listed(s) for s in page.object_list],
        "tabs": text.state_tabs(form, form.filter(visible, state=False), request.GET),
        "query": query_without(request.GET, "page"),
    }  # fmt: skip
    return render(request, "submissions.html", context)


@require_http_methods(["GET", "POST"])
@role_required("submit_batch")
def submit_upload(request: HtmxHttpRequest) -> HttpResponse:
    form = UploadForm(*(request.POST, request.FILES) if request.method == "POST" else (),
                      workspaces=visible_workspaces(request, "submit_batch"))  # fmt: skip
    if request.method != "POST":
        return render(request, "submit.html", {"form": form})
    if not form.is_valid():
        return render(request, "submit.html", {"form": form}, status=400)
    upload, data = form.cleaned_data["file"], form.cleaned_data
    # Streams the file (Django keeps large uploads on disk); nothing is sent while a line is wrong.
    validation = uploads.validate(upload, betas=data["betas"], user_profile_id=data["user_profile_id"])
    if not validation.ok:
        return render(request, "submit.html", {"form": form, "validation": validation}, status=400)
    made = submit.prepare_upload(
        data["workspace"], request.user, upload, validation, label=data["label"], filename=upload.name,
        again=data["again"], betas=data["betas"], user_profile_id=data["user_profile_id"],
    )  # fmt: skip
    n = validation.request_count
    return show_submission(
        request, made,
        made_text=f"{counted(n, 'request')} validated and kept as a draft: nothing is sent until you confirm.",
        found_text="This exact file was already uploaded to this workspace: here is that submission.",
        unreachable_text=NO_ESTIMATE,
    )  # fmt: skip


@require_GET
@can_view
def submission_detail(request: HtmxHttpRequest, submission_id: int) -> HttpResponse:
    submission = submission_or_404(request, submission_id)
    if request.htmx and request.htmx.target == "submission-estimate":
        return render(request, "submission.html#estimate", _estimate(request, submission))
    parts = list(submission.parts.select_related("batch"))
    live = not submission.is_draft and any(p.in_flight for p in parts)  # a draft's parts wait for no one
    context = {
        "submission": submission, "parts": parts, "live": live, "title": text.title(submission),
        "sending": text.sending(submission, len(parts)), "send_button": text.send_button(submission, len(parts)),
        **_estimate(request, submission),
    }  # fmt: skip
    template = "submission.html#parts" if request.htmx else "submission.html"
    return render(request, template, context)


def _estimate(request: HtmxHttpRequest, submission: Submission) -> dict[str, Any]:
    late = submission.estimating and timezone.now() - submission.estimate_asked_at > ESTIMATE_PATIENCE
    preview = estimates.preview(submission)
    outlook = preview and preview.budget
    may_see_spend = may(request, "view_spend", submission.workspace_id)
    return {
        "submission": submission, "estimating": submission.estimating, "estimate_late": late, "preview": preview,
        "advice": text.advice(submission), "method": preview and text.method(preview),
        "budget": outlook and text.budget(submission, outlook, may_see_spend=may_see_spend),
    }  # fmt: skip


@require_POST
@role_required("submit_batch")
def submission_send(request: HtmxHttpRequest, submission_id: int) -> HttpResponse:
    submission = submission_or_404(request, submission_id, need="submit_batch")
    made = submit.confirm(submission, request.user)
    n = submission.request_count
    gone = "This draft was discarded: nothing was sent." if submission.discarded_at else ""
    return show_submission(
        request, made,
        made_text=f"{counted(n, 'request')} queued for submission.",
        found_text=gone or "This submission was sent already: it is not sent again.",
    )  # fmt: skip


@require_POST
@role_required("submit_batch")
def submission_discard(request: HtmxHttpRequest, submission_id: int) -> HttpResponse:
    submission = submission_or_404(request, submission_id, need="submit_batch")
    if request.POST.get("confirmed") != "yes" and submission.is_draft:
        # Its requests are deleted: the file would have to be uploaded and validated again.
        n = submission.request_count
        return render(request, "confirm.html", {
            "title": f"Discard draft {submission.pk}?", "action": request.path,
            "back": reverse("submission_detail", args=[submission.pk]),
            "consequence": f"Nothing is sent. Its {counted(n, 'validated request')} will be deleted: to send "
                           "them later, the file has to be uploaded and checked again.",
            "yes": "Yes, discard the draft", "no": "No, keep it",
        })  # fmt: skip
    if submit.discard(submission, request.user):
        messages.success(request, f"Draft {submission.pk} discarded: nothing was sent, and its requests are deleted.")
        return redirect("submit_upload")
    if submission.discarded_at:
        messages.info(request, "This draft was discarded already.")
    else:
        messages.warning(request, "This submission was sent already: it can no longer be discarded.")
    return redirect("submission_detail", submission.pk)


@require_POST
@role_required("submit_batch")
def submission_estimate(request: HtmxHttpRequest, submission_id: int) -> HttpResponse:
    """Ask the worker for a draft's estimate again (after a failure, or a worker that was down)."""
    submission = submission_or_404(request, submission_id, need="submit_batch")
    if not submission.is_draft:
        messages.info(request, "Only a draft is estimated: this one was sent or discarded.")
    elif not estimates.ask_again(submission):
        messages.warning(request, NO_ESTIMATE)
    return redirect("submission_detail", submission.pk)
