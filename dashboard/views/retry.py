"""Retry failed results: choose, see what would be sent, confirm; a linked child batch follows."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from batches.services import retry
from dashboard.access import (
    HtmxHttpRequest,
    batch_or_404,
    check_workspace,
    role_required,
    visible_workspace_ids,
    visible_workspaces,
)
from dashboard.forms import RetryChoiceForm, RetryOptionsForm
from dashboard.outcomes import show_submission
from dashboard.queries import dates_readable, retry_selection
from dashboard.results import why_retried
from dashboard.wording import counted

SHOWN = 20


@require_http_methods(["GET", "POST"])
@role_required("retry_results")
def retry_plan(request: HtmxHttpRequest) -> HttpResponse:
    if batch_id := request.GET.get("batch"):  # a batch of another workspace is refused, not shown as empty
        batch_or_404(request, batch_id, need="retry_results")
    results = retry_selection(request.GET, visible_workspace_ids(request))
    unreadable = results is not None and not request.GET.get("batch") and not dates_readable(request.GET)
    if results is None or unreadable:  # nothing chosen yet, or a date that is not one: choose (again)
        # (A date that is not one selects nothing: "no failed item" would be the wrong answer, so it is asked again.)
        form = RetryChoiceForm(request.GET or None, workspaces=visible_workspaces(request, "retry_results"))
        return render(request, "retry_choose.html", {"form": form}, status=400 if unreadable else 200)
    # The page counts what a retry would send; only sending it needs every item (4 s at 100,000 batches).
    plan = retry.plan(results) if request.method == "POST" else retry.preview(results)
    for workspace_id in plan.workspace_ids:  # seeing them is not enough: the role there must allow a retry
        check_workspace(request, workspace_id, "retry_results")
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
                made_text=f"Retry of {counted(made.submission.request_count, 'item')} queued as a child batch.",
                found_text="These items were already retried: here is that retry.",
            )  # fmt: skip
    # The first few items needing a fix, with their kept params ready to edit.
    to_fix = [
        (result, json.dumps(kept.unpack(), indent=2, ensure_ascii=False), why_retried(result))
        for result, kept in plan.needs_fix[:SHOWN]
    ]
    # A bad edit is shown beside its item, with what was typed kept.
    edited = _int(request.POST.get("edit_result")) if form.is_bound and "edit_params" in form.errors else None
    context = {"plan": plan, "to_fix": to_fix, "form": form, "shown": SHOWN, "query": request.GET.urlencode()}
    context["edited"] = edited
    context["earlier"] = None if plan.n_ready else retry.earlier_submission(plan)
    return render(request, "retry.html", context, status=400 if request.method == "POST" else 200)


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None
