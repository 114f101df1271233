"""Retry failed results: choose, see what would be sent, confirm; a linked child batch follows."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from batches import retry
from dashboard.access import HtmxHttpRequest, role_required
from dashboard.forms import RetryOptionsForm
from dashboard.queries import retry_selection
from dashboard.views.outcomes import show_submission

SHOWN = 20


@require_http_methods(["GET", "POST"])
@role_required("retry_results")
def retry_plan(request: HtmxHttpRequest) -> HttpResponse:
    results = retry_selection(request.GET)
    if results is None:
        messages.warning(request, "Choose what to retry from a batch's results or the errors view first.")
        return redirect("batch_list")
    plan = retry.plan(results)
    form = RetryOptionsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and not plan.problem and form.is_valid():
        try:
            made = retry.create(
                plan, request.user, overrides=form.overrides(), edits=form.edits(),
                include_needs_fix=form.cleaned_data["include_needs_fix"],
            )  # fmt: skip
        except ValueError as exc:
            messages.warning(request, str(exc).capitalize() + ".")
        else:
            return show_submission(
                request, made,
                made_text=f"Retry of {made.submission.request_count:,} items queued as a child batch.",
                found_text="These items were already retried: here is that retry.",
            )  # fmt: skip
    # The first few items needing a fix, with their kept params ready to edit.
    to_fix = [
        (result, json.dumps(kept.unpack(), indent=2, ensure_ascii=False)) for result, kept in plan.needs_fix[:SHOWN]
    ]
    context = {"plan": plan, "to_fix": to_fix, "form": form, "shown": SHOWN, "query": request.GET.urlencode()}
    return render(request, "retry.html", context, status=400 if request.method == "POST" else 200)
