"""The batch list, a batch's page and one result: read the database only, never the API."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from batches.models import Batch, RequestInput, Result, Submission
from batches.services import kept_bodies, pricing, retry
from batches.services.eta import eta
from dashboard import batch_rows, listing, polling
from dashboard.access import (
    HtmxHttpRequest,
    batch_or_404,
    can_view,
    may,
    result_or_404,
    visible_batches,
    visible_workspace_ids,
    visible_workspaces,
)
from dashboard.forms import BatchFilterForm, ItemFilterForm
from dashboard.queries import batch_page, keyset_page, query_without
from dashboard.results import render_result
from dashboard.spend.figures import Spend, spend_of_batch
from dashboard.wording import sent_with


@require_GET
@can_view
@polling.conditional(polling.list_versions, bar=True)
def batch_list(request: HtmxHttpRequest) -> HttpResponse:
    form = BatchFilterForm(request.GET, workspaces=visible_workspaces(request))
    visible = visible_batches(request)
    workspace_ids = visible_workspace_ids(request)
    shown_versions = polling.visible_versions(request)  # filtered counts are kept under them
    tab_list, offers = listing.tabs(form, visible, request.GET, shown_versions, workspace_ids)
    in_tab = next(tab.count for tab in tab_list if tab.current)  # the pager's count: the tab counted it already
    page, batches = batch_page(form.filter(visible), request.GET.get("page"), count=in_tab)
    context = {
        "form": form,
        "page": page,
        "batches": batches,
        "rows": batch_rows.rows(batches),
        "tabs": tab_list,
        "announce": listing.running_share(tab_list),
        "headers": listing.headers(form, request.GET),
        # Poll while something on this page still awaits results; the re-rendered rows drop the trigger after.
        "live": any(b.awaiting_results for b in batches),
        "query": query_without(request.GET, "page"),
        "offers": offers,
        "bulk_max": listing.BULK_MAX,
    }
    template = "batches/list.html#rows" if request.htmx else "batches/list.html"
    return render(request, template, context)


@require_GET
@can_view
@polling.conditional(polling.batch_versions, bar=True)
def batch_detail(request: HtmxHttpRequest, batch_id: str) -> HttpResponse:
    batch = batch_or_404(request, batch_id, "submitted_by")
    # A poll says what state the page drew the batch in: when it has moved on, the answer redraws all that
    # depends on it (actions; once settled, errors, retries and results). Otherwise only the summary.
    poll = bool(request.htmx) and request.htmx.target == "batch-summary"
    changed = poll and request.GET.get("seen") != batch.state
    context = {
        "batch": batch, "live": batch.awaiting_results, "state": batch.state, "changed": changed,
        "spend": spend_of_batch(batch.pk), "eta": eta(batch), "sent_with": sent_with(batch),
        "stale": batch_rows.stale_note(batch),
    }  # fmt: skip
    if poll and (batch.awaiting_results or not changed):
        return render(request, "batches/detail.html#summary", context)
    form = ItemFilterForm(request.GET)
    context |= {
        "list_query": listing.list_query(request.GET.get("list", "")),
        # A retry's child batch names the batch it retried.
        "parent_id": Submission.objects.filter(kind=Submission.Kind.RETRY, parts__batch_id=batch.pk)
        .values_list("parent_batch_id", flat=True)
        .first(),
        "form": form,
        "error_counts": list(batch.error_counts.order_by("-count")),
        # Read only when it has some: a batch of whole answers costs no query for them.
        "incomplete_counts": list(batch.incomplete_counts.order_by("-count", "stop_reason"))
        if batch.incomplete_count
        else [],
        # Child batches that retried some of this batch's items, and how its items ended up.
        "children": list(
            Batch.objects.filter(pk__in=RequestInput.objects.filter(retry_of__batch_id=batch.pk).values("batch_id"))
        ),
        # Always computed (cheap without retries) so the page's query count does not depend on data.
        "outcome": retry.outcome(batch),
        "inputs_kept": kept_bodies.inputs_kept(batch),
    }
    if batch.results_ingested_at:
        results = form.filter(Result.objects.filter(batch=batch)).defer("chunk", "line_index")
        context["items"] = keyset_page(
            results,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            last=request.GET.get("last") == "1",
            keys_first=form.searches,
        )
        context["query"] = query_without(request.GET, "after", "before", "last", "seen")
    return render(request, "batches/detail.html#summary" if poll else "batches/detail.html", context)


@require_GET
@can_view
def result_detail(request: HtmxHttpRequest, batch_id: str, custom_id: str) -> HttpResponse:
    """One result in full, with the previous and next of the item table under the same filters (kept in the links)."""
    result = result_or_404(request, batch_id, custom_id)
    own = retry.kept_input(result)
    form = ItemFilterForm(request.GET)
    listed = form.filter(Result.objects.filter(batch_id=result.batch_id)) if form.is_valid() else None
    may_retry = may(request, "retry_results", result.batch.workspace_id)
    context = {
        "result": result,
        "batch": result.batch,
        "shown": render_result(result),
        "attempts": retry.attempts(result, own),
        "cost": Spend.of_item(pricing.item_cost(result)),
        # An errored item has no model in its result line: its request says which it asked for.
        "model": result.model or (own.unpack().get("model", "") if own else ""),
        # The request is shown to those who may retry it (the retry page shows them the same, to edit).
        "request_params": json.dumps(own.unpack(), indent=2, ensure_ascii=False) if own and may_retry else "",
        "may_retry": may_retry and (result.result_type != Result.Type.SUCCEEDED or result.incomplete),
        "previous": _neighbour(listed, result.custom_id, before=True),
        "next": _neighbour(listed, result.custom_id, before=False),
        "query": urlencode(form.active),
    }  # fmt: skip
    template = "batches/result.html#full" if request.htmx else "batches/result.html"
    return render(request, template, context)


def _neighbour(listed: QuerySet[Result] | None, custom_id: str, *, before: bool) -> str | None:
    """The custom_id before or after this one in the item table's order (by custom_id), under its filters."""
    if listed is None:
        return None
    if before:
        listed = listed.filter(custom_id__lt=custom_id).order_by("-custom_id")
    else:
        listed = listed.filter(custom_id__gt=custom_id).order_by("custom_id")
    return listed.values_list("custom_id", flat=True).first()
