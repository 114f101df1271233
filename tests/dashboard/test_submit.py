"""Submitting a JSONL file: validated first, kept as a draft with its pre-flight estimate, sent once when an
Operator confirms it, split at the API's limits, never created twice."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError

from batches import tasks
from batches.models import AuditEvent, Batch, Budget, Price, RequestInput, Submission, SubmissionPart, UsageRollup
from batches.services import estimates
from config.celery import app
from tests.builders import batch_request, ended_batch, jsonl
from tests.html import attribute, cells, element, elements, text


@pytest.fixture
def upload(operator_client, workspace, django_capture_on_commit_callbacks):
    """POST a file as the operator: a draft, whose estimate task runs in-process as the request commits
    (the worker has its own test). Pass queue_only=True to leave it queued. The page it leads to."""

    def post_lines(lines, *, queue_only: bool = False, **extra):
        data = {"workspace": workspace.name, "label": "nightly", "file": _file(lines), **extra}
        with _eager(), django_capture_on_commit_callbacks(execute=not queue_only):
            response = operator_client.post("/submit/", data)
        return operator_client.get(response["Location"]) if response.status_code == 302 else response

    return post_lines


@pytest.fixture
def send(operator_client, django_capture_on_commit_callbacks):
    """Confirm a draft as the operator, its submit task run in-process: the page it leads to."""

    def confirm(submission: Submission):
        with _eager(), django_capture_on_commit_callbacks(execute=True):
            response = operator_client.post(f"/submissions/{submission.pk}/send/")
        assert response.status_code == 302
        return operator_client.get(response["Location"])

    return confirm


@pytest.fixture
def post(upload, send):
    """Upload a file and send it, as the two steps an Operator takes; the upload's page if it was refused."""

    def post_lines(lines, **extra):
        response = upload(lines, **extra)
        if response.status_code != 200:
            return response
        submission = Submission.objects.get(pk=response.context["submission"].pk)
        return send(submission) if submission.is_draft else response

    return post_lines


