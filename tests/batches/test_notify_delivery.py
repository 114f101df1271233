"""Delivering the outbox to real receivers: an HTTP server and an SMTP server in the test process."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from batches.models import Delivery, DeliveryAttempt, NotificationChannel, NotificationEvent
from batches.services import sync
from batches.services.notify import deliver, events, send
from tests.builders import batch_request, outcome_request
from tests.receivers import closed_port_url
from tests.threads import at_once

SECRET = "whsec-test-0123456789abcdef"
Kind = NotificationChannel.Kind


def webhook(url: str, **fields) -> NotificationChannel:
    channel = NotificationChannel(name=fields.pop("name", "hook"), kind=Kind.WEBHOOK, address=url, **fields)
    channel.set_secret(SECRET)
    channel.save()
    return channel


def an_event(n: int = 1, kind: str = "sync.recovered", workspace=None) -> NotificationEvent:
    data = {"failing_since": "2026-01-01T00:00:00+00:00", "recovered_at": "2026-01-01T00:10:00+00:00",
            "failed_for_seconds": 600, "last_error_type": "api_error"}  # fmt: skip
    return events.emit(kind, f"test:{n}", workspace_id=workspace.pk if workspace else None, data=data,
                       url="http://127.0.0.1:8000/")  # fmt: skip


def later(minutes: float) -> timezone.datetime:
    return timezone.now() + timedelta(minutes=minutes)


# --- webhooks ------------------------------------------------------------------------------------
def test_a_batch_end_reaches_a_webhook_signed_with_the_channel_secret(emulator, workspace, make_receiver):
    receiver = make_receiver()
    webhook(receiver.url)
    sync.catch_up(workspace.pk)
    batch_id = emulator.create_batch(workspace.test_api_key, [batch_request("a"), outcome_request("b", "expired")],
                                     duration=30)  # fmt: skip
    sync.catch_up(workspace.pk)
    emulator.advance(90)
    sync.catch_up(workspace.pk)

    report = send.send_due()

    assert report.delivered == 1
    [got] = receiver.requests
    assert got.signed_by(SECRET) and not got.signed_by("another secret")
    body = got.json
    assert set(body) == {"id", "event", "occurred_at", "workspace", "batch", "data", "url"}
    assert body["event"] == "batch.ended" and body["batch"] == batch_id and body["workspace"] == workspace.name
    assert body["id"] == NotificationEvent.objects.get(kind="batch.ended").id == got.headers["x-event-id"]
    assert body["data"]["request_counts"]["expired"] == 1 and body["url"].endswith(f"/batches/{batch_id}/")
    assert got.headers["content-type"] == "application/json"


def test_a_receiver_answering_500_twice_then_200_gets_it_once_after_three_attempts(db, make_receiver):
    receiver = make_receiver(500, 500)
    channel = webhook(receiver.url)
    event = an_event()

    first = send.send_due()
    assert (first.retrying, send.send_due().delivered) == (1, 0)  # not due again yet: backing off
    send.send_due(now=later(5))
    send.send_due(now=later(60))
    send.send_due(now=later(120))

    delivery = Delivery.objects.get(event=event, channel=channel)
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert receiver.event_ids() == [event.id] * 3  # the same id every time: the receiver can deduplicate
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("at"))
    assert [(a.ok, a.status_code) for a in attempts] == [(False, 500), (False, 500), (True, 200)]
    assert "receiver says no" in attempts[0].error


def test_retries_back_off_exponentially_with_jitter(settings):
    settings.NOTIFY_RETRY_BASE_SECONDS, settings.NOTIFY_RETRY_MAX_SECONDS = 30, 3600
    waits = [[send.backoff(n) for _ in range(50)] for n in (1, 2, 3, 10)]
    assert all(22.5 <= w <= 37.5 for w in waits[0]) and all(45 <= w <= 75 for w in waits[1])
    assert all(90 <= w <= 150 for w in waits[2]) and all(w <= 3600 * 1.25 for w in waits[3])
    assert len(set(waits[0])) > 1  # jitter: not every worker retries at the same instant


def test_a_receiver_down_past_the_bound_is_marked_failed_and_holds_up_nothing_else(db, settings, make_receiver):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    up = make_receiver()
    down = webhook(closed_port_url(), name="down")
    webhook(up.url, name="up")
    first, second = an_event(1), an_event(2)

    reports = [send.send_due(now=later(minutes)) for minutes in (0, 10, 100, 1000, 10000)]

    assert sorted(up.event_ids()) == sorted([first.id, second.id])  # delivered at the first pass
    # The dead channel was tried once a pass; its other delivery shared that failure without another timeout.
    assert reports[0].delivered == 2 and reports[0].deferred == 1 and reports[0].retrying == 1
    assert [r.failed for r in reports] == [0, 0, 1, 0, 0]  # failed after three passes (two are past the bound)
    failed = Delivery.objects.filter(channel=down).order_by("id")
    assert {d.status for d in failed} == {"failed"} and {d.attempts for d in failed} == {3}
    tried, shared = sorted(d.last_error for d in failed)  # which one was tried first varies with the jitter
    assert tried.startswith("ConnectError") and shared.startswith("not tried: the channel failed just before")
    assert DeliveryAttempt.objects.filter(delivery__channel=down).count() == 6


def test_two_workers_sending_at_once_deliver_each_event_once(transactional_db, make_receiver):
    receiver = make_receiver()
    webhook(receiver.url)
    made = [an_event(n) for n in range(12)]

    at_once(2, send.send_due)

    assert sorted(receiver.event_ids()) == sorted(e.id for e in made)
    assert Delivery.objects.filter(status="delivered").count() == 12 == DeliveryAttempt.objects.count()


def test_dispatching_twice_makes_one_delivery_per_event_and_channel(db, make_receiver):
    webhook(make_receiver().url)
    event = an_event()
    assert send.dispatch() == 1
    NotificationEvent.objects.filter(pk=event.pk).update(dispatched_at=None)  # as if a worker died before marking
    send.dispatch()
    assert Delivery.objects.count() == 1


def test_plain_http_to_another_host_is_refused_and_fails_at_once(db, settings):
    settings.NOTIFY_ALLOW_HTTP = False
    channel = webhook("http://example.com/hook")
    an_event()
    send.send_due()
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "failed" and delivery.attempts == 1 and "use https" in delivery.last_error
    assert deliver.url_problem("https://example.com/hook") == ""
    assert deliver.url_problem("http://[::1]:9/hook") == deliver.url_problem("http://localhost/x") == ""


def test_a_rule_limits_a_channel_to_its_events_and_workspaces(db, make_workspace, make_receiver):
    ours, theirs = make_workspace("ours"), make_workspace("theirs")
    receiver = make_receiver()
    channel = webhook(receiver.url, events=["sync.recovered"])
    channel.workspaces.set([ours])
    wanted = an_event(1, workspace=ours)
    an_event(2, workspace=theirs)
    an_event(3, kind="sync.failing", workspace=ours)
    send.send_due()
    assert receiver.event_ids() == [wanted.id]


def test_a_slack_channel_gets_text_and_no_secret_leaks_into_the_log(db, make_receiver, caplog):
    receiver = make_receiver(404)
    channel = NotificationChannel(name="slack", kind=Kind.SLACK)
    token_url = receiver.url + "/T000/B000/XXXXsecretXXXX"
    channel.set_secret(token_url)
    channel.save()
    event = an_event()
    with caplog.at_level(logging.INFO):
        send.send_due()
        send.send_due(now=later(5))
    texts = [json.loads(r.body) for r in receiver.requests]
    assert texts[0] == texts[1] and set(texts[0]) == {"text"}
    assert texts[0]["text"].startswith("*Sync recovered*:") and f"<{event.url}|Open>" in texts[0]["text"]
    assert "XXXXsecretXXXX" not in caplog.text and "XXXXsecretXXXX" not in channel.secret_hint
    assert "XXXXsecretXXXX" not in Delivery.objects.get().last_error


def test_an_apprise_url_is_delivered_through_apprise(db, make_receiver):
    receiver = make_receiver()
    port = receiver.server.server_address[1]
    channel = NotificationChannel(name="apprise", kind=Kind.APPRISE)
    channel.set_secret(f"json://127.0.0.1:{port}/apprise")
    channel.save()
    an_event()
    assert send.send_due().delivered == 1
    [got] = receiver.requests
    assert got.path.startswith("/apprise") and got.json["title"] == "Sync recovered"


# --- email ---------------------------------------------------------------------------------------------
def test_email_goes_through_a_real_smtp_server_with_a_text_and_an_html_part(db, smtp):
    channel = NotificationChannel.objects.create(
        name="ops", kind=Kind.EMAIL, address="ops@example.com, lead@example.com"
    )
    event = an_event()
    assert send.send_due().delivered == 1
    [message] = smtp.messages
    assert smtp.envelopes[0][1] == ["ops@example.com", "lead@example.com"]
    assert message["Subject"].startswith("[Batch dashboard] Sync recovered:")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert event.id in text and event.url in text and f'href="{event.url}"' in html
    assert Delivery.objects.get(channel=channel).attempt_log.get().status_code == 250


def test_an_hourly_digest_sends_the_hours_events_in_one_email(db, smtp):
    NotificationChannel.objects.create(name="digest", kind=Kind.EMAIL, address="me@example.com", digest="hourly")
    made = [an_event(n) for n in range(3)]
    send.send_due()
    assert smtp.messages == []  # held until the top of the hour
    report = send.send_due(now=later(61))
    assert report.delivered == 3 and len(smtp.messages) == 1
    text = smtp.messages[0].get_body(("plain",)).get_content()
    assert "Hourly digest: 3 events" in smtp.messages[0]["Subject"] and all(e.id in text for e in made)


def test_an_smtp_server_that_refuses_is_logged_with_its_reply_code(db, smtp, settings):
    settings.EMAIL_PORT = int(closed_port_url().split(":")[2].split("/")[0])
    NotificationChannel.objects.create(name="ops", kind=Kind.EMAIL, address="ops@example.com")
    an_event()
    assert send.send_due().retrying == 1
    assert "ConnectionRefusedError" in DeliveryAttempt.objects.get().error


# --- channels from the environment, and the command --------------------------------------------------
def test_the_environment_defines_default_channels_that_take_every_event(db, settings, make_receiver, smtp):
    receiver = make_receiver()
    settings.NOTIFY_WEBHOOK_URLS, settings.NOTIFY_WEBHOOK_SECRET = [receiver.url], SECRET
    settings.NOTIFY_EMAIL_TO = ["oncall@example.com"]
    event = an_event(1, kind="sync.failing")

    call_command("send_notifications", "--no-checks")

    assert receiver.requests[0].signed_by(SECRET) and receiver.event_ids() == [event.id]
    assert smtp.envelopes[0][1] == ["oncall@example.com"]
    settings.NOTIFY_WEBHOOK_URLS = []
    send.send_due()
    assert not NotificationChannel.objects.get(kind=Kind.WEBHOOK).is_active
    assert NotificationChannel.objects.get(kind=Kind.EMAIL).is_active


def test_a_resend_sends_the_same_event_again(db, make_receiver):
    receiver = make_receiver()
    webhook(receiver.url)
    event = an_event()
    send.send_due()
    assert send.resend(Delivery.objects.values_list("id", flat=True)) == 1
    send.send_due()
    assert receiver.event_ids() == [event.id, event.id]
    assert Delivery.objects.get().status == "delivered" and DeliveryAttempt.objects.count() == 2


@pytest.mark.parametrize(
    ("url", "kind"),
    [("https://hooks.example.com/x", "webhook"), ("https://hooks.slack.com/services/T/B/x", "slack"),
     ("slack+https://chat.example.com/hooks/x", "slack"), ("workflows://a/b/c", "apprise")],
)  # fmt: skip
def test_the_kind_of_an_environment_url_follows_its_scheme(url, kind):
    from batches.services.notify.defaults import classify

    assert classify(url)[0] == kind


def test_a_delivery_whose_sending_dies_is_recorded_not_lost(db, make_receiver, monkeypatch):
    from batches.services.notify import render

    receiver = make_receiver()
    channel = NotificationChannel(name="hook", kind=Kind.WEBHOOK, address=receiver.url)
    channel.set_secret("s3cret")
    channel.save()
    first, second = an_event(1), an_event(2)
    real = render.body_bytes
    monkeypatch.setattr(render, "body_bytes", lambda e: (_ for _ in ()).throw(RuntimeError("injected")) if e.pk ==
                        first.pk else real(e))  # fmt: skip

    report = send.send_due()  # the task goes on: the channel's other delivery is backed off with it, recorded

    assert (report.retrying, report.deferred) == (1, 1)
    failed = Delivery.objects.get(event=first)
    assert failed.status == "pending" and failed.attempts == 1 and failed.next_attempt_at  # tried again later
    assert "the worker failed: RuntimeError: injected" in failed.last_error
    assert failed.lease_token == ""  # not held by a dead task
    assert Delivery.objects.get(event=second).status == "pending" and receiver.requests == []
