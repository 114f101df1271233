"""An ended batch's results: an error's full text in the panel, escaped, and the whole file as a download."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from playwright.sync_api import Dialog, expect

from batches.models import Batch, Result
from tests.builders import batch_request

# Injected through the emulator: a not_found_error's message names the requested model.
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


@pytest.fixture
def errored_batch(make_ended_batch) -> Batch:
    return make_ended_batch(
        [batch_request(f"ok-{i:02d}") for i in range(5)]
        + [batch_request("over-1", "x [emulate:errored:overloaded_error]")]
        + [batch_request("hostile-1", "x [emulate:errored:not_found_error]", model=HOSTILE)]
    )


def test_clicking_an_errored_item_shows_its_full_error_in_the_panel(logged_in_page, errored_batch):
    page = logged_in_page
    result = Result.objects.get(batch=errored_batch, custom_id="over-1")
    assert result.request_id, "the emulator gives every errored item a request id"
    page.goto(f"/batches/{errored_batch.id}/")
    page.evaluate("window.__marker = 1")

    page.locator("table.items").get_by_role("link", name="over-1", exact=True).click()

    panel = page.locator("#result-panel")
    expect(panel.get_by_role("heading")).to_contain_text("over-1")
    expect(panel.locator("dd.full")).to_have_text("Overloaded")
    expect(panel).to_contain_text("overloaded_error")
    expect(panel.locator("dd.mono")).to_have_text(result.request_id)
    assert page.evaluate("window.__marker") == 1, "the panel should load in place, not by navigating"


def test_a_hostile_error_message_shows_as_text_and_runs_nothing(logged_in_page, errored_batch):
    page = logged_in_page
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
    assert Result.objects.get(batch=errored_batch, custom_id="hostile-1").error_message == f"model: {HOSTILE}"
    page.goto(f"/batches/{errored_batch.id}/")
    row = page.locator("table.items tr", has_text="hostile-1")
    expect(row.locator("td.clip")).to_have_text(f"model: {HOSTILE}")

    row.get_by_role("link", name="hostile-1").click()

    expect(page.locator("#result-panel dd.full")).to_have_text(f"model: {HOSTILE}")
    page.locator("#result-panel summary").click()  # the raw line, opened
    expect(page.locator("#result-panel pre.full")).to_contain_text("onerror=alert(1)")
    assert page.locator("img[src=x], #result-panel script, table.items script").count() == 0
    assert dialogs == []


def test_download_all_gives_one_line_per_result(logged_in_page, make_ended_batch):
    # More lines than one ingest chunk (50 in tests), so the file is put together from several.
    batch = make_ended_batch(
        [batch_request(f"item-{i:03d}") for i in range(120)]
        + [batch_request("over-1", "x [emulate:errored:overloaded_error]")]
    )
    page = logged_in_page
    page.goto(f"/batches/{batch.id}/")
    link = page.get_by_role("link", name="Download all (JSONL)")
    expect(link).to_have_attribute("href", reverse("batch_download", args=[batch.id, "jsonl"]))

    with page.expect_download() as download_info:
        link.click()

    download = download_info.value
    assert download.suggested_filename == f"{batch.id}.jsonl"
    lines = download.path().read_text().splitlines()
    assert len(lines) == Result.objects.filter(batch=batch).count() == 121
    assert {json.loads(line)["custom_id"] for line in lines} == {f"item-{i:03d}" for i in range(120)} | {"over-1"}
