"""Retrying failed items: what can be retried, as a linked child batch, once, with every attempt kept."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import AuditEvent, Batch, RequestInput, Result, Submission
from batches.services import kept_bodies, retry, submit, sync, uploads
from config.celery import app
from tests.builders import jsonl, outcome_request
from tests.html import attribute, element, prose, text


@pytest.fixture
def parent(workspace, emulator, make_user):
    """A batch submitted through the dashboard (so its inputs are kept), ended and ingested."""
    lines = [outcome_request(f"ok-{i}", "succeeded", max_tokens=4096) for i in range(4)]  # whole answers
    lines += [outcome_request(f"over-{i}", "errored:overloaded_error") for i in range(3)]
    lines += [outcome_request("bad-0", "errored:invalid_request_error"), outcome_request("late-0", "expired")]
    f = SimpleUploadedFile("p.jsonl", jsonl(lines))
    owner = make_user("owner", "Operator")
    submission = submit.prepare_upload(
        workspace, owner, f, uploads.validate(f), label="parent", filename="p.jsonl"
    ).submission
    submit.confirm(submission, owner)  # an upload is a draft until an Operator sends it
    submit.submit(submission.pk)
    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    batch = Batch.objects.get(pk=submission.parts.get().batch_id)
    assert batch.results_ingested_at and batch.errored_count == 4
    return batch


@pytest.fixture
def confirm(operator_client, django_capture_on_commit_callbacks):
    """POST the confirmation; the child's creation runs in-process as the request commits."""

    def post(query: str, data: dict | None = None):
        app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                return operator_client.post(f"/retry/?{query}", data or {})
        finally:
            app.conf.task_always_eager = False

    return post


def test_the_plan_sorts_what_can_be_retried(operator_client, parent):
    body = operator_client.get(f"/retry/?batch={parent.id}").content.decode()
    shown = _said(body)
    assert "5 failed items selected in 1 batch." in shown  # 3 overloaded, 1 invalid, 1 expired
    assert "4 items can be sent again without a fix" in shown and "1 item needs a fix first: of the request" in shown
    assert "or of the account (billing_error" in shown  # as the errors page advises them: fix the account, send as is
    assert "bad-0" in body and "no kept inputs" not in shown  # a line with nothing to say is left out


def test_a_confirmed_retry_makes_one_linked_child_batch(operator_client, confirm, parent, emulator):
    response = confirm(f"batch={parent.id}&kind=overloaded_error&kind=expired")

    assert response.status_code == 302
    child_submission = Submission.objects.get(kind="retry")
    assert child_submission.parent_batch_id == parent.id and child_submission.request_count == 4
    child = Batch.objects.get(pk=child_submission.parts.get().batch_id)
    assert child.request_total == 4 and child.label == f"Retry of {parent.id}"
    kept = RequestInput.objects.filter(batch=child)
    assert sorted(kept.values_list("custom_id", flat=True)) == ["late-0", "over-0", "over-1", "over-2"]
    assert all(i.retry_of.batch_id == parent.id and i.root_id == i.retry_of_id for i in kept)
    assert AuditEvent.objects.filter(action="retry").count() == 1
    page = operator_client.get(f"/batches/{parent.id}/").content.decode()
    assert child.id in page and "Retries" in page


def test_the_same_retry_twice_makes_one_child(operator_client, confirm, parent, emulator):
    confirm(f"batch={parent.id}&kind=overloaded_error")
    creates = emulator.calls["create"]
    second = confirm(f"batch={parent.id}&kind=overloaded_error")
    assert second.status_code == 302 and emulator.calls["create"] == creates
    assert Submission.objects.filter(kind="retry").count() == 1


def test_already_retried_items_are_left_out_of_a_new_retry(operator_client, confirm, parent):
    confirm(f"batch={parent.id}&kind=overloaded_error")
    body = operator_client.get(f"/retry/?batch={parent.id}").content.decode()
    shown = _said(body)
    assert "3 items were already retried in a child batch, and are left out" in shown
    assert "1 item can be sent again without a fix" in shown


