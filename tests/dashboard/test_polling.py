"""Cheap polls: a polled fragment whose data did not change is answered 304 without rendering."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from batches.errors import RetryableAPIError
from batches.models import Workspace, WorkspaceAccess
from batches.services import sync

ROWS = {"HX-Request": "true", "HX-Target": "batch-rows"}
SUMMARY = {"HX-Request": "true", "HX-Target": "batch-summary"}


@pytest.fixture(autouse=True)
def _no_minute_boundary(settings):
    """The ETag moves on by itself each POLL_ETAG_SECONDS, and each SYNC_INTERVAL_SECONDS for the health bar the
    polls carry: a boundary between two polls of a test made a 304 a 200. The test of that boundary sets its
    own."""
    settings.POLL_ETAG_SECONDS = settings.SYNC_INTERVAL_SECONDS = 10**9


def _poll(client: Client, url: str, headers: dict, tag: str | None = None):
    return client.get(url, headers=headers | ({"If-None-Match": tag} if tag else {}))


def test_an_unchanged_list_poll_is_answered_304_in_five_queries_without_rendering(viewer_client, mirrored):
    first = _poll(viewer_client, "/", ROWS)
    assert first.status_code == 200 and first["ETag"] and first["Cache-Control"] == "private, no-cache"

    with CaptureQueriesContext(connection) as queries:
        again = _poll(viewer_client, "/", ROWS, first["ETag"])
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == first["ETag"]
    # session, user, its permissions (2), its workspace roles, the workspaces' versions: no batch is read,
    # nothing renders
    assert len(queries) == 6


def test_a_sync_pass_that_changes_nothing_keeps_the_list_at_304(viewer_client, mirrored):
    tag = _poll(viewer_client, "/", ROWS)["ETag"]
    sync.catch_up(mirrored["workspace"].pk)  # retrieves the running batch again: only refreshed_at moves
    assert _poll(viewer_client, "/", ROWS, tag).status_code == 304


def test_a_batch_that_ends_makes_the_next_list_poll_render(viewer_client, mirrored, emulator):
    tag = _poll(viewer_client, "/", ROWS)["ETag"]
    emulator.advance(3600)
    sync.catch_up(mirrored["workspace"].pk)

    poll = _poll(viewer_client, "/", ROWS, tag)
    assert poll.status_code == 200 and poll["ETag"] != tag
    assert 'data-live="false"' in poll.content.decode()  # the rows drew the ended batch, and stop polling


def test_a_failing_sync_makes_the_running_rows_say_so_at_the_next_poll(viewer_client, mirrored):
    tag = _poll(viewer_client, "/", ROWS)["ETag"]
    sync._record_failure(mirrored["workspace"].pk, RetryableAPIError("overloaded", error_type="overloaded_error"))

    poll = _poll(viewer_client, "/", ROWS, tag)
    assert poll.status_code == 200 and "may be out of date" in poll.content.decode()


def test_another_user_or_another_filter_never_gets_someone_elses_304(viewer_client, mirrored, make_user):
    tag = _poll(viewer_client, "/", ROWS)["ETag"]
    operator = Client()
    operator.force_login(make_user("operator", "Operator"))  # sees tick boxes the viewer does not
    assert _poll(operator, "/", ROWS, tag).status_code == 200
    assert _poll(viewer_client, "/?status=in_progress", ROWS, tag).status_code == 200


def test_relative_times_move_on_even_when_nothing_changed(viewer_client, mirrored, settings):
    settings.POLL_ETAG_SECONDS = 1
    tag = _poll(viewer_client, "/", ROWS)["ETag"]
    time.sleep(1.05)
    assert _poll(viewer_client, "/", ROWS, tag).status_code == 200


def test_the_full_page_is_never_answered_304(viewer_client, mirrored):
    tag = _poll(viewer_client, "/", ROWS)["ETag"]
    page = viewer_client.get("/", headers={"If-None-Match": tag})
    assert page.status_code == 200 and "<html" in page.content.decode()
    # The fragment shares the page's URL: a browser cache must keep them apart.
    assert "HX-Request" in page["Vary"] and "ETag" not in page


def test_a_running_batch_poll_is_304_until_it_ends(viewer_client, mirrored, emulator):
    running = mirrored["running"]
    url = f"/batches/{running.id}/?seen={running.state}"
    tag = _poll(viewer_client, url, SUMMARY)["ETag"]
    with CaptureQueriesContext(connection) as queries:
        assert _poll(viewer_client, url, SUMMARY, tag).status_code == 304
    # session, user, permissions (2), workspace roles, the batch's workspace version, the versions of the
    # workspaces the health bar it carries shows
    assert len(queries) == 7

    emulator.advance(3600)
    sync.catch_up(mirrored["workspace"].pk)
    poll = _poll(viewer_client, url, SUMMARY, tag)
    assert poll.status_code == 200 and 'data-live="false"' in poll.content.decode()


def test_a_workspace_this_user_cannot_see_changing_keeps_the_batch_at_304(client, mirrored, make_user, make_workspace):
    running = mirrored["running"]
    user = make_user("limited")
    WorkspaceAccess.objects.create(user=user, workspace=mirrored["workspace"], role="Viewer")
    client.force_login(user)
    url = f"/batches/{running.id}/?seen={running.state}"
    tag = _poll(client, url, SUMMARY)["ETag"]
    other = make_workspace("other")
    Workspace.objects.filter(pk=other.pk).update(data_version=99)
    assert _poll(client, url, SUMMARY, tag).status_code == 304


def test_a_failing_sync_elsewhere_reaches_the_batch_page_through_the_bar_its_poll_carries(
    viewer_client, mirrored, make_workspace
):
    running = mirrored["running"]
    url = f"/batches/{running.id}/?seen={running.state}"
    first = _poll(viewer_client, url, SUMMARY)
    bar = _bar(first)
    assert bar is not None and "sync failing" not in bar
    other = make_workspace("other")
    sync._record_failure(other.pk, RetryableAPIError("overloaded", error_type="overloaded_error"))

    poll = _poll(viewer_client, url, SUMMARY, first["ETag"])
    assert poll.status_code == 200
    assert "<strong>other</strong>:\n      sync failing since" in _bar(poll)


def test_the_list_poll_carries_the_health_bar_and_watching_a_batch_renders_it_again(viewer_client, mirrored):
    first = _poll(viewer_client, "/", ROWS)
    bar = _bar(first)
    assert bar is not None and "<strong>main</strong>" in bar and "data-watch-ended" not in bar
    ended = mirrored["ended"]
    viewer_client.post(f"/batches/{ended.id}/watch/", {"watch": "on"}, headers={"HX-Request": "true"})

    poll = _poll(viewer_client, "/", ROWS, first["ETag"])
    assert poll.status_code == 200 and f'data-watch-ended="{ended.id}"' in _bar(poll)


def _bar(response) -> str | None:
    """The health bar a poll's answer brings to swap out of band, or None."""
    content = response.content.decode()
    start = content.find('<aside id="sync-health"')
    if start == -1 or 'hx-swap-oob="true"' not in content[start : content.index(">", start)]:
        return None
    return content[start : content.index("</aside>", start)]


