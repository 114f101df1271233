"""The submissions list: every upload and retry of the user's workspaces, so a draft left is found again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches.models import Submission, SubmissionPart
from tests.builders import ended_batch
from tests.html import cells, element, elements, text


def _submission(workspace, name: str, *, by=None, minutes_ago: int = 0, **fields) -> Submission:
    return Submission.objects.create(
        workspace=workspace, fingerprint=name, request_count=3, filename=f"{name}.jsonl", created_by=by,
        created_at=timezone.now() - timedelta(minutes=minutes_ago), **fields,
    )  # fmt: skip


@pytest.fixture
def kept(workspace, viewer, make_user):
    """A draft (the viewer's), one discarded, one sent as two batches, one still sending, one with a refused part."""
    now = timezone.now()
    other = make_user("someone", "Operator")
    draft = _submission(workspace, "left-draft", by=viewer, minutes_ago=1, label="half done")
    discarded = _submission(workspace, "thrown", by=other, minutes_ago=2, discarded_at=now)
    sent = _submission(workspace, "sent", by=other, minutes_ago=3, confirmed_at=now)
    for index in range(2):
        batch = ended_batch(f"sent{index}", workspace=workspace.name)
        SubmissionPart.objects.create(submission=sent, index=index, request_count=1, status="created", batch=batch)
    sending = _submission(workspace, "sending", by=other, minutes_ago=4, confirmed_at=now)
    SubmissionPart.objects.create(submission=sending, index=0, request_count=3)
    refused = _submission(workspace, "refused", by=other, minutes_ago=5, confirmed_at=now)
    SubmissionPart.objects.create(submission=refused, index=0, request_count=3, status="failed", error="bad")
    return {"draft": draft, "discarded": discarded, "sent": sent, "sending": sending, "refused": refused}


def _rows(html: str) -> dict[str, list[str]]:
    """Each row's cells by the label or file name it shows ("" for the empty list's one cell)."""
    rows = [cells(row) for row in elements(element(html, "tbody"), "tr")]
    return {(row[3] if len(row) > 3 else ""): row for row in rows}


def test_the_nav_leads_to_it_and_it_finds_a_draft_left_behind(viewer_client, kept):
    home = viewer_client.get("/").content.decode()
    assert text(element(home, "a", href="/submissions/")) == "Submissions"
    page = viewer_client.get("/submissions/").content.decode()
    rows = _rows(page)
    assert list(rows) == ["half done", "thrown.jsonl", "sent.jsonl", "sending.jsonl", "refused.jsonl"]  # newest first
    assert rows["half done"][6] == "Draft: not sent"
    assert element(page, "a", href=f"/submissions/{kept['draft'].pk}/")
    assert rows["thrown.jsonl"][6] == "Discarded"
    assert rows["sent.jsonl"][6] == "Sent as 2 batches"
    assert element(page, "a", href="/batches/msgbatch_sent0/") and element(page, "a", href="/batches/msgbatch_sent1/")
    assert rows["sending.jsonl"][6] == "Sending: 0 of 1 batch made"
    assert rows["refused.jsonl"][6] == "1 part of 1 not sent: see why"


def test_the_state_tabs_count_and_filter(viewer_client, kept):
    page = viewer_client.get("/submissions/").content.decode()
    nav = element(page, "nav", class_="tabs")
    counts = {text(a): text(element(a, "span")) for a in elements(nav, "a")}
    tabs = {label.removesuffix(count).strip(): count for label, count in counts.items()}
    assert tabs == {"All": "5", "Drafts": "1", "Sent": "3", "Discarded": "1"}
    assert list(_rows(viewer_client.get("/submissions/?state=draft").content.decode())) == ["half done"]
    assert set(_rows(viewer_client.get("/submissions/?state=sent").content.decode())) == {
        "sent.jsonl", "sending.jsonl", "refused.jsonl"
    }  # fmt: skip


def test_only_mine(viewer_client, kept):
    assert list(_rows(viewer_client.get("/submissions/?mine=on").content.decode())) == ["half done"]


def test_a_filter_it_cannot_read_is_named_and_lists_nothing(viewer_client, kept):
    page = viewer_client.get("/submissions/?state=bogus").content.decode()
    assert "could not be read" in page and "<code>state</code>" in page
    assert _rows(page) == {"": ["No submission matches these filters."]}


def test_its_queries_do_not_grow_with_the_rows(viewer_client, kept, workspace):
    with CaptureQueriesContext(connection) as few:
        viewer_client.get("/submissions/")
    for i in range(20):
        more = _submission(workspace, f"more{i}", confirmed_at=timezone.now())
        SubmissionPart.objects.create(submission=more, index=0, request_count=3)
    with CaptureQueriesContext(connection) as many:
        viewer_client.get("/submissions/")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/submissions/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