def test_overrides_apply_to_every_item(operator_client, confirm, parent):
    confirm(f"batch={parent.id}&kind=overloaded_error", {"model": "claude-sonnet-4-6", "max_tokens": "99"})
    params = [i.unpack() for i in RequestInput.objects.filter(part__submission__kind="retry")]
    assert {p["model"] for p in params} == {"claude-sonnet-4-6"} and {p["max_tokens"] for p in params} == {99}


def test_an_item_that_needs_a_fix_goes_only_when_edited(operator_client, confirm, parent):
    bad = Result.objects.get(batch=parent, custom_id="bad-0")
    fixed = {"model": "claude-haiku-4-5-20251001", "max_tokens": 16, "messages": [{"role": "user", "content": "fixed"}]}
    confirm(f"batch={parent.id}&custom_id=bad-0", {"edit_result": bad.pk, "edit_params": json.dumps(fixed)})
    sent = RequestInput.objects.get(part__submission__kind="retry")
    assert sent.custom_id == "bad-0" and sent.unpack()["messages"][0]["content"] == "fixed"


def test_nothing_to_send_is_explained(operator_client, confirm, parent):
    response = confirm(f"batch={parent.id}&custom_id=bad-0")
    assert response.status_code == 400 and "needs a fix first" in response.content.decode()
    assert not Submission.objects.filter(kind="retry").exists()


def test_bad_edited_params_are_refused(operator_client, confirm, parent):
    bad = Result.objects.get(batch=parent, custom_id="bad-0")
    response = confirm(f"batch={parent.id}&custom_id=bad-0", {"edit_result": bad.pk, "edit_params": "{nope"})
    assert response.status_code == 400 and "Not valid JSON" in response.content.decode()


def test_every_attempt_of_an_item_and_its_final_outcome_are_shown(
    operator_client, confirm, parent, emulator, workspace
):
    confirm(f"batch={parent.id}&custom_id=late-0")
    child = Batch.objects.exclude(pk=parent.pk).get()
    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    body = operator_client.get(f"/batches/{parent.id}/results/late-0/").content.decode()
    assert "Attempts of this item" in body and child.id in body and parent.id in body
    # The child's item expired again (same marker): the item is still not done.
    page = operator_client.get(f"/batches/{parent.id}/").content.decode()
    assert "Of 9 items, 4 finally succeeded (0 after a retry); 5 have not (yet)." in _said(page)


def test_across_batches_of_a_workspace_by_date_and_type(operator_client, parent, workspace):
    today = parent.created_at.date().isoformat()
    body = operator_client.get(
        f"/retry/?workspace={workspace.name}&created_from={today}&created_to={today}&kind=overloaded_error"
    ).content.decode()
    assert "3 failed items selected" in _said(body)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's index and statistics: CI's second run")
def test_a_workspaces_retry_plan_has_the_index_of_results_that_are_not_whole(operator_client, parent, workspace):
    """At 100,000 batches this one pass read every result (294 ms); the partial index and the statistics let it read
    only the results that are not whole (bench/pages.py). Which plan a near-empty test table gets is the planner's
    coin toss, so this checks what the plan at scale rests on: the index, its rows, and the statistics."""
    body = operator_client.get(f"/retry/?workspace={workspace.name}&kind=retryable").content.decode()
    assert "4 failed items selected" in _said(body)  # 3 overloaded and 1 expired; invalid_request needs a fix
    with connection.cursor() as cursor:
        incomplete = "'max_tokens', 'model_context_window_exceeded', 'pause_turn', 'refusal'"
        cursor.execute(
            "SELECT count(*) FROM batches_result"
            f" WHERE NOT (result_type = 'succeeded' AND NOT (stop_reason IN ({incomplete})))"
        )
        assert cursor.fetchone() == (5,)  # the 5 that are not whole answers of the 9: the index's rows
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'result_not_whole'")
        (definition,) = cursor.fetchone()
        assert "WHERE" in definition and "succeeded" in definition
        cursor.execute("SELECT stxname FROM pg_statistic_ext WHERE stxname = 'result_kind_mcv'")
        assert cursor.fetchall() == [("result_kind_mcv",)]
        # Each result's batch and its workspace from an index alone (a million batches: 230 ms to 79 ms).
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'batch_workspace_of'")
        (definition,) = cursor.fetchone()
        assert "(id) INCLUDE (workspace_id)" in definition


