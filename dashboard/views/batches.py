"""The batch list, a batch's page and one result: read the database only, never the API."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from batches import pricing, retry
from batches.models import Batch, RequestInput, Result
from dashboard.access import can_view
from dashboard.queries import PAGE_SIZE, BatchFilterForm, ItemFilterForm, keyset_page, query_without
from dashboard.results import render_result
from dashboard.spend import Spend, spend_of_batch, spend_of_batches


@require_GET
@can_view
def batch_list(request):
    form = BatchFilterForm(request.GET)
    # Page through ids alone (an index-only scan, even on the last page), then load those rows.
    page = Paginator(form.filter(Batch.objects.all()).values_list("id", flat=True), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = Batch.objects.select_related("workspace", "submitted_by").in_bulk(list(page.object_list))
    batches = [rows[batch_id] for batch_id in page.object_list if batch_id in rows]
    costs = spend_of_batches(list(rows))  # one query for the page's batches
    for batch in batches:
        batch.spend = costs.get(batch.id)
    context = {
        "form": form,
        "page": page,
        "batches": batches,
        # Poll while something on this page is running; the re-rendered rows drop the trigger after.
        "live": any(not b.is_terminal for b in batches),
        "query": query_without(request.GET, "page"),
    }
    template = "batches/list.html#rows" if request.htmx else "batches/list.html"
    return render(request, template, context)


@require_GET
@can_view
def batch_detail(request, batch_id: str):
    batch = get_object_or_404(Batch.objects.select_related("workspace"), pk=batch_id)
    context = {"batch": batch, "spend": spend_of_batch(batch.pk)}
    summary_only = bool(request.htmx) and request.htmx.target == "batch-summary"
    if summary_only and not batch.results_ingested_at:
        # Polled every few seconds while the batch runs, the summary reads nothing else. The last poll,
        # once results are in, also carries the results table (out of band) and so reads it all.
        return render(request, "batches/detail.html#summary", context)
    form = ItemFilterForm(request.GET)
    context |= {
        "form": form,
        "error_counts": list(batch.error_counts.order_by("-count")),
        # Child batches that retried some of this batch's items, and how its items ended up.
        "children": list(
            Batch.objects.filter(pk__in=RequestInput.objects.filter(retry_of__batch_id=batch.pk).values("batch_id"))
        ),
        # Always computed (cheap without retries) so the page's query count does not depend on data.
        "outcome": retry.outcome(batch),
    }
    if batch.results_ingested_at:
        results = form.filter(Result.objects.filter(batch=batch)).defer("chunk", "line_index")
        context["items"] = keyset_page(
            results,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            last=request.GET.get("last") == "1",
        )
        context["query"] = query_without(request.GET, "after", "before", "last")
    return render(request, "batches/detail.html#summary" if summary_only else "batches/detail.html", context)


@require_GET
@can_view
def result_detail(request, batch_id: str, custom_id: str):
    result = get_object_or_404(Result.objects.select_related("batch", "chunk"), batch_id=batch_id, custom_id=custom_id)
    context = {
        "result": result,
        "batch": result.batch,
        "shown": render_result(result),
        "attempts": retry.attempts(result),
        "cost": Spend.of_item(pricing.item_cost(result)),
    }
    template = "batches/result.html#full" if request.htmx else "batches/result.html"
    return render(request, template, context)
