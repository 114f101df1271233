"""Cancel: Operators only, confirmed on purpose, safe to click twice, always on the record.

The page never calls the API: it marks the batch and hands the call to the worker (the bulk cancel's task).
Here the worker runs as each request commits: tasks eager, the request's on-commit callbacks run.
"""

from __future__ import annotations

import pytest

from batches.models import AuditEvent, Batch, Workspace
from batches.services import sync
from config.celery import app


@pytest.fixture
def worker(django_capture_on_commit_callbacks):
    app.conf.task_always_eager = True

    def post(client, url, data=None, *, follow=False, **kwargs):
        """The request, then the worker's run, then (follow) the page it redirected to, as a browser sees it."""
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data or {}, **kwargs)
        return client.get(response.url) if follow and response.status_code == 302 else response

    yield post
    app.conf.task_always_eager = False


def test_a_confirmed_cancel_shows_canceling_at_once_and_is_audited(operator_client, mirrored, worker):
    batch = mirrored["running"]
    response = worker(operator_client, f"/batches/{batch.id}/cancel/", {"confirmed": "yes"}, follow=True)

    assert "Canceling: the page shows the API" in response.content.decode()
    batch.refresh_from_db()
    assert batch.processing_status == "canceling" and batch.cancel_initiated_at and batch.cancel_requested_at is None
    event = AuditEvent.objects.get(action="cancel")
    assert (event.actor, event.target, event.outcome) == (operator_client.user, batch.id, "ok")


def test_it_ends_with_the_canceled_count_once_synced(operator_client, mirrored, emulator, worker):
    batch = mirrored["running"]
    worker(operator_client, f"/batches/{batch.id}/cancel/", {"confirmed": "yes"})
    emulator.advance(60)
    sync.catch_up(mirrored["workspace"].pk)
    batch.refresh_from_db()
    assert batch.processing_status == "ended" and batch.canceled_count == 10
    body = operator_client.get(f"/batches/{batch.id}/").content.decode()
    assert "10 canceled" in body and "Cancel batch" not in body


def test_an_unconfirmed_post_asks_first_and_cancels_nothing(operator_client, mirrored, emulator, worker):
    batch = mirrored["running"]
    response = worker(operator_client, f"/batches/{batch.id}/cancel/")
    assert (
        "Cancel this batch?" in response.content.decode()
        and 'name="confirmed" value="yes"' in response.content.decode()
    )
    assert Batch.objects.get(pk=batch.pk).processing_status == "in_progress"
    assert emulator.calls.get("cancel", 0) == 0


def test_cancelling_twice_says_so_without_a_second_api_call(operator_client, mirrored, emulator, worker):
    url = f"/batches/{mirrored['running'].id}/cancel/"
    worker(operator_client, url, {"confirmed": "yes"})
    second = worker(operator_client, url, {"confirmed": "yes"}, follow=True)
    assert second.status_code == 200 and "already being canceled" in second.content.decode()
    assert emulator.calls["cancel"] == 1
    assert list(AuditEvent.objects.order_by("at").values_list("outcome", flat=True)) == ["ok", "noop"]


def test_cancelling_an_ended_batch_gives_a_clear_message(operator_client, mirrored, worker):
    response = worker(operator_client, f"/batches/{mirrored['ended'].id}/cancel/", {"confirmed": "yes"}, follow=True)
    assert response.status_code == 200 and "already ended" in response.content.decode()


def test_a_batch_that_ended_since_the_last_sync_is_refreshed_and_explained(operator_client, mirrored, emulator, worker):
    batch = mirrored["running"]
    emulator.advance(3600)  # it ends in the API; the mirror still says in_progress
    response = worker(operator_client, f"/batches/{batch.id}/cancel/", {"confirmed": "yes"}, follow=True)
    assert response.status_code == 200 and "The API refused" in response.content.decode()
    assert Batch.objects.get(pk=batch.pk).processing_status == "ended"
    assert AuditEvent.objects.get().outcome == "error"


def test_an_overloaded_api_is_explained_and_nothing_changes(operator_client, mirrored, emulator, settings, worker):
    settings.ANTHROPIC_MAX_RETRIES = 0
    emulator.faults.add(op="cancel", status=529)
    response = worker(operator_client, f"/batches/{mirrored['running'].id}/cancel/", {"confirmed": "yes"}, follow=True)
    assert "overloaded_error" in response.content.decode() and "nothing was canceled" in response.content.decode()
    assert Batch.objects.get(pk=mirrored["running"].pk).processing_status == "in_progress"


def test_htmx_cancel_redirects_the_client(operator_client, mirrored, worker):
    response = worker(
        operator_client,
        f"/batches/{mirrored['running'].id}/cancel/",
        {"confirmed": "yes"},
        headers={"HX-Request": "true"},
    )
    assert response.headers["HX-Redirect"] == f"/batches/{mirrored['running'].id}/"


def test_viewers_cannot_cancel_and_see_no_button(viewer_client, mirrored, emulator):
    url = f"/batches/{mirrored['running'].id}/"
    assert "Cancel batch" not in viewer_client.get(url).content.decode()
    assert viewer_client.post(f"{url}cancel/", {"confirmed": "yes"}).status_code == 403
    assert emulator.calls.get("cancel", 0) == 0


def test_operators_see_the_button_with_a_confirmation(operator_client, mirrored, worker):
    body = operator_client.get(f"/batches/{mirrored['running'].id}/").content.decode()
    assert "Cancel batch" in body and "hx-confirm=" in body


def test_a_key_that_cannot_be_decrypted_is_explained_not_a_server_error(operator_client, mirrored, emulator, worker):
    batch = mirrored["running"]
    Workspace.objects.filter(pk=batch.workspace_id).update(api_key_encrypted="stored-under-another-secret")
    response = worker(operator_client, f"/batches/{batch.id}/cancel/", {"confirmed": "yes"}, follow=True)
    assert response.status_code == 200 and "cannot be decrypted" in response.content.decode()
    assert emulator.calls.get("cancel", 0) == 0 and AuditEvent.objects.get().outcome == "error"


def test_the_page_says_canceling_at_once_before_the_worker_has_asked_the_api(operator_client, mirrored, emulator):
    batch = mirrored["running"]
    operator_client.post(f"/batches/{batch.id}/cancel/", {"confirmed": "yes"})  # the worker has not run yet
    body = operator_client.get(f"/batches/{batch.id}/").content.decode()
    assert "Canceling…" in body and "Cancel batch" not in body and emulator.calls.get("cancel", 0) == 0
    listed = operator_client.get("/").content.decode()
    assert f'id="row-{batch.id}"' in listed and ">Canceling</span>" in listed


def test_a_cancel_asked_for_is_what_a_screen_reader_hears_too(operator_client, mirrored):
    """The visible badge said "Canceling…" from the moment the cancel was asked for; the page's live region, read
    aloud, still said "In Progress" until the worker had told the API."""
    from django.utils import timezone

    from batches.models import Batch
    from tests.html import element, text

    batch = mirrored["running"]
    Batch.objects.filter(pk=batch.pk).update(cancel_requested_at=timezone.now())  # asked; the worker not run yet
    page = operator_client.get(f"/batches/{batch.id}/").content.decode()
    assert text(element(page, "p", id="batch-announce")).strip() == "Canceling"