def test_a_date_that_is_not_one_is_asked_again_never_the_whole_workspace(operator_client, parent, workspace):
    """It selects nothing (never every batch of the workspace), and the page says why rather than "No failed result
    matches this selection", which read as a finding."""
    response = operator_client.get(f"/retry/?workspace={workspace.name}&created_from=yesterday")
    body = response.content.decode()
    assert response.status_code == 400 and "Enter a valid date" in body
    assert "No failed result matches this selection" not in body


def test_items_without_kept_inputs_link_to_attaching_their_batch_file(operator_client, mirrored):
    batch = mirrored["ended"]  # created outside the dashboard: no inputs kept
    body = operator_client.get(f"/retry/?batch={batch.id}").content.decode()
    # 5 failed, and the answers cut off at their max_tokens of 64: incomplete, so retryable too
    assert f"{5 + batch.incomplete_count} items have no kept inputs" in _said(body) and batch.incomplete_count
    assert f'<a href="/batches/{batch.id}/inputs/"' in body


def test_viewers_cannot_retry(viewer_client, parent):
    assert viewer_client.get(f"/retry/?batch={parent.id}").status_code == 403
    assert viewer_client.post(f"/retry/?batch={parent.id}").status_code == 403


def test_retry_selected_with_nothing_ticked_selects_nothing(operator_client, parent):
    body = operator_client.get(f"/retry/?batch={parent.id}&selected=1").content.decode()
    assert "No failed result matches this selection" in body


def test_a_plan_with_nothing_to_send_offers_no_button(operator_client, confirm, parent):
    confirm(f"batch={parent.id}&kind=overloaded_error")
    body = operator_client.get(f"/retry/?batch={parent.id}&kind=overloaded_error").content.decode()
    assert "already retried" in body and "as a new batch</button>" not in body


def _said(body: str) -> str:
    """The page's main text, as a person reads it."""
    return prose(body)


def test_a_bad_edit_is_shown_beside_its_item_with_the_typed_text_kept(operator_client, parent):
    bad = Result.objects.get(batch=parent, custom_id="bad-0")
    typed = '{"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [oops'
    response = operator_client.post(f"/retry/?batch={parent.id}", {"edit_result": bad.pk, "edit_params": typed})
    body = response.content.decode()
    editor = element(body, "textarea", name="edit_params")
    assert response.status_code == 400 and text(editor) == typed
    assert "Not valid JSON" in text(element(body, "p", id=f"edit-error-{bad.pk}"))
    assert attribute(editor, "aria-describedby") == f"edit-error-{bad.pk}"


@pytest.mark.parametrize(
    ("field", "typed", "said"),
    [
        ("edit_params", "[" * 100_000 + "]" * 100_000, "Not valid JSON"),
        ("edit_params", '{"model": "m", "max_tokens": 5, "messages": ' + "[" * 70 + "]" * 70 + "}", "nested more than"),
        ("edit_params", '{"model": "m\\ud800", "max_tokens": 5, "messages": []}', "lone surrogate"),
    ],
    ids=["nested past Python", "nested past 64", "a lone surrogate in the params"],
)
def test_what_the_sdk_could_not_send_is_refused_on_the_retry_page(operator_client, parent, field, typed, said):
    """A RecursionError (a 500), or a retry kept and then failed in the worker: checked as an upload's line is."""
    bad = Result.objects.get(batch=parent, custom_id="bad-0")
    response = operator_client.post(f"/retry/?batch={parent.id}", {"edit_result": bad.pk, field: typed})
    assert response.status_code == 400 and said in response.content.decode()
    assert not Submission.objects.filter(kind="retry").exists()