@contextmanager
def _eager() -> Iterator[None]:
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def _file(lines: list, name: str = "requests.jsonl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jsonl(lines), content_type="application/jsonl")


def test_a_valid_file_becomes_a_batch_with_its_inputs_kept(post, operator_client, workspace, emulator):
    response = post([batch_request(f"item-{i}") for i in range(3)])

    assert response.status_code == 200 and "3 requests queued for submission" in response.content.decode()
    part = SubmissionPart.objects.get()
    assert part.status == "created" and part.batch_id
    assert emulator.calls["create"] == 1
    batch = Batch.objects.get(pk=part.batch_id)
    assert (batch.label, batch.submitted_by, batch.request_total) == ("nightly", operator_client.user, 3)
    inputs = RequestInput.objects.filter(batch=batch).order_by("custom_id")
    assert [i.custom_id for i in inputs] == ["item-0", "item-1", "item-2"]
    assert inputs[0].unpack()["messages"][0]["content"] == "hi [emulate:succeeded]"
    assert part.batch_id in response.content.decode()
    assert AuditEvent.objects.filter(action="submit", outcome="ok").count() == 2  # the submission, its batch


def test_every_problem_is_reported_with_its_line_and_nothing_is_sent(post, workspace, emulator):
    lines = [
        batch_request("ok-1"),
        "{not json",
        batch_request("x" * 65),
        batch_request("ok-1"),
        {"custom_id": "p", "params": {"model": "m"}},
    ]
    response = post(lines)

    body = response.content.decode()
    assert response.status_code == 400 and "Nothing was submitted" in body
    for line in ("2", "3", "4", "5"):
        assert f'<td class="num">{line}</td>' in body
    assert "ok-1" in body and "65" in body and "max_tokens" in body
    assert not Submission.objects.exists() and not RequestInput.objects.exists()
    assert emulator.calls.get("create", 0) == 0


def test_an_empty_file_is_refused(post, workspace, emulator):
    response = post([])
    assert response.status_code == 400 and "empty" in response.content.decode()
    assert emulator.calls.get("create", 0) == 0


def test_a_file_of_blank_lines_holds_no_requests(post, workspace, emulator):
    response = post(["", "   "])
    assert response.status_code == 400 and "holds no requests" in response.content.decode()


def test_the_same_file_twice_creates_one_batch(post, operator_client, workspace, emulator):
    lines = [batch_request("a"), batch_request("b")]
    post(lines)
    second = post(lines)

    assert "already uploaded" in second.content.decode()
    assert Submission.objects.count() == 1 and emulator.calls["create"] == 1


def test_submitting_again_on_purpose_makes_a_new_batch(post, operator_client, workspace, emulator):
    lines = [batch_request("a")]
    post(lines)
    post(lines, again="on")
    assert Submission.objects.count() == 2 and emulator.calls["create"] == 2


def test_a_file_over_the_limit_is_split_into_batches_shown_together(post, workspace, settings):
    settings.SUBMIT_MAX_REQUESTS = 2
    response = post([batch_request(f"i{n}") for n in range(5)])

    parts = list(SubmissionPart.objects.order_by("index"))
    assert [p.request_count for p in parts] == [2, 2, 1] and all(p.status == "created" for p in parts)
    labels = sorted(Batch.objects.values_list("label", flat=True))
    assert labels == ["nightly (part 1 of 3)", "nightly (part 2 of 3)", "nightly (part 3 of 3)"]
    assert sorted(RequestInput.objects.filter(batch=parts[2].batch).values_list("custom_id", flat=True)) == ["i4"]
    body = response.content.decode()
    assert all(p.batch_id in body for p in parts)


def test_a_refusal_is_shown_and_nothing_is_created(post, operator_client, workspace, emulator):
    emulator.faults.add(op="create", status=400, message="requests.0.params.model: unknown model")
    response = post([batch_request("a")])

    part = SubmissionPart.objects.get()
    assert part.status == "failed" and "unknown model" in part.error
    assert "unknown model" in response.content.decode() and not Batch.objects.exists()


def test_viewers_cannot_submit(viewer_client, workspace, emulator):
    assert viewer_client.get("/submit/").status_code == 403
    response = viewer_client.post("/submit/", {"workspace": workspace.name, "file": _file([batch_request("a")])})
    assert response.status_code == 403 and not Submission.objects.exists()


# --- the draft and its estimate --------------------------------------------------------------------------
def test_nothing_is_sent_before_the_operator_confirms(upload, workspace, emulator):
    page = upload([batch_request(f"item-{i}") for i in range(3)])

    body = page.content.decode()
    assert "3 requests validated and kept as a draft: nothing is sent until you confirm" in body
    assert text(element(body, "button", name="send")).strip() == "Send 3 requests as 1 batch"
    assert SubmissionPart.objects.get().status == "pending" and emulator.calls.get("create", 0) == 0
    assert not AuditEvent.objects.filter(action="submit").exists()  # submitting is the confirm


def test_a_gzip_file_named_jsonl_is_read_decompressed_and_kept_as_a_draft(upload, emulator):
    gz = SimpleUploadedFile("requests.jsonl", gzip.compress(jsonl([batch_request(f"item-{i}") for i in range(3)])))
    page = upload([], file=gz)

    assert "3 requests validated and kept as a draft" in page.content.decode()
    kept = RequestInput.objects.filter(part__submission=Submission.objects.get()).order_by("custom_id")
    assert [i.custom_id for i in kept] == ["item-0", "item-1", "item-2"]
    assert kept[0].unpack()["messages"][0]["content"] == "hi [emulate:succeeded]"


def test_a_gzip_file_cut_short_is_one_clear_message_and_nothing_is_kept(upload, emulator):
    whole = gzip.compress(jsonl([batch_request(f"item-{i}") for i in range(200)]))
    page = upload([], file=SimpleUploadedFile("requests.jsonl", whole[: len(whole) // 2]))

    body = page.content.decode()
    assert page.status_code == 400 and "Nothing was submitted: 1 problem" in text(element(body, "h2"))
    assert "this is a gzip file, but it is cut short or corrupt" in body and "UTF-8" not in body
    assert not Submission.objects.exists() and not RequestInput.objects.exists()


def test_a_file_of_one_request_reads_in_the_singular(upload, settings):
    body = upload([batch_request("only")]).content.decode()
    assert text(element(body, "button", name="send")).strip() == "Send 1 request as 1 batch"
    assert "Counted the one request with the API's token counting" in text(element(body, id="estimate-method"))


def test_a_file_over_the_limit_offers_to_send_it_as_several_batches(upload, settings):
    settings.SUBMIT_MAX_REQUESTS = 2
    body = upload([batch_request(f"i{n}") for n in range(5)]).content.decode()
    assert text(element(body, "button", name="send")).strip() == "Send 5 requests as 3 batches"


def test_the_estimate_shows_the_tokens_counted_and_the_cost_range_per_model(upload, emulator):
    lines = [batch_request("h1", "hello " * 40, max_tokens=1000), batch_request("h2", "hi", max_tokens=1000)]
    lines.append(batch_request("s1", "bonjour " * 30, model="claude-sonnet-4-6", max_tokens=2000))

    body = upload(lines).content.decode()

    tokens = Submission.objects.get().estimate["models"]
    haiku, sonnet = tokens["claude-haiku-4-5-20251001"]["input_tokens"], tokens["claude-sonnet-4-6"]["input_tokens"]
    method = text(element(body, id="estimate-method"))
    assert method.startswith("Counted all 3 requests with the API's token counting:")
    assert method.endswith(f"{haiku + sonnet:,} input tokens, exactly.")
    rows = [cells(row) for row in elements(element(body, "table", class_="estimate"), "tr")]
    assert rows[1][:2] == ["claude-haiku-4-5-20251001", "2"] and rows[1][2] == f"{haiku:,}"
    assert rows[1][4:] == ["2,000", "$0.005000", rows[1][6]]  # 2,000 tokens at $2.50 a million (batch)
    assert rows[2][:3] == ["claude-sonnet-4-6", "1", f"{sonnet:,}"] and rows[2][4:6] == ["2,000", "$0.02"]  # $0.015
    assert "Estimated cost at batch prices" in text(element(body, id="estimate-cost"))
    assert emulator.calls["count_tokens"] == 3 and emulator.calls.get("create", 0) == 0


def test_a_large_file_says_how_much_of_it_was_counted(upload, emulator):
    lines = [batch_request(f"r{i}", "word " * (5 + i % 97)) for i in range(400)]

    body = upload(lines).content.decode()

    method = text(element(body, id="estimate-method"))
    assert "Counted 50 of 400 requests with the API's token counting (a seeded random sample" in method
    assert "95% range" in method and emulator.calls["count_tokens"] == 50


def test_requests_with_server_tools_are_said_to_have_no_output_bound(upload):
    web = batch_request("w", "look it up", tools=[{"type": "web_search_20250305", "name": "web_search"}])
    body = upload([web, batch_request("plain")]).content.decode()
    note = text(element(body, **{"data-server-tools": web["params"]["model"]}))
    assert note.startswith("1 request of") and "the ceiling is not a bound" in note


def test_an_unpriced_model_is_flagged_not_counted_as_zero(upload):
    Price.objects.filter(family="claude-sonnet-5").delete()  # served by the emulator, its price removed
    body = upload([batch_request("a"), batch_request("b", model="claude-sonnet-5")]).content.decode()

    row = element(element(body, "table", class_="estimate"), "tr", **{"data-model": "claude-sonnet-5"})
    assert cells(row)[3] == cells(row)[5] == cells(row)[6] == "unpriced"
    assert "claude-sonnet-5 has no price" in text(element(body, **{"data-unpriced": "claude-sonnet-5"}))


@pytest.mark.parametrize(
    ("spent", "expected"),
    [
        ("0.70", "At its ceiling this would take main past 80% of its monthly budget, to 91.3%."),
        ("0.90", "At its ceiling this would take main past 100% of its monthly budget, to 111.3%; even at its low "
                 "end past 80%, to 90.0%."),
        ("1.10", "Over budget already: main is past 100% of its monthly budget, and this would take it to "
                 "110.0%–131.3%."),
        ("0.10", "Within budget: main would be at 31.3% of its monthly budget at most."),
    ],
)  # fmt: skip
def test_the_budget_warning_says_where_the_month_would_stand(upload, workspace, spent, expected):
    _budget(workspace, spent)

    # 85,000 output tokens at most: $0.2125 at haiku's batch price, and a few millionths of input.
    body = upload([batch_request("a", "hi", max_tokens=85_000)]).content.decode()

    warning = text(element(body, id="estimate-budget"))
    assert " ".join(warning.split()).startswith(expected)
    # An Operator may not see spend: the page says how much of the budget, not how many dollars.
    assert f"This month so far: {Decimal(spent) * 100:.1f}%." in warning and "$" not in warning


def test_the_budget_warning_says_when_even_the_input_alone_goes_past_100_percent(upload, workspace):
    _budget(workspace, "0.99")

    # About 25,000 input tokens: $0.0125 at haiku's batch price, enough to cross $1.00 from $0.99.
    body = upload([batch_request("a", "word " * 20_000, max_tokens=10)]).content.decode()

    warning = " ".join(text(element(body, id="estimate-budget")).split())
    assert warning.startswith("Over budget: even at its low end this takes main past 100% of its monthly budget")


def _budget(workspace, spent: str) -> None:
    """A budget of $1.00 a month, `spent` of it already this month."""
    Budget.objects.create(workspace=workspace, monthly_amount=Decimal(1))
    batch = ended_batch("spent", datetime.now(UTC), workspace=workspace.name)
    UsageRollup.objects.create(
        batch=batch, workspace=workspace, model="claude-haiku-4-5", day=datetime.now(UTC).date(), requests=1,
        input_tokens=0, output_tokens=0, cache_write_5m_tokens=0, cache_write_1h_tokens=0, cache_read_tokens=0,
        cost=Decimal(spent), standard_cost=Decimal(spent) * 2, uncached_cost=Decimal(spent),
    )  # fmt: skip


def test_the_estimate_polls_while_it_is_made_and_stops_once_it_is(upload, operator_client):
    page = upload([batch_request("a"), batch_request("b")], queue_only=True)  # the estimate is left queued
    submission = Submission.objects.get()

    section = element(page.content.decode(), "section", id="submission-estimate")
    assert (
        attribute(section, "hx-get") == f"/submissions/{submission.pk}/" and attribute(section, "data-live") == "true"
    )
    assert "Counting input tokens" in text(section)
    parts = element(page.content.decode(), "section", id="submission-parts")
    assert attribute(parts, "hx-get") is None  # a draft's parts wait for no one: they do not poll

    estimates.estimate(submission.pk)
    poll = operator_client.get(f"/submissions/{submission.pk}/", headers=_POLL)

    section = element(poll.content.decode(), "section", id="submission-estimate")
    assert attribute(section, "hx-get") is None and attribute(section, "data-live") == "false"
    assert "Counted all 2 requests" in text(section) and "<main>" not in poll.content.decode()


def test_token_counting_refused_is_explained_and_the_draft_can_still_be_sent(upload, send, emulator):
    emulator.faults.add(op="count_tokens", status=403, error_type="permission_error", times=-1)

    body = upload([batch_request("a", max_tokens=500)]).content.decode()

    section = text(element(body, "section", id="submission-estimate"))
    assert "The API's token counting failed: permission_error (HTTP 403)" in section
    assert "the draft can still be sent" in section and "500" in section  # its output ceiling needs no API
    submission = Submission.objects.get()
    assert element(body, "button", name="send") and element(
        body, "form", action=f"/submissions/{submission.pk}/estimate/"
    )
    sent = send(submission)
    assert "1 request queued for submission" in sent.content.decode() and emulator.calls["create"] == 1


def test_an_estimate_can_be_asked_again_once_token_counting_works(upload, operator_client, emulator,
                                                                  django_capture_on_commit_callbacks):  # fmt: skip
    emulator.faults.add(op="count_tokens", status=403, error_type="permission_error", times=1)
    upload([batch_request("a")])
    submission = Submission.objects.get()
    assert submission.estimate_error

    with _eager(), django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/submissions/{submission.pk}/estimate/")

    submission.refresh_from_db()
    assert not submission.estimate_error and submission.estimate["models"]["claude-haiku-4-5-20251001"]["input_tokens"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_cannot_be_reached_is_said_and_the_draft_can_still_be_sent(
    operator_client, workspace, emulator, monkeypatch
):
    # Outside a test transaction the task is handed to the broker at once: this one refuses it.
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.estimate_submission, "apply_async", refuse)
    data = {"workspace": workspace.name, "label": "", "file": _file([batch_request("a")])}

    page = operator_client.get(operator_client.post("/submit/", data)["Location"])

    body = page.content.decode()
    assert "The worker is unreachable right now: no estimate could be made" in body
    section = element(body, "section", id="submission-estimate")
    assert "The worker could not be reached, so no estimate was made." in text(section)
    assert attribute(section, "hx-get") is None and element(body, "button", name="send")


def test_a_confirm_posted_twice_sends_once(upload, send, emulator):
    upload([batch_request("a"), batch_request("b")])
    submission = Submission.objects.get()

    first, second = send(submission), send(submission)

    assert "2 requests queued for submission" in first.content.decode()
    assert "This submission was sent already: it is not sent again." in second.content.decode()
    assert emulator.calls["create"] == 1 and Batch.objects.count() == 1
    assert element(second.content.decode(), "section", id="submission-parts")
    assert not list(elements(second.content.decode(), "button", name="send"))  # sent: no button any more


def test_a_discarded_draft_is_never_sent(upload, operator_client, emulator):
    upload([batch_request("a")])
    submission = Submission.objects.get()

    response = operator_client.post(f"/submissions/{submission.pk}/discard/", {"confirmed": "yes"})

    assert response["Location"] == "/submit/"
    assert "discarded: nothing was sent" in operator_client.get("/submit/").content.decode()
    page = operator_client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "Discarded" in text(element(page, "section", id="submission-discarded"))
    assert operator_client.post(f"/submissions/{submission.pk}/send/").status_code == 302
    assert emulator.calls.get("create", 0) == 0 and not RequestInput.objects.exists()


def test_discard_asks_first_and_one_click_deletes_nothing(upload, operator_client):
    """Discard was one click beside Send: a slip deleted the validated requests. It now asks on a page of its own."""
    upload([batch_request("a"), batch_request("b")])
    submission = Submission.objects.get()

    asked = operator_client.post(f"/submissions/{submission.pk}/discard/")

    assert asked.status_code == 200
    page = asked.content.decode()
    assert "2 validated requests will be deleted" in text(element(page, "section", class_="card narrow"))
    form = element(page, "form", action=f"/submissions/{submission.pk}/discard/")
    element(form, "input", name="confirmed", value="yes")
    submission.refresh_from_db()
    assert submission.is_draft and RequestInput.objects.count() == 2


def test_viewers_see_a_draft_but_cannot_send_discard_or_estimate_it(upload, viewer, emulator):
    upload([batch_request("a")])
    submission = Submission.objects.get()
    viewer_client = Client()
    viewer_client.force_login(viewer)

    page = viewer_client.get(f"/submissions/{submission.pk}/").content.decode()

    assert not [b for b in elements(page, "button") if attribute(b, "name") in ("send", "discard")]
    assert "An Operator can send or discard it." in page
    for action in ("send", "discard", "estimate"):
        assert viewer_client.post(f"/submissions/{submission.pk}/{action}/").status_code == 403
    submission.refresh_from_db()
    assert submission.is_draft and emulator.calls.get("create", 0) == 0


def test_the_number_of_queries_of_the_submission_page_is_fixed(upload, operator_client, workspace):
    Budget.objects.create(workspace=workspace, monthly_amount=Decimal(10))
    upload([batch_request(f"r{i}", model=m) for i, m in enumerate(["claude-haiku-4-5", "claude-sonnet-4-6"] * 3)])
    url = f"/submissions/{Submission.objects.get().pk}/"
    operator_client.get(url)

    with CaptureQueriesContext(connection) as page:
        assert operator_client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as poll:
        assert operator_client.get(url, headers=_POLL).status_code == 200

    # session, user, its permissions (2), its workspace roles, the submission, its parts, the prices, the
    # month's spend, sync health
    assert len(page) == 10
    # the same without the parts and the page around it
    assert len(poll) == 8


_POLL = {"HX-Request": "true", "HX-Target": "submission-estimate"}


@pytest.mark.parametrize(
    "request_",
    [batch_request("a\ud800"), batch_request("a", "hi \udc00 there"), {"custom_id": "a", "params": {"\ud800": 1}}],
    ids=["in the custom_id", "in the content", "in a params key"],
)
def test_a_lone_surrogate_is_refused_on_its_line_and_never_quoted(upload, request_, emulator):
    """JSON lets "\\ud800" stand alone; no UTF-8 holds it. In a custom_id or a key the message quoting it could not
    be written (a 500); in the content the file was kept, and its estimate and its send then failed in the worker."""
    page = upload([batch_request("fine"), request_])

    assert page.status_code == 400
    rows = [[text(cell).strip() for cell in elements(row, "td")] for row in elements(page.content.decode(), "tr")]
    said = "a \\uD800-\\uDFFF escape that is not half of a pair (a lone surrogate): not valid Unicode, so the request"
    assert [row for row in rows if row] == [["2", f"{said} cannot be sent"]]
    assert not Submission.objects.exists() and emulator.calls.get("create", 0) == 0


def test_a_surrogate_pair_escape_is_a_character_and_is_taken(upload, emulator):
    """ "\\ud83d\\ude00" is one character (😀) written as JSON escapes: only half of a pair is refused."""
    page = upload([batch_request("a", "hi \ud83d\ude00")])

    assert page.status_code == 200 and Submission.objects.count() == 1
