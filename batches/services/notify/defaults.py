"""Channels defined by the environment, as ANTHROPIC_API_KEY defines the default workspace: no UI step.

NOTIFY_WEBHOOK_URLS (comma-separated) and NOTIFY_EMAIL_TO each become a channel subscribed to every event of
every workspace. An https URL gets the signed JSON (secret NOTIFY_WEBHOOK_SECRET); `slack+https://…` or a
hooks.slack.com URL gets Slack's text; any other scheme (workflows:// for Teams, discord://, tgram://...) goes through
Apprise. A URL removed from the variable deactivates its channel (its delivery log stays).
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from django.conf import settings

from batches.models import NotificationChannel

Kind = NotificationChannel.Kind


def classify(url: str) -> tuple[str, str]:
    """(kind, the URL to send to) for one entry of NOTIFY_WEBHOOK_URLS."""
    if url.startswith("slack+"):
        return Kind.SLACK, url.removeprefix("slack+")
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return (Kind.SLACK if parts.hostname == "hooks.slack.com" else Kind.WEBHOOK), url
    return Kind.APPRISE, url


def wanted() -> dict[str, dict]:
    """env_key -> what that channel should be."""
    channels = {}
    for n, url in enumerate(settings.NOTIFY_WEBHOOK_URLS, 1):
        kind, target = classify(url)
        host = urlsplit(target).hostname or target.split(":", 1)[0]
        spec = {"kind": kind, "name": f"NOTIFY_WEBHOOK_URLS #{n} ({host})"}
        if kind == Kind.WEBHOOK:
            spec |= {"address": target, "secret": settings.NOTIFY_WEBHOOK_SECRET}
        else:
            spec |= {"address": "", "secret": target}  # the URL carries the service's token
        channels["env:" + hashlib.sha256(url.encode()).hexdigest()[:32]] = spec
    if settings.NOTIFY_EMAIL_TO:
        channels["env:email"] = {"kind": Kind.EMAIL, "name": "NOTIFY_EMAIL_TO", "secret": "",
                                 "address": ", ".join(settings.NOTIFY_EMAIL_TO)}  # fmt: skip
    return channels


def ensure_env_channels() -> None:
    """Create, update or deactivate the environment's channels. Idempotent; cheap when nothing changed."""
    specs = wanted()
    existing = {c.env_key: c for c in NotificationChannel.objects.exclude(env_key="")}
    for key, spec in specs.items():
        channel = existing.get(key) or NotificationChannel(env_key=key)
        if not channel.pk or _differs(channel, spec):
            channel.kind, channel.name, channel.address, channel.is_active = (
                spec["kind"],
                spec["name"],
                spec["address"],
                True,
            )
            channel.events, channel.digest = [], NotificationChannel.Digest.NONE
            channel.set_secret(spec["secret"])
            channel.save()
    stale = [c.pk for key, c in existing.items() if key not in specs and c.is_active]
    if stale:
        NotificationChannel.objects.filter(pk__in=stale).update(is_active=False)


def _differs(channel: NotificationChannel, spec: dict) -> bool:
    try:
        secret = channel.secret
    except ValueError:  # stored under another SECRET_KEY: take the environment's again
        return True
    current = (channel.kind, channel.name, channel.address, secret, channel.is_active)
    return current != (spec["kind"], spec["name"], spec["address"], spec["secret"].strip(), True)
