"""Incomplete answers (cut off, paused, refused) through ingest, the pages, the retry plan and the retry."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import Batch, IncompleteCount, RequestInput, Result, Submission
from batches.services import retry, submit, sync, uploads
from tests.builders import jsonl, outcome_request
from tests.html import attribute, cells, element, elements, prose

STOPS = ("max_tokens", "model_context_window_exceeded", "pause_turn", "refusal")


@pytest.fixture
def parent(workspace, emulator, make_user):
    """A dashboard-submitted batch (inputs kept): one whole answer and one of each incomplete stop reason."""
    lines = [outcome_request("whole", "succeeded", max_tokens=4096)]
    lines += [outcome_request(stop, f"succeeded:{stop}", max_tokens=300, tools=[
        {"type": "web_search_20250305", "name": "web_search"}]) for stop in STOPS]  # fmt: skip
    f = SimpleUploadedFile("p.jsonl", jsonl(lines))
    owner = make_user("owner", "Operator")
    made = submit.prepare_upload(workspace, owner, f, uploads.validate(f), label="p", filename="p.jsonl")
    submit.confirm(made.submission, owner)
    submit.submit(made.submission.pk)
    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    return Batch.objects.get(pk=made.submission.parts.get().batch_id)


def test_each_stop_reason_is_stored_and_counted_as_incomplete(parent):
    assert parent.succeeded_count == 5 and parent.incomplete_count == 4
    stored = dict(Result.objects.filter(batch=parent).values_list("custom_id", "stop_reason"))
    assert stored == {"whole": stored["whole"], **{s: s for s in STOPS}} and stored["whole"] != "max_tokens"
    refused = Result.objects.get(batch=parent, custom_id="refusal")
    assert refused.stop_details_type == "refusal" and refused.stop_details_category and refused.stop_details_explanation
    rows = {(r.stop_reason, r.category) for r in IncompleteCount.objects.filter(batch=parent)}
    assert rows == {("max_tokens", ""), ("model_context_window_exceeded", ""), ("pause_turn", ""),
                    ("refusal", refused.stop_details_category)}  # fmt: skip


def test_the_plan_continues_a_paused_turn_and_holds_the_rest_for_a_fix(operator_client, parent):
    plan = retry.plan(Result.objects.filter(batch=parent))
    assert plan.selected == 4  # the whole answer is never retried
    assert [r.custom_id for r, _ in plan.ready] == ["pause_turn"]
    assert sorted(r.custom_id for r, _ in plan.needs_fix) == ["max_tokens", "model_context_window_exceeded", "refusal"]
    said = prose(operator_client.get(f"/retry/?batch={parent.id}").content.decode())
    assert "max_tokens. Cut off: the answer reached max_tokens. Retry with a higher max_tokens." in said
    refused = Result.objects.get(batch=parent, custom_id="refusal")
    assert f"refusal (category {refused.stop_details_category}): {refused.stop_details_explanation}" in said
    assert "Retry only on purpose" in said


def test_a_paused_turn_is_continued_with_its_paused_content(
    operator_client, parent, django_capture_on_commit_callbacks
):
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = operator_client.post(f"/retry/?batch={parent.id}&kind=pause_turn", {})
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 302
    paused = Result.objects.get(batch=parent, custom_id="pause_turn")
    original = RequestInput.objects.get(batch=parent, custom_id="pause_turn").unpack()
    sent = RequestInput.objects.get(part__submission__kind="retry")
    params = sent.unpack()
    paused_content = json.loads(paused.raw_line())["result"]["message"]["content"]
    # Field by field: the same request, with the paused assistant turn appended, as the API documents.
    assert sent.custom_id == "pause_turn" and sent.retry_of_id == paused.pk
    assert params["model"] == original["model"] and params["max_tokens"] == original["max_tokens"]
    assert params["tools"] == original["tools"]
    assert params["messages"][:-1] == original["messages"]
    assert params["messages"][-1] == {"role": "assistant", "content": paused_content}
    assert [b["type"] for b in paused_content] == ["server_tool_use", "web_search_tool_result"]
    child = Batch.objects.get(pk=Submission.objects.get(kind="retry").parts.get().batch_id)
    assert child.request_total == 1  # the API took the continuation


def test_cut_off_answers_go_with_a_higher_max_tokens_and_a_refusal_only_on_purpose(parent):
    plan = retry.plan(Result.objects.filter(batch=parent, custom_id__in=["max_tokens", "refusal"]))
    assert not plan.ready
    with pytest.raises(ValueError):
        retry.create(plan, None, overrides={"max_tokens": 8000}, edits={}, include_needs_fix=False)
    retry.create(plan, None, overrides={"max_tokens": 8000}, edits={}, include_needs_fix=True)
    sent = {i.custom_id: i.unpack() for i in RequestInput.objects.filter(part__submission__kind="retry")}
    assert sent["max_tokens"]["max_tokens"] == 8000 and set(sent) == {"max_tokens", "refusal"}


def test_the_batch_page_shows_them_apart_and_counts_them_as_not_done(operator_client, parent):
    body = operator_client.get(f"/batches/{parent.id}/").content.decode()
    section = prose(str(element(body, id="incomplete")), within=None)
    refused = Result.objects.get(batch=parent, custom_id="refusal")
    for stop in ("max_tokens 1", "model_context_window_exceeded 1", "pause_turn 1"):
        assert stop in section
    assert f"refusal ({refused.stop_details_category}) 1" in section
    bar = attribute(element(body, "svg", class_="progress"), "aria-label")
    assert bar.startswith("1 succeeded, 4 incomplete, 0 errored")
    filtered = operator_client.get(f"/batches/{parent.id}/?stop_reason=refusal").content.decode()
    listed = prose(filtered)
    assert "refusal succeeded incomplete refusal" in listed and "whole" not in listed
    # The filter is named in the form, so Filter keeps it (it was applied, unseen, and dropped by the next Filter).
    assert attribute(element(filtered, "input", name="stop_reason"), "value") == "refusal"
    outcome = retry.outcome(parent)
    assert (outcome["succeeded"], outcome["still_failing"]) == (1, 4)


def test_the_errors_page_lists_them_by_stop_reason_and_category(operator_client, parent):
    refused = Result.objects.get(batch=parent, custom_id="refusal")
    body = operator_client.get("/errors/").content.decode()
    table = list(elements(element(body, id="incomplete"), "tr"))[1:]
    rows = {cells(row)[0] + "/" + cells(row)[1]: cells(row) for row in table}
    assert set(rows) == {"max_tokens/—", "model_context_window_exceeded/—", "pause_turn/—",
                         f"refusal/{refused.stop_details_category}"}  # fmt: skip
    assert rows["max_tokens/—"][2] == "1" and "higher max_tokens" in rows["max_tokens/—"][4]
    assert "kind=pause_turn" in body


def test_batch_ended_counts_them_and_metrics_export_them(parent, settings):
    from django.test import Client

    from batches.models import NotificationEvent

    event = NotificationEvent.objects.get(kind="batch.ended", batch_id=parent.id)
    assert event.data["incomplete"] == 4
    assert event.data["incomplete_by_stop_reason"] == {s: 1 for s in STOPS}
    assert event.data["request_counts"]["succeeded"] == 5
    settings.METRICS_TOKEN = "t" * 32
    scraped = Client().get("/metrics", headers={"Authorization": "Bearer " + "t" * 32}).content.decode()
    assert f'batch_dashboard_results_incomplete_total{{workspace="{parent.workspace.name}"}} 4.0' in scraped


def test_the_item_table_marks_them_and_lets_them_be_chosen_for_retry(operator_client, parent):
    body = operator_client.get(f"/batches/{parent.id}/").content.decode()
    boxes = {attribute(b, "value") for b in elements(body, "input", type="checkbox", name="custom_id")}
    assert boxes == set(STOPS)  # the whole answer has none
    assert len(list(elements(body, "span", class_="rt incomplete"))) >= 4
