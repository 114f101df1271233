"""The notification pages: My notifications, Admins' channels, rules and thresholds, the delivery log; the
health bar every page polls, and watching a batch."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import AuditEvent, Delivery, NotificationChannel, NotifyThresholds
from batches.services.notify import events, send
from tests.html import attribute, element, elements, text

SECRET = "whsec-very-secret-1234567890"


@pytest.fixture
def admin_client(client, make_user):
    client.user = make_user("admin", "Admin")
    client.force_login(client.user)
    return client


def an_event(n: int = 1) -> None:
    data = {"failing_since": "x", "recovered_at": "y", "failed_for_seconds": 60, "last_error_type": "e"}
    events.emit("sync.recovered", f"test:{n}", workspace_id=None, url="http://127.0.0.1:8000/", data=data)


# --- channels and rules ----------------------------------------------------------------------------
def test_an_admin_adds_a_webhook_channel_whose_secret_is_never_shown_again(admin_client, workspace, make_receiver):
    url = make_receiver().url
    form = {"name": "ops hook", "kind": "webhook", "address": url, "secret": SECRET, "events": ["batch.ended"],
            "workspaces": [workspace.pk], "errors_high_share": "0.25", "is_active": "on"}  # fmt: skip

    response = admin_client.post("/notifications/channels/new/", form)

    assert response.status_code == 302
    channel = NotificationChannel.objects.get(name="ops hook")
    assert channel.secret == SECRET and SECRET not in channel.secret_encrypted
    assert channel.events == ["batch.ended"] and list(channel.workspaces.all()) == [workspace]
    assert channel.errors_high_share == Decimal("0.25")
    for page in ("/notifications/channels/", f"/notifications/channels/{channel.pk}/"):
        body = admin_client.get(page).content.decode()
        assert SECRET not in body and url in body
    assert "…7890" in admin_client.get(f"/notifications/channels/{channel.pk}/").content.decode()
    record = AuditEvent.objects.get(action="notification_change")
    assert SECRET not in str(record.params) and record.params["secret"] == "…7890"


def test_editing_a_channel_without_a_secret_keeps_the_old_one(admin_client, make_receiver):
    channel = NotificationChannel(name="hook", kind="webhook", address=make_receiver().url)
    channel.set_secret(SECRET)
    channel.save()
    form = {"name": "renamed", "kind": "webhook", "address": channel.address, "secret": "", "is_active": "on"}
    assert admin_client.post(f"/notifications/channels/{channel.pk}/", form).status_code == 302
    channel.refresh_from_db()
    assert channel.name == "renamed" and channel.secret == SECRET


def test_the_channel_form_says_only_what_holds_for_this_channel(admin_client, make_receiver):
    """Issue 21, point 16: "keep the current one" on a new channel; a threshold that did not say 0.1 or 10%."""
    new = admin_client.get("/notifications/channels/new/").content.decode()
    assert "keep the current one" not in new and "0.1 is 10%" in new
    channel = NotificationChannel(name="hook", kind="webhook", address=make_receiver().url)
    channel.set_secret(SECRET)
    channel.save()
    assert (
        "Leave empty to keep the current one"
        in admin_client.get(f"/notifications/channels/{channel.pk}/").content.decode()
    )


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"kind": "webhook", "address": "http://example.com/hook", "secret": SECRET}, "use https"),
        ({"kind": "webhook", "address": "https://example.com/hook", "secret": ""}, "needs a signing secret"),
        ({"kind": "email", "address": "not-an-address"}, "is not an email address"),
        ({"kind": "apprise", "secret": "nosuchservice://x"}, "Apprise does not recognise"),
    ],
)
def test_a_channel_that_could_not_work_is_refused_with_the_reason(admin_client, form, problem):
    response = admin_client.post("/notifications/channels/new/", {"name": "x", "is_active": "on", **form})
    assert response.status_code == 200 and problem in response.content.decode()
    assert not NotificationChannel.objects.exists()


def test_an_admin_edits_the_thresholds(admin_client):
    form = {"errors_high_share": "0.2", "expiring_hours": "4", "at_risk_days": "2", "sync_failing_minutes": "10",
            "budget_warning_share": "0.9"}  # fmt: skip
    assert admin_client.post("/notifications/channels/", form).status_code == 302
    thresholds = NotifyThresholds.current()
    assert (thresholds.errors_high_share, thresholds.sync_failing_minutes) == (Decimal("0.2"), Decimal(10))


def test_the_defaults_apply_until_an_admin_edits_them(db):
    thresholds = NotifyThresholds.current()
    assert thresholds.pk == 1 and not NotifyThresholds.objects.exists()
    assert (thresholds.errors_high_share, thresholds.expiring_hours, thresholds.at_risk_days) == (
        Decimal("0.10"), Decimal(3), Decimal(3))  # fmt: skip
    assert (thresholds.sync_failing_minutes, thresholds.budget_warning_share) == (Decimal(5), Decimal("0.80"))


@pytest.mark.parametrize("role", ["Viewer", "Operator", "Auditor"])
def test_only_admins_manage_channels_and_see_deliveries(client, make_user, role):
    client.force_login(make_user("someone", role))
    for url in ("/notifications/channels/", "/notifications/channels/new/", "/notifications/deliveries/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/notifications/deliveries/resend/", {"delivery": "1"}).status_code == 403
    assert client.get("/notifications/").status_code == 200  # everyone has their own page


# --- my notifications ------------------------------------------------------------------------------
def test_a_user_subscribes_their_own_email_to_some_events_as_a_daily_digest(client, make_user, workspace):
    user = make_user("vera", "Viewer")
    client.force_login(user)
    form = {"enabled": "on", "email": "vera@example.com", "events": ["batch.ended", "sync.failing"],
            "workspaces": [workspace.pk], "digest": "daily"}  # fmt: skip
    assert client.post("/notifications/", form).status_code == 302
    mine = NotificationChannel.objects.get(owner=user)
    assert (mine.kind, mine.address, mine.digest, mine.is_active) == ("email", "vera@example.com", "daily", True)
    assert mine.events == ["batch.ended", "sync.failing"] and list(mine.workspaces.all()) == [workspace]
    page = client.get("/notifications/").content.decode()
    assert element(page, "input", name="email").attributes and 'value="vera@example.com"' in page

    client.post("/notifications/", {"email": "vera@example.com"})  # unticked: no more email
    assert (
        NotificationChannel.objects.filter(owner=user).count() == 1 and not NotificationChannel.objects.get().is_active
    )


def test_a_user_who_loses_their_role_gets_no_more_email(db, make_user, smtp):
    user = make_user("gone", "Viewer")
    NotificationChannel.objects.create(owner=user, name="mine", kind="email", address="gone@example.com")
    user.groups.clear()
    an_event()
    send.send_due()
    assert smtp.messages == [] and not Delivery.objects.exists()


def test_budget_events_reach_only_those_who_may_read_spend(client, make_user, workspace):
    """Operators could subscribe to budget.* and the email's link answered 403 (issue 21, point 12)."""
    operator, auditor = make_user("olga", "Operator"), make_user("aldo", "Auditor")
    client.force_login(operator)
    offered = {attribute(i, "value") for i in elements(client.get("/notifications/").content.decode(), "input",
                                                         name="events")}  # fmt: skip
    assert "batch.ended" in offered and not offered & {"budget.warning", "budget.exceeded"}
    refused = client.post("/notifications/", {"enabled": "on", "email": "o@example.com", "events": ["budget.warning"]})
    assert refused.status_code == 200 and not NotificationChannel.objects.filter(owner=operator).exists()

    for user in (operator, auditor):  # "every event": each gets what they may open
        NotificationChannel.objects.create(owner=user, name=user.username, kind="email", address=f"{user}@x.org")
    data = {"spent_usd": "90", "budget_usd": "100", "month": "2026-12", "used": "0.9"}
    events.emit("budget.warning", "b:1", workspace_id=workspace.pk, url="http://127.0.0.1:8000/spend/", data=data)
    send.dispatch()
    assert list(Delivery.objects.values_list("channel__owner__username", flat=True)) == ["aldo"]