def test_a_batch_nobody_may_see_is_still_404_with_any_etag(viewer_client, mirrored):
    response = _poll(viewer_client, "/batches/msgbatch_nope/", SUMMARY, '"anything"')
    assert response.status_code == 404


def test_a_change_is_rendered_once_for_every_viewer_with_the_same_permissions(viewer_client, mirrored, make_user):
    first = _poll(viewer_client, "/", ROWS)
    other = Client()
    other.force_login(make_user("viewer2", "Viewer"))
    with CaptureQueriesContext(connection) as queries:
        second = _poll(other, "/", ROWS)
    assert second.status_code == 200 and second.content == first.content
    # session, user, permissions (2), workspace roles, versions: the rows come from the first render
    assert len(queries) == 6
    assert second["ETag"] != first["ETag"]  # each browser's own tag all the same


def test_a_fragment_holding_a_form_is_never_handed_to_another_user(mirrored, make_user, emulator):
    running = mirrored["running"]
    url = f"/batches/{running.id}/?seen={running.state}"
    emulator.advance(3600)
    sync.catch_up(mirrored["workspace"].pk)  # it ended: the poll redraws the actions, forms with a CSRF token
    clients = []
    for name in ("op1", "op2"):
        client = Client()
        client.force_login(make_user(name, "Operator"))
        clients.append(client)
    answers = [_poll(client, url, SUMMARY).content.decode() for client in clients]
    assert 'name="csrfmiddlewaretoken"' in answers[0]
    assert answers[0] != answers[1]  # each rendered for its own session


def test_a_batch_deleted_from_the_api_is_badged_at_the_next_poll(viewer_client, mirrored, emulator, settings):
    settings.SYNC_NOT_FOUND_GRACE_SECONDS = 0  # it was made a minute ago: past propagating, for this test
    tag = _poll(viewer_client, "/", ROWS)["ETag"]
    emulator.delete_batch(mirrored["ended"].id)
    sync.catch_up(mirrored["workspace"].pk, full=True)  # a full pass notices what the API no longer lists

    poll = _poll(viewer_client, "/", ROWS, tag)
    assert poll.status_code == 200 and "deleted in API" in poll.content.decode()
