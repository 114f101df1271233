"""Bulk actions from the list: ticked rows or all matching a filter, re-run on the server, confirmed, audited."""

from __future__ import annotations

import io

import pytest

from batches.models import AuditEvent, Batch, Submission
from batches.services import submit, sync, uploads
from config.celery import app
from tests.builders import batch_request, jsonl, outcome_request
from tests.html import element, elements, text


@pytest.fixture
def eager_tasks():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def running(emulator, workspace):
    ids = [emulator.create_batch(workspace.test_api_key, [batch_request(f"r{n}")], duration=600) for n in range(3)]
    sync.sync_workspace(workspace.pk)
    return ids


def _post(client, data, query="", capture=None):
    if capture is None:
        return client.post(f"/batches/bulk/?{query}", data)
    with capture(execute=True):
        return client.post(f"/batches/bulk/?{query}", data)


def test_ticked_running_batches_are_canceled_after_one_confirmation(
    operator_client, running, mirrored, emulator, eager_tasks, django_capture_on_commit_callbacks
):
    ticked = [*running[:2], mirrored["ended"].id]
    ask = _post(operator_client, {"action": "cancel", "batch": ticked})
    heading = text(element(ask.content.decode(), "h1"))
    assert ask.status_code == 200 and heading == "Cancel 2 running batches?" and emulator.calls["cancel"] == 0
    assert "the other 1 is left alone (not running)" in text(element(ask.content.decode(), "main"))

    done = _post(operator_client, {"action": "cancel", "batch": running[:2], "confirmed": "yes"},
                 capture=django_capture_on_commit_callbacks)  # fmt: skip

    assert done.status_code == 302 and emulator.calls["cancel"] == 2
    assert set(Batch.objects.filter(processing_status="canceling").values_list("id", flat=True)) == set(running[:2])
    bulk = AuditEvent.objects.get(params__bulk=True)
    assert (bulk.action, bulk.params["count"], bulk.actor_name) == ("cancel", 2, "operator")
    assert AuditEvent.objects.filter(action="cancel", target__in=running[:2]).count() == 2  # each batch's own


def test_all_matching_the_filter_is_re_run_on_the_server(operator_client, running, mirrored, emulator):
    ask = _post(operator_client, {"action": "cancel", "all_matching": "1"}, query="status=in_progress")
    # The confirmation carries the server's own list of what the filter selects.
    posted = [
        dict(i.attributes).get("value")
        for i in elements(ask.content.decode(), "input")
        if dict(i.attributes).get("name") == "batch"
    ]
    assert sorted(posted) == sorted([*running, mirrored["running"].id])


def test_all_matching_a_filter_with_an_unreadable_part_takes_nothing(operator_client, running, mirrored, emulator):
    """The list leaves out a filter it cannot read (and says so); a bulk action never widens that way."""
    ask = _post(operator_client, {"action": "cancel", "all_matching": "1"}, query="status=in_progress&created_from=x")
    names = [dict(i.attributes).get("name") for i in elements(ask.content.decode(), "input")]
    assert "batch" not in names and emulator.calls["cancel"] == 0


def test_a_selection_over_the_cap_is_refused_not_cut(operator_client, running, mirrored, monkeypatch):
    monkeypatch.setattr("dashboard.views.bulk.BULK_MAX", 2)
    response = _post(operator_client, {"action": "cancel", "all_matching": "1"})
    assert response.status_code == 400 and "at most 2 batches" in text(element(response.content.decode(), "main"))


def test_viewers_may_not_act_in_bulk_nor_see_the_buttons(viewer_client, running):
    assert viewer_client.post("/batches/bulk/", {"action": "cancel", "batch": running}).status_code == 403
    body = viewer_client.get("/").content.decode()
    assert not list(elements(body, "form", id="bulk"))


def test_only_the_actions_the_selection_allows_are_offered(operator_client, running, mirrored):
    def names(query: str) -> set[str]:
        body = operator_client.get(f"/?{query}").content.decode()
        return {text(b).strip() for b in elements(body, "button") if dict(b.attributes).get("name") == "action"}

    assert names("status=in_progress") == {"Cancel the running ones…"}
    assert names("status=errors") == {"Retry their retryable failed items…"}
    assert names("status=canceling") == set()


def test_retryable_items_of_many_batches_go_again_in_one_child_per_workspace(
    operator_client, emulator, make_workspace, make_user, django_capture_on_commit_callbacks
):
    owner = make_user("owner", "Operator")
    parents = []
    for name in ("alpha", "beta"):
        workspace = make_workspace(name)
        f = io.BytesIO(jsonl([outcome_request("ok", "succeeded"), outcome_request("over", "errored:overloaded_error"),
                              outcome_request("bad", "errored:invalid_request_error")]))  # fmt: skip
        made = submit.prepare_upload(workspace, owner, f, uploads.validate(f), label=name, filename="f.jsonl")
        submit.confirm(made.submission, owner)
        submit.submit(made.submission.pk)
        parents.append(made.submission.parts.get().batch_id)
    emulator.advance(3600)
    for workspace_name in ("alpha", "beta"):
        sync.catch_up(Batch.objects.get(label=workspace_name).workspace_id)

    ask = _post(operator_client, {"action": "retry", "batch": parents})  # the confirmation counts first
    preview = text(element(ask.content.decode(), "ul", id="retry-preview"))
    assert preview.startswith("2 items") and "will be sent again" in preview and "cannot" not in preview
    assert "Yes, retry 2 items" in [text(b).strip() for b in elements(ask.content.decode(), "button")]

    done = _post(operator_client, {"action": "retry", "batch": parents, "confirmed": "yes"},
                 capture=django_capture_on_commit_callbacks)  # fmt: skip

    assert done.status_code == 302
    children = Submission.objects.filter(kind="retry")
    assert children.count() == 2 and all(c.request_count == 1 for c in children)  # "over" only: "bad" needs a fix
    assert AuditEvent.objects.get(params__bulk=True).params["count"] == 2


def test_a_bulk_retry_of_batches_without_kept_inputs_says_so_before_and_after(operator_client, mirrored):
    """Issue 21, point 6: no count, then "0 failed items queued again in 0 child batches" with no reason."""
    ended = mirrored["ended"].id  # made outside the dashboard: its inputs were never kept
    ask = _post(operator_client, {"action": "retry", "batch": [ended]}).content.decode()
    preview = text(element(ask, "ul", id="retry-preview"))
    # 3 overloaded_error and 1 expired item: retryable as they are, were their inputs kept
    assert preview.startswith("0 items") and "4 items cannot" in preview and "not kept" in preview
    assert f"/batches/{ended}/inputs/" in ask and "Nothing can be sent as it is" in ask
    assert not [b for b in elements(ask, "button") if "Yes, retry" in text(b)]

    done = _post(operator_client, {"action": "retry", "batch": [ended], "confirmed": "yes"}, query="")
    page = operator_client.get(done["Location"]).content.decode()
    assert "Nothing was sent: none of their retryable items has its inputs kept" in page
    assert not Submission.objects.filter(kind="retry").exists()
