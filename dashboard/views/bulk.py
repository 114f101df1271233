"""Bulk actions from the batch list: the ticked batches, or all that match its filter, confirmed once."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from batches.services import actions, bulk
from batches.services.handoff import enqueue
from batches.tasks import cancel_batches
from dashboard.access import HtmxHttpRequest, needed_roles, visible_batches, workspace_ids_with
from dashboard.forms import BatchFilterForm
from dashboard.listing import BULK_MAX, RETRYABLE
from dashboard.outcomes import WORKER_UNREACHABLE
from dashboard.queries import query_without
from dashboard.wording import counted

PERMISSION = {"cancel": "cancel_batch", "retry": "retry_results"}


@require_POST
@login_required
def batch_bulk(request: HtmxHttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in PERMISSION:
        return HttpResponseBadRequest("Unknown bulk action.")
    if not request.user.has_perm(f"batches.{PERMISSION[action]}"):
        raise PermissionDenied(needed_roles(PERMISSION[action]))
    query = query_without(request.GET, "page")
    chosen, selected = _selection(request)
    context = {
        "action": action, "selected": selected, "chosen": chosen, "left_alone": max(selected - len(chosen), 0),
        "query": query, "bulk_max": BULK_MAX,
    }  # fmt: skip
    if selected > BULK_MAX:
        return render(request, "batches/bulk_confirm.html", context, status=400)
    if request.POST.get("confirmed") != "yes":
        if action == "retry" and chosen:  # say how many go, and why any cannot, before anything is sent
            context["preview"] = bulk.retry_preview(chosen)
        return render(request, "batches/bulk_confirm.html", context)
    if not chosen:
        messages.info(request, "None of the selected batches can take this action: nothing was done.")
    elif action == "cancel":
        if enqueue(cancel_batches, chosen, request.user.pk):
            bulk.record(request.user, "cancel", chosen, query=query)
            messages.success(request, f"Canceling {counted(len(chosen), 'batch', 'batches')}: the list shows each "
                                      "as it goes.")  # fmt: skip
        else:
            # The selection lives only in the task: nothing would cancel these once the broker is back.
            messages.warning(request, actions.NOT_QUEUED)
    else:
        bulk.record(request.user, "retry", chosen, query=query)
        made = bulk.retry_many(chosen, request.user)
        items = sum(m.submission.request_count for m in made)
        text = f"{counted(items, 'failed item')} queued again in {counted(len(made), 'child batch', 'child batches')}."
        if not made:
            text = ("Nothing was sent: none of their retryable items has its inputs kept. Attach each batch's "
                    "request file on its page, then retry.")  # fmt: skip
        # The children are kept before they are queued: the beat's sweep sends them once the broker is back.
        if any(m.created and not m.queued for m in made):
            messages.warning(request, f"{text} {WORKER_UNREACHABLE}")
        else:
            messages.success(request, text)
    return redirect(f"{reverse('batch_list')}?{query}")


def _selection(request: HtmxHttpRequest) -> tuple[list[str], int]:
    """(the batches the action applies to, how many were selected): the ticked ones the user may see, or
    the list's filter run again here, on the server. Capped: a larger selection is refused, not cut."""
    action = request.POST["action"]
    if request.POST.get("all_matching") == "1":
        form = BatchFilterForm(request.GET)  # the filter, run again here
        # The list leaves out a filter it cannot read and says so; an action on "all matching" never widens
        # that way: with any filter unreadable it takes nothing.
        batches = form.filter(visible_batches(request)) if form.is_valid() else visible_batches(request).none()
    else:
        batches = visible_batches(request).filter(pk__in=request.POST.getlist("batch")[: BULK_MAX + 1])
    selected = batches.count()
    applicable = batches.filter(processing_status="in_progress") if action == "cancel" else batches.filter(RETRYABLE)
    # Only in the workspaces where this user's role allows the action.
    allowed = workspace_ids_with(request, PERMISSION[action])
    if allowed is not None:
        applicable = applicable.filter(workspace_id__in=allowed)
    return list(applicable.values_list("id", flat=True)[: BULK_MAX + 1]), selected
