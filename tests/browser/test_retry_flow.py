"""Retrying failed items from a batch's page: select, confirm, and follow the linked child batch to its end.

The parent is submitted through the dashboard's own submit service so its inputs are kept. The child
retries the same requests, and the emulator picks outcomes from the `[emulate:...]` marker in their text,
so the retried items fail again: the test follows what the user sees (the child appears, runs, ends, and
is listed under the parent's Retries with nothing recovered), not a recovery.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from batches.models import Batch, RequestInput, Result, Submission, SubmissionPart
from batches.services import submit, sync, uploads
from config.celery import app
from tests.browser.conftest import LIVE_TIMEOUT_MS
from tests.builders import batch_request

OVERLOADED = ["over-1", "over-2", "over-3"]
INVALID = "bad-1"
SUCCEEDED = ["ok-1", "ok-2", "ok-3", "ok-4"]


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """No worker here: the view's submit task runs in the live server's thread as its request commits."""
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def parent(emulator, workspace, user) -> Batch:
    """An ended, ingested batch of 8 requests submitted through the dashboard (so its inputs are kept):
    3 overloaded, 1 invalid request, 4 succeeded."""
    requests = [batch_request(c, max_tokens=4096) for c in SUCCEEDED]  # whole answers, none cut off
    requests += [batch_request(c, "hi [emulate:errored:overloaded_error]") for c in OVERLOADED]
    requests.append(batch_request(INVALID, "hi [emulate:errored:invalid_request_error]"))
    f = io.BytesIO("".join(json.dumps(r) + "\n" for r in requests).encode())
    validation = uploads.validate(f)
    assert validation.ok
    submission, created, _ = submit.prepare_upload(
        workspace, user, f, validation, label="nightly", filename="requests.jsonl"
    )
    assert created and submit.confirm(submission, user).created  # an upload is a draft until it is sent
    assert not submit.submit(submission.pk)
    batch_id = SubmissionPart.objects.get(submission=submission).batch_id
    emulator.advance(700)  # past any duration the emulator gives an API-created batch (2 to 10 minutes)
    sync.catch_up(workspace.pk)
    batch = Batch.objects.get(pk=batch_id)
    assert batch.results_ingested_at and (batch.succeeded_count, batch.errored_count) == (4, 4)
    return batch


@pytest.fixture
def operator(user):
    """The browser's user, also allowed to retry (the permission, as the conftest does for viewing)."""
    user.user_permissions.add(Permission.objects.get(content_type__app_label="batches", codename="retry_results"))
    return user


def test_failed_items_are_retried_as_a_linked_child_batch_that_runs_to_its_end(
    operator, parent, logged_in_page, emulator, workspace, eager_celery
):
    page = logged_in_page
    page.goto(f"/batches/{parent.id}/")
    page.locator("select[name=result_type]").select_option("errored")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#batch-results table.items tbody tr")
    expect(rows).to_have_count(4)
    for custom_id in [INVALID, *OVERLOADED]:
        page.get_by_label(f"Select {custom_id}").check()
    page.get_by_role("button", name="Retry selected…").click()

    # The confirmation: what can go as is, what needs a fix, nothing sent yet.
    expect(page.get_by_role("heading", name="Retry failed items")).to_be_visible()
    expect(page.locator("main")).to_contain_text("4 failed items selected in 1 batch.")
    expect(page.locator("li", has_text="can be sent again")).to_contain_text("3 items can be sent again without a fix")
    expect(page.locator("li", has_text="a fix first")).to_contain_text("1 item needs a fix first: of the request")
    expect(page.locator("li", has_text="no kept inputs")).to_have_count(0)  # nothing to say: not said
    to_fix = page.locator("section", has=page.get_by_role("heading", name="Need a fix first"))
    expect(to_fix.locator("tbody tr")).to_have_count(1)
    expect(to_fix).to_contain_text(INVALID)
    expect(to_fix).to_contain_text("invalid_request_error")
    assert emulator.calls["create"] == 1 and not Submission.objects.filter(kind="retry").exists()
    retry_url = page.url

    page.get_by_role("button", name="Retry 3 items as a new batch").click()

    # The submission page: its one part is created and links to the child batch.
    expect(page).to_have_url(re.compile(r"/submissions/\d+/$"))
    submission_url = page.url
    expect(page.get_by_role("status")).to_contain_text("Retry of 3 items queued as a child batch.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Retry of {parent.id}")
    part = page.locator("#submission-parts tbody tr")
    expect(part).to_have_count(1)
    expect(part.locator(".status")).to_have_text("Created", timeout=LIVE_TIMEOUT_MS)
    child_link = part.get_by_role("link")
    expect(child_link).to_have_text(re.compile(r"\S+"))
    child_id = child_link.inner_text()
    assert child_id != parent.id
    child_inputs = RequestInput.objects.filter(batch_id=child_id)
    assert sorted(child_inputs.values_list("custom_id", flat=True)) == OVERLOADED
    assert {i.retry_of.batch_id for i in child_inputs} == {parent.id}

    # The same confirmation sent again (back, confirm) leads to the same submission, and no second child.
    page.go_back()
    expect(page).to_have_url(retry_url)
    # The page is fetched again: its items now count as retried, and it leads to the existing child.
    expect(page.locator("li", has_text="already retried")).to_contain_text(
        "3 items were already retried in a child batch"
    )
    expect(page.get_by_role("button", name=re.compile(r"^Retry \d+ items? as a new batch$"))).to_have_count(0)
    page.get_by_role("link", name="see the retry that has them").click()
    expect(page).to_have_url(submission_url)
    expect(page.locator("#submission-parts").get_by_role("link", name=child_id)).to_be_visible()
    assert emulator.calls["create"] == 2, "the parent's create and exactly one child's"
    assert Submission.objects.filter(kind="retry").count() == 1

    # The child batch runs and ends in place.
    page.goto(submission_url)
    page.locator("#submission-parts").get_by_role("link", name=child_id).click()
    expect(page).to_have_url(re.compile(rf"/batches/{child_id}/$"))
    expect(page.locator("p.label")).to_contain_text(f"Retry of {parent.id}")
    summary = page.locator("#batch-summary")
    expect(summary.locator(".status")).to_have_text("In Progress")
    expect(summary).to_contain_text("3 requests")
    page.evaluate("window.__marker = 1")

    emulator.advance(700)
    sync.catch_up(workspace.pk)
    expect(summary.locator(".status")).to_have_text("Ended", timeout=LIVE_TIMEOUT_MS)
    expect(summary.locator(".count.errored")).to_have_text("3 errored")
    expect(summary).to_contain_text("3 results kept")
    expect(page.locator("#batch-results table.items tbody tr")).to_have_count(3)
    assert page.evaluate("window.__marker") == 1, "the child's page was reloaded or navigated"
    assert Result.objects.filter(batch_id=child_id, error_type="overloaded_error").count() == 3

    # The parent lists its child under Retries, and counts its items across both.
    page.goto(f"/batches/{parent.id}/")
    retries = page.locator("section", has=page.get_by_role("heading", name="Retries"))
    expect(retries.get_by_role("link", name=child_id)).to_be_visible()
    expect(retries.locator(".status")).to_have_text("Ended")
    expect(retries).to_contain_text(f"Retry of {parent.id}")
    expect(retries).to_contain_text("Of 8 items, 4 finally succeeded (0 after a retry); 4 have not (yet).")
    assert emulator.calls["create"] == 2
