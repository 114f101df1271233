"""Retry failed results: choose, see what would be sent, confirm; a linked child batch follows."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.db.models import Q, QuerySet
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from batches import retry
from batches.models import Result
from batches.tasks import submit_batches
from dashboard.access import role_required
from dashboard.queries import ItemFilterForm, start_of

SHOWN = 20


class RetryOptionsForm(forms.Form):
    model = forms.CharField(required=False, max_length=128, help_text="Send every item to this model instead")
    max_tokens = forms.IntegerField(required=False, min_value=1, help_text="Override max_tokens for every item")
    include_needs_fix = forms.BooleanField(required=False, label="Also send the items that need a fix, unchanged")
    edit_result = forms.IntegerField(required=False, widget=forms.HiddenInput)
    edit_params = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 80}))

    def clean_edit_params(self) -> dict | None:
        text = self.cleaned_data["edit_params"].strip()
        if not text:
            return None
        try:
            params = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(params, dict) or not {"model", "max_tokens", "messages"} <= params.keys():
            raise forms.ValidationError("The params must be an object with model, max_tokens and messages.")
        return params

    def overrides(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("model", "max_tokens") if data.get(k)}

    def edits(self) -> dict[str, dict]:
        data = self.cleaned_data
        return (
            {str(data["edit_result"]): data["edit_params"]} if data.get("edit_params") and data["edit_result"] else {}
        )


@require_http_methods(["GET", "POST"])
@role_required("retry_results")
def retry_plan(request):
    results = selection(request.GET)
    if results is None:
        messages.warning(request, "Choose what to retry from a batch's results or the errors view first.")
        return redirect("batch_list")
    plan = retry.plan(results)
    form = RetryOptionsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and not plan.problem and form.is_valid():
        try:
            submission, created = retry.create(
                plan, request.user, overrides=form.overrides(), edits=form.edits(),
                include_needs_fix=form.cleaned_data["include_needs_fix"],
            )  # fmt: skip
        except ValueError as exc:
            messages.warning(request, str(exc).capitalize() + ".")
        else:
            if created:
                submit_batches.delay_on_commit(submission.pk)
                messages.success(request, f"Retry of {submission.request_count:,} items queued as a child batch.")
            else:
                messages.info(request, "These items were already retried: here is that retry.")
            return redirect("submission_detail", submission.pk)
    # The first few items needing a fix, with their kept params ready to edit.
    to_fix = [
        (result, json.dumps(kept.unpack(), indent=2, ensure_ascii=False)) for result, kept in plan.needs_fix[:SHOWN]
    ]
    context = {"plan": plan, "to_fix": to_fix, "form": form, "shown": SHOWN, "query": request.GET.urlencode()}
    return render(request, "retry.html", context, status=400 if request.method == "POST" else 200)


def selection(params) -> QuerySet[Result] | None:
    """The results a retry covers, from GET parameters: one batch (with the item table's filters or
    chosen custom_ids), or a workspace's batches created in a date range; `kind` narrows to result
    types (expired, canceled, errored) or error types (overloaded_error, …), several allowed."""
    results = Result.objects.all()
    if params.get("batch"):
        results = results.filter(batch_id=params["batch"])
    elif params.get("workspace"):
        results = results.filter(batch__workspace__name=params["workspace"])
        try:
            start, end = (forms.DateField(required=False).clean(params.get(k)) for k in ("created_from", "created_to"))
        except forms.ValidationError:
            return results.none()  # a date that is not one selects nothing, never the whole workspace
        if start:
            results = results.filter(batch__created_at__gte=start_of(start))
        if end:
            results = results.filter(batch__created_at__lt=start_of(end + timedelta(days=1)))
    else:
        return None
    if custom_ids := params.getlist("custom_id"):
        results = results.filter(custom_id__in=custom_ids)
    elif params.get("selected"):
        return results.none()  # "Retry selected" with nothing ticked selects nothing, not everything
    if kinds := params.getlist("kind"):
        types = [k for k in kinds if k in Result.Type.values]
        results = results.filter(Q(result_type__in=types) | Q(error_type__in=[k for k in kinds if k not in types]))
    return ItemFilterForm(params).filter(results)
