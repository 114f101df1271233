"""Every notification URL follows one rule (batches/services/notify/outbound.py): schemes allowed, no loopback,
private or link-local address after DNS, checked again at every send; Slack and Apprise text escaped."""

from __future__ import annotations

import json

import pytest

from batches.models import Delivery, NotificationChannel
from batches.services.notify import deliver, events, send

Kind = NotificationChannel.Kind
HOSTILE = "<!channel> <@U0123> <http://evil.example|Click to re-authenticate> & more"


@pytest.fixture
def strict(settings):
    settings.NOTIFY_ALLOW_PRIVATE = False
    settings.NOTIFY_ALLOW_HTTP = False
    return settings


@pytest.mark.parametrize(
    "url",
    ["https://169.254.169.254/latest/meta-data/", "https://10.0.0.5/hook", "https://192.168.1.1/",
     "https://127.0.0.1:8765/_emulator/reset", "https://localhost/hook", "https://[::1]/hook",
     "http://127.0.0.1:9/hook", "ftp://example.com/"],
)  # fmt: skip
def test_webhook_and_slack_urls_to_inner_addresses_are_refused(strict, url):
    assert deliver.url_problem(url, "webhook") and deliver.url_problem(url, "slack")


@pytest.mark.parametrize(
    "url",
    ["json://169.254.169.254/latest/meta-data/?method=GET", "form://10.0.0.5:2375/containers/create",
     "json://10.0.0.5:6379/", "syslog://10.0.0.5", "jsons://10.0.0.5/x", "jsons://hooks.example/x?method=PUT",
     "jsons://hooks.example/x?+X-Admin=1"],
)  # fmt: skip
def test_apprise_urls_that_reach_inside_or_set_methods_and_headers_are_refused(strict, url):
    assert deliver.apprise_problem(url)


def test_a_public_service_url_is_accepted(strict):
    assert deliver.apprise_problem("workflows://a/b/c") == ""
    assert deliver.url_problem("https://93.184.216.34/hook") == ""  # a public address, no DNS needed


def test_the_rule_is_checked_again_at_every_send(db, settings, make_receiver):
    receiver = make_receiver()
    channel = NotificationChannel(name="hook", kind=Kind.WEBHOOK, address=receiver.url)
    channel.set_secret("s3cret")
    channel.save()  # allowed when saved (the tests' receivers are on loopback)
    settings.NOTIFY_ALLOW_PRIVATE = False  # then the rule tightens, or the name now resolves inside
    settings.NOTIFY_ALLOW_HTTP = True  # the address is what is refused, not the scheme

    events.emit("sync.recovered", "test:1", workspace_id=None, data={}, url="http://127.0.0.1:8000/")
    send.send_due()

    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and "loopback, private or link-local" in delivery.last_error


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed(db, make_receiver, status):
    elsewhere = make_receiver()
    moved = make_receiver(status)
    moved.location = elsewhere.url  # a receiver could name any inner address here

    outcome = deliver.post(moved.url, b'{"signed": "body"}', {"Content-Type": "application/json"})

    assert len(moved.requests) == 1 and elsewhere.requests == []
    assert not outcome.ok and outcome.status_code == status and outcome.error.startswith(f"HTTP {status}")


def test_slack_text_from_the_api_cannot_mention_anyone_or_link(db, make_receiver):
    receiver = make_receiver()
    channel = NotificationChannel(name="slack", kind=Kind.SLACK)
    channel.set_secret(receiver.url + "/T0/B0/x")
    channel.save()
    data = {"failing_since": "2026-01-01T00:00:00+00:00", "error_type": "api_error", "message": HOSTILE,
            "consecutive_failures": 3, "minutes": 5}  # fmt: skip
    events.emit("sync.failing", "test:slack", workspace_id=None, data=data, url="http://127.0.0.1:8000/")

    send.send_due()

    text = json.loads(receiver.requests[0].body)["text"]
    assert "<!channel>" not in text and "<@U0123>" not in text and "<http://evil.example|" not in text
    assert "&lt;!channel&gt;" in text and "&amp; more" in text
    assert text.endswith("<http://127.0.0.1:8000/|Open>")  # our own link, and only it


def test_apprise_sends_as_plain_text_for_the_service_to_escape(db, make_receiver):
    receiver = make_receiver()
    port = receiver.url.split(":")[2].split("/")[0]
    channel = NotificationChannel(name="apprise", kind=Kind.APPRISE)
    channel.set_secret(f"json://127.0.0.1:{port}/apprise")
    channel.save()
    data = {"failing_since": "2026-01-01T00:00:00+00:00", "error_type": "api_error", "message": HOSTILE,
            "consecutive_failures": 3, "minutes": 5}  # fmt: skip
    events.emit("sync.failing", "test:apprise", workspace_id=None, data=data, url="http://127.0.0.1:8000/")

    send.send_due()

    got = receiver.requests[0].json
    # Declared as text: a JSON target has no markup, so the text arrives as it was; a Slack or HTML target's plugin
    # escapes it for its own.
    assert HOSTILE in got["message"] and Delivery.objects.get().status == "delivered"


def test_a_refused_loopback_http_url_names_the_setting_that_allows_it(strict):
    """ "plain http is allowed only to a loopback address" was said of http://127.0.0.1, itself loopback: the person
    setting up a channel was told to do what they had done. The message names both settings."""
    problem = deliver.url_problem("http://127.0.0.1:8343/hook", "webhook")
    assert "NOTIFY_ALLOW_PRIVATE" in problem and "allowed only to a loopback" not in problem
