"""A batch's page: timeline, live summary, errors by type, and the item table."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches.models import Batch, RequestInput, Result, Submission, SubmissionPart
from batches.services import ingest, sync
from tests.html import attribute, element, elements, prose, text


def test_an_ingested_batch_shows_its_timeline_errors_and_items(viewer_client, mirrored):
    batch = mirrored["ended"]
    body = viewer_client.get(f"/batches/{batch.id}/").content.decode()
    for shown in ("Created", "Ended", "Results available until", "overloaded_error", "invalid_request_error",
                  "125 results kept", ">bad-1<", ">ok-000<"):  # fmt: skip
        assert shown in body
    summary = element(body, "section", id="batch-summary")
    assert attribute(summary, "data-live") == "false" and attribute(summary, "hx-trigger") is None


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("result_type=errored", ["over-0", "bad-1"], ["ok-000", "exp-1"]),
        ("error_type=overloaded_error", ["over-0", "over-2"], ["bad-1", "ok-000"]),
        ("result_type=expired", ["exp-1"], ["over-0"]),
        ("q=ok-01", ["ok-010", "ok-019"], ["ok-020", "over-0"]),
    ],
)
def test_the_item_table_filters(viewer_client, mirrored, query, shown, hidden):
    body = viewer_client.get(f"/batches/{mirrored['ended'].id}/?{query}").content.decode()
    for custom_id in shown:
        assert f">{custom_id}<" in body
    for custom_id in hidden:
        assert f">{custom_id}<" not in body


def test_the_item_table_pages_by_custom_id_to_the_last_page(viewer_client, mirrored):
    url = f"/batches/{mirrored['ended'].id}/"
    ordered = sorted(Result.objects.filter(batch=mirrored["ended"]).values_list("custom_id", flat=True))
    assert len(ordered) == 125

    def shown(**params) -> list[str]:
        body = viewer_client.get(url, params).content.decode()
        return [c for c in ordered if f">{c}<" in body]

    assert shown() == ordered[:50]
    assert shown(after=ordered[49]) == ordered[50:100]
    assert shown(last="1") == ordered[-50:]
    assert shown(before=ordered[-50]) == ordered[-100:-50]


def test_a_running_batch_polls_its_summary_until_its_results_are_in(viewer_client, mirrored, emulator):
    url = f"/batches/{mirrored['running'].id}/"
    assert 'data-live="true"' in viewer_client.get(url).content.decode()

    emulator.advance(3600)
    sync.catch_up(mirrored["workspace"].pk)
    poll = viewer_client.get(url, headers={"HX-Request": "true", "HX-Target": "batch-summary"}).content.decode()

    assert poll.lstrip().startswith('<section id="batch-summary"') and 'data-live="false"' in poll
    assert "hx-trigger" not in poll.split(">")[0]
    # The results table arrives with the same response, out of band.
    assert 'hx-swap-oob="true"' in poll and ">r-0<" in poll


def test_expired_results_say_so(viewer_client, mirrored):
    body = viewer_client.get(f"/batches/{mirrored['old'].id}/").content.decode()
    assert "Results are not available" in body and "29 days" in body


def test_an_unknown_batch_is_a_404(viewer_client, db):
    assert viewer_client.get("/batches/msgbatch_nope/").status_code == 404


def test_a_custom_id_search_pages_forward_and_back_in_order(viewer_client, mirrored):
    url = f"/batches/{mirrored['ended'].id}/"
    ids = Result.objects.filter(batch=mirrored["ended"]).values_list("custom_id", flat=True)
    ordered = sorted(c for c in ids if c.startswith("ok-"))
    assert len(ordered) == 120

    def shown(**params) -> list[str]:
        body = viewer_client.get(url, {"q": "ok-", **params}).content.decode()
        return sorted((c for c in ids if f">{c}<" in body), key=lambda c: body.index(f">{c}<"))  # as the rows go

    assert shown() == ordered[:50]
    assert shown(after=ordered[49]) == ordered[50:100]
    assert shown(after=ordered[99]) == ordered[100:]
    assert shown(last="1") == ordered[-50:]
    assert shown(before=ordered[-50]) == ordered[-100:-50]
    assert shown(q="ok-11") == [c for c in ordered if c.startswith("ok-11")]


@pytest.mark.parametrize("query", ["", "?error_type=overloaded_error", "?error_type=overloaded_error&last=1", "?q=ok"])
@pytest.mark.parametrize("labelled", [False, True])
def test_the_number_of_queries_is_fixed(viewer_client, mirrored, make_user, query, labelled):
    if labelled:  # as a batch submitted through the dashboard is: its page names who submitted it
        Batch.objects.filter(pk=mirrored["ended"].pk).update(label="nightly", submitted_by=make_user("ann"))
    with CaptureQueriesContext(connection) as queries:
        body = viewer_client.get(f"/batches/{mirrored['ended'].id}/{query}").content.decode()
    assert ("submitted by ann" in body) is labelled
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get(f"/batches/{mirrored['ended'].id}/{query}").status_code == 200
    # session, user, its permissions (2), its workspace roles, batch, its error counts, its child batches, how its items
    # ended up, whether its inputs are kept, its cost, one page of items, sync health, the batch it retried (if a
    # retry), and (as it has some) its incomplete answers by stop reason
    assert mirrored["ended"].incomplete_count > 0
    # A custom_id prefix reads the page's custom_ids first, then their rows (dashboard/queries.py _first).
    assert len(queries) == 15 + ("q=" in query)


def test_the_summary_poll_of_a_running_batch_reads_only_the_batch_and_its_cost(viewer_client, mirrored):
    url = f"/batches/{mirrored['running'].id}/"
    with CaptureQueriesContext(connection) as queries:
        poll = viewer_client.get(url, headers={"HX-Request": "true", "HX-Target": "batch-summary"})
    assert poll.status_code == 200 and 'id="batch-summary"' in poll.content.decode()
    # session, user, its permissions (2), its workspace roles, its workspace's version and the visible ones (the
    # ETag), batch, its cost, the history its ETA is drawn from, the workspaces of the health bar it carries; an
    # unchanged poll stops after the versions (test_polling.py)
    assert len(queries) == 11


@pytest.mark.parametrize(("custom_id", "expected"), [("ok-007", 13), ("over-1", 12), ("exp-1", 12)])
def test_one_result_costs_a_fixed_number_of_queries(viewer_client, mirrored, custom_id, expected):
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get(f"/batches/{mirrored['ended'].id}/results/{custom_id}/").status_code == 200
    # session, user, its permissions (2), its workspace roles, the result with its batch and chunk, its
    # attempts (3: its kept input, the retries of it, their results), the previous and next items (2), sync
    # health; a succeeded item also
    # reads its model's prices (one query: the rows of its family, found by name or through the model map).
    assert len(queries) == expected


def test_a_result_shows_in_full(viewer_client, mirrored):
    long_message = "x" * 5000
    Result.objects.filter(batch=mirrored["ended"], custom_id="over-1").update(error_message=long_message)
    body = viewer_client.get(f"/batches/{mirrored['ended'].id}/results/over-1/").content.decode()
    assert long_message in body and "req_" in body and "overloaded_error" in body


def test_a_succeeded_result_shows_its_message_text_and_usage(viewer_client, mirrored):
    result = Result.objects.get(batch=mirrored["ended"], custom_id="ok-007")
    body = viewer_client.get(f"/batches/{mirrored['ended'].id}/results/ok-007/").content.decode()
    said = prose(body)
    assert (
        "Emulated reply to ok-007." in said
        and f"Input tokens {result.input_tokens:,} " in said
        and result.stop_reason in said
    )
    assert f"{result.input_tokens} input" not in said  # "Input tokens 326 input" said it twice


def test_the_result_panel_is_a_fragment_for_htmx(viewer_client, mirrored):
    body = viewer_client.get(f"/batches/{mirrored['ended'].id}/results/ok-007/", headers={"HX-Request": "true"})
    assert body.content.decode().lstrip().startswith("<article")


def test_a_batch_backing_off_says_what_failed_and_when_it_tries_again(viewer_client, emulator, workspace, settings):
    batch_id = emulator.seed_batch(workspace.test_api_key, 40, status="ended")
    sync.sync_workspace(workspace.pk)
    emulator.faults.add(op="results", cut_after_lines=5, times=settings.INGEST_STREAM_ATTEMPTS)
    ingest.ingest_batch(batch_id)

    body = viewer_client.get(f"/batches/{batch_id}/").content.decode()

    state = text(element(body, id="ingest-state"))
    assert "1 attempt failed" in state and "connection_error" in state and "Next attempt" in state
    when = datetime.fromisoformat(attribute(element(element(body, id="ingest-state"), "time"), "datetime"))
    assert abs(when - Batch.objects.get(pk=batch_id).ingest_not_before) < timedelta(seconds=1)


def test_a_batch_deleted_in_the_api_while_running_says_so_with_no_eta_and_no_poll(viewer_client, mirrored):
    batch = mirrored["running"]
    Batch.objects.filter(pk=batch.pk).update(gone_from_api_at=timezone.now())
    page = viewer_client.get(f"/batches/{batch.id}/").content.decode()
    summary = element(page, "section", id="batch-summary")
    assert text(element(summary, "span", class_="status deleted")).strip() == "Deleted in the API"
    assert "In Progress" not in text(summary) and "Likely to end" not in text(summary)
    assert "deleted before it ended" in text(element(summary, "p", id="deleted-in-api"))
    assert attribute(summary, "hx-get") is None  # nothing left to wait for


def test_an_archived_batch_offers_no_refresh_and_no_watch(viewer_client, mirrored):
    """Issue 21, point 10: "Watch" and "Refresh now" were offered on archived batches."""
    from django.utils import timezone

    ended = mirrored["ended"]
    buttons = lambda: [b.strip() for b in re.findall(r"<button[^>]*>([^<]*)</button>", _page(viewer_client, ended))]  # noqa: E731
    assert "Refresh now" in buttons() and "Watch" in buttons()
    Batch.objects.filter(pk=ended.pk).update(archived_at=timezone.now())
    assert "Refresh now" not in buttons() and "Watch" not in buttons()


def _page(client, batch) -> str:
    return client.get(f"/batches/{batch.id}/").content.decode()


def test_a_batch_says_the_user_profile_and_betas_it_was_sent_with(viewer_client, mirrored):
    ended = mirrored["ended"]
    assert next(elements(_page(viewer_client, ended), "p", class_="sent-with"), None) is None  # neither: nothing
    Batch.objects.filter(pk=ended.pk).update(user_profile_id="uprof_01acme", betas=["output-300k-2026-03-24"])
    assert text(element(_page(viewer_client, ended), "p", class_="sent-with")) == (
        "Sent for user profile uprof_01acme; beta output-300k-2026-03-24"
    )
    # The pass-through keeps the header as the caller sent it: shown as text, never as markup.
    Batch.objects.filter(pk=ended.pk).update(user_profile_id="<b>x</b>", betas=[])
    page = _page(viewer_client, ended)
    assert "<b>x</b>" not in page and text(element(page, "p", class_="sent-with")) == "Sent for user profile <b>x</b>"


# --- a result's page: its model, its request, retry it, previous and next (issue 21, point 10) ----------------
def _keep_input(batch, custom_id: str, params: dict) -> None:
    RequestInput.objects.create(batch=batch, custom_id=custom_id, params=RequestInput.pack(params))


def test_an_errored_result_names_the_model_its_kept_request_asked_for(viewer_client, mirrored):
    _keep_input(mirrored["ended"], "over-1", {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": []})
    page = viewer_client.get(f"/batches/{mirrored['ended'].id}/results/over-1/").content.decode()
    assert "claude-haiku-4-5" in text(element(page, "article", class_="card result"))
    # A viewer is not shown the request itself: only those who may retry it (as the retry page shows them).
    assert "The request (kept)" not in page


def test_an_operator_sees_the_kept_request_and_can_retry_this_item(operator_client, mirrored):
    _keep_input(mirrored["ended"], "over-1", {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": []})
    page = operator_client.get(f"/batches/{mirrored['ended'].id}/results/over-1/").content.decode()
    kept = element(page, "details", class_="kept-request")
    assert '"max_tokens": 64' in text(kept)
    retry = next(a for a in elements(page, "a") if text(a) == "Retry this item…")
    assert attribute(retry, "href") == f"/retry/?batch={mirrored['ended'].id}&selected=1&custom_id=over-1"
    assert operator_client.get(attribute(retry, "href")).status_code == 200  # the plan of that one item


def test_a_whole_answer_offers_no_retry(operator_client, mirrored):
    result = Result.objects.filter(batch=mirrored["ended"], result_type="succeeded", stop_reason="end_turn").first()
    page = operator_client.get(f"/batches/{mirrored['ended'].id}/results/{result.custom_id}/").content.decode()
    assert "Retry this item" not in page


def test_previous_and_next_follow_the_item_tables_filters_and_keep_them(viewer_client, mirrored):
    batch = mirrored["ended"]
    page = viewer_client.get(f"/batches/{batch.id}/results/over-1/?result_type=errored").content.decode()
    nav = element(page, "nav", class_="item-nav actions")
    assert (
        attribute(element(nav, "a", rel="prev"), "href") == f"/batches/{batch.id}/results/over-0/?result_type=errored"
    )
    assert (
        attribute(element(nav, "a", rel="next"), "href") == f"/batches/{batch.id}/results/over-2/?result_type=errored"
    )
    crumbs = element(page, "p", class_="crumbs")
    assert f"/batches/{batch.id}/?result_type=errored" in [attribute(a, "href") for a in elements(crumbs, "a")]
    last = viewer_client.get(f"/batches/{batch.id}/results/over-2/?result_type=errored").content.decode()
    assert not list(elements(element(last, "nav", class_="item-nav actions"), "a", rel="next"))  # the last errored


def test_the_item_table_links_each_result_with_its_filters(viewer_client, mirrored):
    batch = mirrored["ended"]
    page = viewer_client.get(f"/batches/{batch.id}/?result_type=errored").content.decode()
    assert element(page, "a", href=f"/batches/{batch.id}/results/over-1/?result_type=errored")


def test_a_child_batch_links_to_the_batch_it_retried(viewer_client, mirrored):
    parent, child = mirrored["ended"], mirrored["running"]
    retry = Submission.objects.create(workspace=parent.workspace, kind="retry", fingerprint="r", request_count=1,
                                      parent_batch=parent)  # fmt: skip
    SubmissionPart.objects.create(submission=retry, index=0, request_count=1, status="created", batch=child)
    page = viewer_client.get(f"/batches/{child.id}/").content.decode()
    assert attribute(element(element(page, "p", class_="parent"), "a"), "href") == f"/batches/{parent.id}/"
    assert not list(elements(viewer_client.get(f"/batches/{parent.id}/").content.decode(), "p", class_="parent"))


def test_the_way_back_to_the_list_keeps_its_filters_and_nothing_else(viewer_client, mirrored):
    batch = mirrored["ended"]
    listed = viewer_client.get("/?status=ended&sort=-requests").content.decode()
    link = attribute(element(listed, "a", title=batch.id), "href")
    assert link == f"/batches/{batch.id}/?list=status%3Dended%26sort%3D-requests"
    crumbs = element(viewer_client.get(link).content.decode(), "p", class_="crumbs")
    assert attribute(element(crumbs, "a"), "href") == "/?status=ended&sort=-requests"
    sneaky = viewer_client.get(f"/batches/{batch.id}/?list=status%3Dended%26next%3Dhttp%3A%2F%2Fevil.example")
    assert attribute(element(element(sneaky.content.decode(), "p", class_="crumbs"), "a"), "href") == "/?status=ended"
