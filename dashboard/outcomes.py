"""What a view tells the user after it has handed work to the worker."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from batches.services.submit import Made

WORKER_UNREACHABLE = "The worker is unreachable right now: it will run this when it is back."
# A refresh lives only in its task: with the broker down nothing is kept to run later, so say only that.
REFRESH_UNREACHABLE = "Not refreshed: the worker is unreachable right now. Try again in a moment."


def show_submission(
    request: HttpRequest, made: Made, *, made_text: str, found_text: str, unreachable_text: str = WORKER_UNREACHABLE
) -> HttpResponse:
    """Say what became of a submission (new and queued, new but waiting for the worker, or one that
    existed already) and go to its page."""
    if not made.created:
        messages.info(request, found_text)
    elif made.queued:
        messages.success(request, made_text)
    else:
        messages.warning(request, f"{made_text} {unreachable_text}")
    return redirect("submission_detail", made.submission.pk)
