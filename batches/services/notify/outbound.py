"""The one rule for every URL a notification is sent to, whatever the channel's kind.

A channel is configured by an Admin, but its URL must not turn the worker into a way into the network it runs in
(cloud metadata at 169.254.169.254, a Docker socket on 10.0.0.5:2375, the emulator's control endpoint on
loopback). So, for webhooks, Slack and Apprise alike:
- a scheme allow-list: http(s) for webhooks and Slack; for Apprise, the services listed below. Apprise's generic
  json/form/xml schemes may not set a method or extra headers or fields (`?method=`, `+Header`, `-field`, `:key`);
- the host, resolved through DNS, on every send, must have only public addresses: no loopback, private,
  link-local, reserved or multicast address unless NOTIFY_ALLOW_PRIVATE is on (then any, the tests' receivers);
- no redirects (batches/services/notify/deliver.py never follows one).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings

from batches.api_hosts import is_loopback

WEB_SCHEMES = {"https", "http"}
# Apprise services that reach a public API with the URL's own token; each maps to a host Apprise derives itself
# (so no host of ours to check) or to the host in the URL (checked). Anything else Apprise knows is refused.
# Apprise schemes whose URL names the host the request goes to: checked like a webhook's host. The plain-http ones
# (json, ntfy...) follow the http rule: only with NOTIFY_ALLOW_HTTP, or to loopback with NOTIFY_ALLOW_PRIVATE.
APPRISE_HOSTED_TLS = {"ntfys", "gotifys", "matrixs", "mmosts", "rockets", "signals", "jsons", "forms", "xmls"}
APPRISE_HOSTED_PLAIN = {"ntfy", "gotify", "matrix", "mmost", "rocket", "signal", "json", "form", "xml"}
APPRISE_HOSTED = APPRISE_HOSTED_TLS | APPRISE_HOSTED_PLAIN
APPRISE_SCHEMES = {"discord", "slack", "msteams", "workflows", "tgram", "pover", "pbul", "zulip"} | APPRISE_HOSTED
_GENERIC = {"json", "jsons", "form", "forms", "xml", "xmls"}


def problem(url: str, *, kind: str) -> str:
    """Why a channel of `kind` ("webhook", "slack", "apprise") may not send to `url`; "" when it may. Resolves
    the host: call it again right before every send."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "not a URL"
    scheme = parts.scheme.lower()
    if kind == "apprise":
        if scheme not in APPRISE_SCHEMES:
            return f"{scheme or 'this'}:// is not among the Apprise services allowed (docs/hardening.md)"
        if scheme in _GENERIC:
            keys = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
            if any(k.lower() == "method" or k[:1] in "+-:" for k in keys):
                return "an Apprise URL may not set the method, headers or fields of its request"
        if scheme not in APPRISE_HOSTED:
            return ""  # the service's own host, which Apprise builds from the token
        if scheme in APPRISE_HOSTED_PLAIN and not _http_allowed(host):
            return (
                "plain http is refused: use the https variant (or set NOTIFY_ALLOW_HTTP; a loopback address "
                "takes http with NOTIFY_ALLOW_PRIVATE)"
            )
    elif scheme not in WEB_SCHEMES or not host:
        return "not an http(s) URL"
    elif (
        scheme == "http"
        and not settings.NOTIFY_ALLOW_HTTP
        and not (settings.NOTIFY_ALLOW_PRIVATE and is_loopback(host))
    ):
        return (
            "plain http is refused: use https (or set NOTIFY_ALLOW_HTTP; a loopback address takes http with "
            "NOTIFY_ALLOW_PRIVATE)"
        )
    if not host:
        return "the URL names no host"
    return address_problem(host)


def _http_allowed(host: str) -> bool:
    return settings.NOTIFY_ALLOW_HTTP or (settings.NOTIFY_ALLOW_PRIVATE and is_loopback(host))


def address_problem(host: str) -> str:
    """ "" when every address `host` resolves to is public (or NOTIFY_ALLOW_PRIVATE is on)."""
    if settings.NOTIFY_ALLOW_PRIVATE:
        return ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host.strip("[]"), None)}
    except (OSError, UnicodeError):
        return f"{host} does not resolve"
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return (f"{host} resolves to {ip}, a loopback, private or link-local address "
                    "(set NOTIFY_ALLOW_PRIVATE to allow it)")  # fmt: skip
    return ""