def test_bare_retry_offers_a_choice_by_workspace_dates_and_kind(operator_client, parent, workspace):
    body = operator_client.get("/retry/").content.decode()
    assert element(body, "select", name="workspace") and element(body, "input", name="kind", value="retryable")
    chosen = attribute(element(element(body, "select", name="workspace"), "option", selected=None), "value")
    assert chosen == workspace.name  # the only workspace, chosen already
    retryable = _said(operator_client.get(f"/retry/?workspace={workspace.name}&kind=retryable").content.decode())
    assert "4 failed items selected" in retryable and "4 items can be sent again" in retryable


def test_the_page_counts_in_sql_what_the_full_plan_holds(operator_client, confirm, parent):
    confirm(f"batch={parent.id}&custom_id=over-0")  # over-0 is already retried
    RequestInput.objects.filter(batch=parent, custom_id="late-0").delete()  # late-0 has lost its inputs
    results = Result.objects.filter(batch=parent)
    full, shown = retry.plan(results), retry.preview(results)
    # over-1 and over-2 ready; bad-0 needs a fix; late-0 missing; over-0 already retried
    assert (shown.selected, shown.n_ready, shown.n_needs_fix, shown.n_missing, shown.n_already_retried) == (
        5,
        2,
        1,
        1,
        1,
    )
    for name in ("selected", "n_ready", "n_needs_fix", "n_missing", "n_already_retried", "n_parents"):
        assert getattr(shown, name) == getattr(full, name), name
    assert shown.workspace_ids == full.workspace_ids and shown.missing_batches == full.missing_batches == [parent.id]
    assert [(r.custom_id, kept.pk) for r, kept in shown.needs_fix] == [
        (r.custom_id, kept.pk) for r, kept in full.needs_fix
    ]
    assert [r.custom_id for r in shown.missing] == ["late-0"]
    assert retry.earlier_submission(shown) == retry.earlier_submission(full) is not None
    with pytest.raises(ValueError, match="full plan"):
        retry.create(shown, parent.submitted_by, overrides={}, edits={}, include_needs_fix=True)

    name = parent.workspace.name
    with CaptureQueriesContext(connection) as queries:
        body = operator_client.get(f"/retry/?workspace={name}").content.decode()
    said = _said(body)
    assert "5 failed items selected in 1 batch." in said and "2 items can be sent again without a fix" in said
    assert "1 item has no kept inputs" in said and "1 item was already retried" in said
    # session, user, permissions (2), workspace roles; the pass-through bodies not split yet (none); one pass
    # classifying every item, the first missing, the first needing a fix and their inputs; the health bar: whatever
    # the number of items (a full plan reads them all and looks up their inputs, 4 s for a workspace at 100,000
    # batches).
    assert len(queries) == 11, "\n".join(q["sql"][:120] for q in queries)


def test_the_page_counts_a_pass_through_body_not_split_yet_as_sending_would(parent, tmp_path):
    """A pass-through create keeps its body whole until the worker splits it (kept_bodies.py): with the worker
    down, the page must still say what sending would, which splits it first, not "no kept inputs"."""
    part = parent.submission_part
    rows = RequestInput.objects.filter(part=part).order_by("line")
    body = {"requests": [{"custom_id": r.custom_id, "params": r.unpack()} for r in rows]}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    rows.delete()
    kept_bodies.keep(part, path)
    results = Result.objects.filter(batch=parent)

    shown = retry.preview(results)
    said = (shown.n_ready, shown.n_needs_fix, shown.n_missing)
    full = retry.plan(results)
    assert said == (full.n_ready, full.n_needs_fix, full.n_missing) == (4, 1, 0)
