"""Submitting a file from the browser: upload, watch the estimate appear without a reload, send it, watch its
batch be created.

No worker here: the tasks the pages hand over are held, and the test runs each one itself once the page
is waiting for it, so what appears on the page can only have come from htmx polling.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from batches import tasks
from batches.models import Submission, SubmissionPart
from tests.browser.conftest import LIVE_TIMEOUT_MS
from tests.browser.test_live_progress import assert_not_reloaded, mark_page
from tests.builders import batch_request


@pytest.fixture
def operator(user):
    """The browser's user, also allowed to submit (the permission, as the conftest does for viewing)."""
    user.user_permissions.add(Permission.objects.get(content_type__app_label="batches", codename="submit_batch"))
    return user


def test_a_file_is_uploaded_estimated_without_a_reload_and_sent_once(operator, make_page, emulator, workspace, held):
    page = make_page()
    lines = [batch_request(f"item-{i}", "Summarise this: " + "words " * (10 * i + 5)) for i in range(3)]
    page.goto("/submit/")
    page.get_by_label("Workspace").select_option(workspace.name)
    page.get_by_label("Label").fill("nightly")
    page.get_by_label("JSONL file").set_input_files(
        {"name": "requests.jsonl", "mimeType": "application/jsonl",
         "buffer": "".join(json.dumps(line) + "\n" for line in lines).encode()}
    )  # fmt: skip
    page.get_by_role("button", name="Validate and estimate").click()

    expect(page).to_have_url(re.compile(r"/submissions/\d+/$"))
    estimate = page.locator("#submission-estimate")
    expect(estimate).to_contain_text("Counting input tokens")
    mark_page(page)
    submission = Submission.objects.get()
    assert held == [("batches.tasks.estimate_submission", (submission.pk,))] and emulator.calls.get("create", 0) == 0

    tasks.estimate_submission(submission.pk)  # what the worker would do

    expect(page.locator("#estimate-method")).to_contain_text(
        "Counted all 3 requests with the API's token counting", timeout=LIVE_TIMEOUT_MS
    )
    expect(estimate).to_have_attribute("data-live", "false")
    assert estimate.get_attribute("hx-trigger") is None  # polling stopped by itself
    expect(page.locator("#estimate-cost")).to_contain_text("Estimated cost at batch prices")
    assert_not_reloaded(page)

    page.get_by_role("button", name="Send 3 requests as 1 batch").click()

    expect(page.get_by_role("status").first).to_contain_text("3 requests queued for submission")
    assert held[-1] == ("batches.tasks.submit_batches", (submission.pk,))
    mark_page(page)
    tasks.submit_batches(submission.pk)  # what the worker would do
    part = SubmissionPart.objects.get()
    expect(page.locator("#submission-parts")).to_contain_text(part.batch_id, timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#submission-parts .status")).to_have_text("Created")
    assert_not_reloaded(page)
    assert emulator.calls["create"] == 1 and page.get_by_role("button", name=re.compile("^Send")).count() == 0
