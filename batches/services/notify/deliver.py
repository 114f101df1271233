"""The one module through which notifications leave the process: webhook POSTs, email, Apprise.

Each function makes one attempt with explicit timeouts and says how it went (`Outcome`); it never raises
for a receiver's failure and never retries (batches/services/notify/send.py owns retries and back-off). Secrets are
used here and nowhere logged: an error message names the status or the exception, never a URL's token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
import httpx2
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from batches.services.notify import outbound

log = logging.getLogger(__name__)

USER_AGENT = "batch-dashboard-notify/1"
ERROR_BODY_CHARS = 300  # of a refusing receiver's answer, kept in the delivery log


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None  # HTTP status, or an SMTP reply code
    error: str = ""
    retryable: bool = True  # False: trying again cannot help (a refused URL); the delivery fails at once
    duration_ms: int = 0


def signature(secret: str, body: bytes) -> str:
    """`X-Signature-256`: "sha256=" and the hex HMAC-SHA256 of the exact body, keyed by the channel's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def url_problem(url: str, kind: str = "webhook") -> str:
    """Why a webhook or Slack URL is refused, or "" (outbound.py: the one rule; checked again at every send)."""
    return outbound.problem(url, kind=kind)


def apprise_problem(url: str) -> str:
    """Why an Apprise URL is refused, or "" (checked when a channel is saved, and again at every send)."""
    if not apprise.Apprise.instantiate(url):
        return "Apprise does not recognise this URL"
    return outbound.problem(url, kind="apprise")


def webhook(url: str, body: bytes, *, secret: str, event_id: str, kind: str) -> Outcome:
    """POST the signed JSON payload."""
    headers = {"Content-Type": "application/json", "X-Event-Id": event_id, "X-Event-Type": kind}
    if secret:
        headers["X-Signature-256"] = signature(secret, body)
    return post(url, body, headers)


def slack(url: str, body: bytes) -> Outcome:
    """POST Slack's `{"text": ...}` (the URL carries its own token, so nothing is signed)."""
    return post(url, body, {"Content-Type": "application/json"}, kind="slack")


def post(url: str, body: bytes, headers: dict[str, str], *, kind: str = "webhook") -> Outcome:
    problem = url_problem(url, kind)
    if problem:
        return Outcome(ok=False, error=f"refused: {problem}", retryable=False)
    started = time.monotonic()
    timeout = httpx2.Timeout(settings.NOTIFY_TIMEOUT_SECONDS, connect=min(5.0, settings.NOTIFY_TIMEOUT_SECONDS))
    try:
        # No redirects: a receiver that moved must be re-entered, not followed with the signed body.
        response = httpx2.post(url, content=body, headers={"User-Agent": USER_AGENT, **headers}, timeout=timeout)
    except httpx2.TimeoutException as exc:
        return Outcome(ok=False, error=f"timed out: {type(exc).__name__}", duration_ms=_ms(started))
    except httpx2.HTTPError as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__}: {_clean(str(exc), url)}", duration_ms=_ms(started))
    ok = 200 <= response.status_code < 300
    error = "" if ok else f"HTTP {response.status_code}: {response.text[:ERROR_BODY_CHARS]}"
    return Outcome(ok=ok, status_code=response.status_code, error=error, duration_ms=_ms(started))


def email(to: list[str], subject: str, text: str, html: str) -> Outcome:
    """One message with a plain-text and an HTML part, through Django's email backend (EMAIL_URL)."""
    started = time.monotonic()
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(html, "text/html")
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return Outcome(ok=False, status_code=exc.smtp_code, error=f"SMTP {exc.smtp_code}: {reply[:300]}",
                       duration_ms=_ms(started))  # fmt: skip
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:500], duration_ms=_ms(started))
    if not settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        # The console, file or memory backend takes the message and sends it nowhere: no "250 ok" for that.
        note = f"not sent: EMAIL_URL names the {settings.EMAIL_BACKEND.rsplit('.', 2)[-2]} backend"
        return Outcome(ok=True, error=note, duration_ms=_ms(started))
    return Outcome(ok=True, status_code=250, duration_ms=_ms(started))


def apprise_notify(url: str, title: str, body: str) -> Outcome:
    """Any service Apprise knows (workflows://, discord://, tgram://, ntfy://...): it reports success or not,
    and its log says why, but not the HTTP status."""
    started = time.monotonic()
    client = apprise.Apprise()
    timeout = settings.NOTIFY_TIMEOUT_SECONDS
    if problem := outbound.problem(url, kind="apprise"):
        return Outcome(ok=False, error=f"refused: {problem}", retryable=False)
    joined = url + ("&" if "?" in url else "?") + f"cto={min(5.0, timeout)}&rto={timeout}"
    if not client.add(joined):
        return Outcome(ok=False, error="refused: Apprise does not recognise this URL", retryable=False)
    try:
        # As plain text: each service's plugin escapes it for its own markup (no <!channel> or <url|label> in Slack,
        # no HTML in an HTML service), whatever the API's error text or an upload put in it.
        result = client.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT, timeout=timeout * 2)
    except Exception as exc:  # noqa: BLE001 - a plugin's own failure is this channel's, recorded, never raised
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:500], duration_ms=_ms(started))
    if result:
        return Outcome(ok=True, duration_ms=_ms(started))
    why = "; ".join(str(entry.message) for entry in result.logs())[:500] or "the service did not accept it"
    return Outcome(ok=False, error=_clean(why, url), duration_ms=_ms(started))


def _clean(text: str, url: str) -> str:
    """An error message without the URL's path and query, which may hold a token."""
    parts = urlsplit(url)
    secret_part = url[len(f"{parts.scheme}://{parts.netloc}") :]
    return text.replace(secret_part, "/…") if len(secret_part) > 1 else text


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