# --- the delivery log --------------------------------------------------------------------------------
def test_the_delivery_log_shows_each_attempt_and_an_admin_resends(admin_client, make_receiver):
    receiver = make_receiver(503)
    channel = NotificationChannel(name="hook", kind="webhook", address=receiver.url)
    channel.set_secret(SECRET)
    channel.save()
    an_event()
    send.send_due()

    page = admin_client.get("/notifications/deliveries/").content.decode()
    [attempt] = elements(page, "li", class_="failed")
    assert "503" in text(attempt) and "receiver says no" in text(attempt)
    delivery = Delivery.objects.get()

    response = admin_client.post("/notifications/deliveries/resend/", {"delivery": delivery.pk})
    assert response.status_code == 302
    send.send_due()
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(receiver.requests) == 2
    page = admin_client.get("/notifications/deliveries/?status=delivered").content.decode()
    assert [text(element(li, "span", class_="code")) for li in elements(page, "li", class_="ok")] == ["200"]
    assert AuditEvent.objects.filter(action="notification_resend").count() == 1


# --- the health bar --------------------------------------------------------------------------------
def test_the_health_bar_is_a_small_partial_of_a_handful_of_queries(viewer_client, mirrored, settings):
    settings.POLL_ETAG_SECONDS = settings.SYNC_INTERVAL_SECONDS = 10**9  # no boundary between the two requests
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get("/health/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    bar = element(body, "aside", id="sync-health")
    assert "main" in text(bar) and "synced" in text(bar)
    # session, user, its workspace roles, the workspaces' versions and the user's permissions (2) for its ETag,
    # workspaces. An unchanged bar is answered 304 without the last (with a shared cache, with none of them:
    # tests/dashboard/test_shared_cache.py).
    assert len(queries) == 7, [q["sql"] for q in queries]
    assert len(body) < 2000
    with CaptureQueriesContext(connection) as queries:
        again = viewer_client.get("/health/", headers={"HX-Request": "true", "If-None-Match": response["ETag"]})
    assert again.status_code == 304 and len(queries) == 6


def test_a_failing_workspace_shows_on_the_bar_in_the_title_and_on_its_running_rows(viewer_client, mirrored, emulator):
    from batches.services import sync

    emulator.faults.add(op="list", status=401, times=-1)
    sync.catch_up(mirrored["workspace"].pk)

    bar = element(viewer_client.get("/health/").content.decode(), "aside", id="sync-health")
    assert "sync failing since" in text(bar) and dict(bar.attributes)["data-failing"] == "1"
    assert dict(bar.attributes)["data-poll-seconds"] == "5"  # polled often while it fails
    page = viewer_client.get("/").content.decode()
    assert text(element(page, "title")).startswith("(1 failing) Batches")
    running = element(page, "tr", id=f"row-{mirrored['running'].id}")
    note = element(running, "span", class_="badge stale")
    assert text(note).strip() == "sync failing" and "may be out of date" in attribute(note, "title")
    ended = element(page, "tr", id=f"row-{mirrored['ended'].id}")
    assert "sync failing" not in text(ended)  # an ended batch cannot change any more
    poll = viewer_client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert "sync failing" in poll and "may be out of date" in poll  # the running rows' own poll says so too


def test_a_healthy_bar_polls_seldom(viewer_client, mirrored):
    bar = element(viewer_client.get("/health/").content.decode(), "aside", id="sync-health")
    assert dict(bar.attributes)["data-poll-seconds"] == "30" and dict(bar.attributes)["data-failing"] == "0"
    assert not text(element(viewer_client.get("/").content.decode(), "title")).startswith("(")


# --- watching a batch --------------------------------------------------------------------------------
def test_watching_a_batch_lists_it_on_the_bar_once_it_has_ended(viewer_client, mirrored, emulator):
    from batches.services import sync

    running = mirrored["running"]
    button = element(
        viewer_client.get(f"/batches/{running.id}/").content.decode(), "button", **{"data-watch-button": "off"}
    )
    assert text(button).strip() == "Watch"
    swapped = viewer_client.post(f"/batches/{running.id}/watch/", {"watch": "on"}, headers={"HX-Request": "true"})
    assert element(swapped.content.decode(), "button", **{"data-watch-button": "on"})
    assert not list(elements(viewer_client.get("/health/").content.decode(), "span", class_="watched"))

    emulator.advance(3600)
    sync.catch_up(mirrored["workspace"].pk)

    ended = element(viewer_client.get("/health/").content.decode(), "span", class_="watched")
    assert (
        dict(ended.attributes)["data-watch-ended"] == running.id
        and "10 succeeded" in dict(ended.attributes)["data-body"]
    )
    viewer_client.post(f"/batches/{running.id}/watch/", {"watch": "off"})  # what health.js does once it notified
    assert not list(elements(viewer_client.get("/health/").content.decode(), "span", class_="watched"))


def test_a_sync_that_stopped_running_shows_as_overdue_and_clears_when_it_runs(viewer_client, mirrored, settings):
    """Workers or beat stopped: nothing fails, so nothing said so, and the bar read "synced 2 min ago" in its quiet
    grey while every page aged (a browser walk stopped the workers for two minutes). Past SYNC_OVERDUE_SECONDS with
    no failure, no 429 to wait out and no pass under way, every page says the sync is overdue."""
    from datetime import timedelta

    from django.utils import timezone

    from batches.models import Batch, Workspace
    from batches.services import sync

    workspace = mirrored["workspace"]
    assert settings.SYNC_OVERDUE_SECONDS == 120
    Workspace.objects.filter(pk=workspace.pk).update(last_synced_at=timezone.now() - timedelta(minutes=3))

    bar = element(viewer_client.get("/health/").content.decode(), "aside", id="sync-health")
    assert "sync overdue: last synced" in text(bar) and "3 min ago" in text(bar)
    assert dict(bar.attributes)["data-failing"] == "1"
    page = viewer_client.get("/").content.decode()
    assert text(element(page, "title")).startswith("(1 failing) Batches")
    running = element(page, "tr", id=f"row-{mirrored['running'].id}")
    assert text(element(running, "span", class_="badge stale")).strip() == "sync overdue"
    assert "sync overdue" not in text(element(page, "tr", id=f"row-{mirrored['ended'].id}"))
    detail = viewer_client.get(f"/batches/{mirrored['running'].id}/").content.decode()
    assert "sync overdue: may be out of date" in detail

    # A pass under way (its lease held) is not overdue: a full pass of a long history takes minutes.
    Workspace.objects.filter(pk=workspace.pk).update(sync_lease_until=timezone.now() + timedelta(minutes=1))
    assert "overdue" not in viewer_client.get("/health/").content.decode()
    Workspace.objects.filter(pk=workspace.pk).update(sync_lease_until=None)
    sync.sync_workspace(workspace.pk)  # the workers are back
    bar = element(viewer_client.get("/health/").content.decode(), "aside", id="sync-health")
    assert "overdue" not in text(bar) and dict(bar.attributes)["data-failing"] == "0"
    assert Batch.objects.filter(pk=mirrored["running"].id).exists()
