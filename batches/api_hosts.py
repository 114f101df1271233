"""Where a stored API key may be sent: the one rule every workspace's base URL keeps.

A key is sent as a header to whatever base URL the workspace names. So a base URL must be `https://` (the key
would otherwise cross the network in the clear), loopback excepted (the emulator, a local proxy); and with
ALLOWED_API_HOSTS set, only api.anthropic.com, loopback and those hosts are allowed at all (a listed host may use
plain http: an internal proxy). Changing a base URL also needs the key entered again (batches/admin.py), so
nobody who can edit a workspace can send its key to a server of their own.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

ANTHROPIC_HOST = "api.anthropic.com"


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(base_url: str) -> str:
    """Why a stored key may not be sent to `base_url`; "" when it may (blank is the real API)."""
    if not base_url:
        return ""
    try:
        parts = urlsplit(base_url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "the base URL is not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "a base URL is https://host[/path]"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "a base URL carries no credentials, query or fragment"
    if is_loopback(host):
        return ""
    allowed = [h.lower() for h in settings.ALLOWED_API_HOSTS]
    if allowed and host != ANTHROPIC_HOST and host not in allowed:
        return f"{host} is not in ALLOWED_API_HOSTS: the key is only sent to the hosts listed there"
    if parts.scheme != "https" and host not in allowed:
        return "a base URL must be https:// (loopback excepted, or a host listed in ALLOWED_API_HOSTS)"
    return ""
