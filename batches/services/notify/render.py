"""What an event looks like on the wire: the JSON payload, a one-line text, and the email parts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from batches.models import EventKind, NotificationEvent

TITLES = {
    EventKind.BATCH_ENDED: "Batch ended",
    EventKind.BATCH_ERRORS_HIGH: "Batch errors high",
    EventKind.BATCH_EXPIRING: "Batch expiring",
    EventKind.RESULTS_AT_RISK: "Results at risk",
    EventKind.SYNC_FAILING: "Sync failing",
    EventKind.SYNC_RECOVERED: "Sync recovered",
    EventKind.BUDGET_WARNING: "Budget warning",
    EventKind.BUDGET_EXCEEDED: "Budget exceeded",
    EventKind.SUBMISSION_FAILED: "Submission failed",
    EventKind.PRICE_MISSING: "Price missing",
}


def payload(event: NotificationEvent) -> dict[str, Any]:
    """The webhook body: the same id on every attempt, so a receiver can deduplicate."""
    body: dict[str, Any] = {
        "id": event.id,
        "event": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "workspace": event.workspace.name if event.workspace_id else None,
    }
    if event.batch_id:
        body["batch"] = event.batch_id
    return {**body, "data": event.data, "url": event.url}


def body_bytes(event: NotificationEvent) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload(event), separators=(",", ":"), sort_keys=True).encode()


def title(event: NotificationEvent) -> str:
    if _deleted_while_running(event):
        return "Batch deleted in the API"
    return TITLES.get(event.kind, event.kind)


def _deleted_while_running(event: NotificationEvent) -> bool:
    """A batch.ended for a batch the API stopped listing while requests were still processing: it did not end."""
    data = event.data if isinstance(event.data, dict) else {}
    counts = data.get("request_counts") or {}
    return event.kind == EventKind.BATCH_ENDED and data.get("results") == "gone" and bool(counts.get("processing"))


def summary(event: NotificationEvent) -> str:
    """One line a person reads: what, where, and the figures that matter."""
    try:
        return _summary(event)
    except (KeyError, TypeError, ValueError):  # data of an older shape: still say what and where
        target = event.batch_id or (event.workspace.name if event.workspace_id else "")
        return f"{event.kind}: {target}"


def _summary(event: NotificationEvent) -> str:
    d, ws = event.data, event.workspace.name if event.workspace_id else "-"
    target = f"{event.batch_id} in {ws}" if event.batch_id else ws
    match event.kind:
        case EventKind.BATCH_ENDED if _deleted_while_running(event):
            return f"{target}: deleted before it ended, with {d['total_requests']:,} requests; its results are gone"
        case EventKind.BATCH_ENDED:
            counts = ", ".join(f"{n:,} {k}" for k, n in d["request_counts"].items() if n)
            if d.get("incomplete"):
                counts += f" ({d['incomplete']:,} incomplete: cut off, paused or refused)"
            cost = f", {_usd(d['cost_usd'])}" if d.get("cost_usd") else ""
            kept = {"kept": "", "gone": " (deleted in the API before its results were kept)"}.get(
                d["results"], f" (results {d['results']})"
            )
            return f"{target}: {counts or 'no requests'}{cost}{kept}"  # the title says "ended"
        case EventKind.BATCH_ERRORS_HIGH:
            top = ", ".join(f"{e['error_type']} {e['count']:,}" for e in d["top_errors"])
            share, errored = float(d["errored_share"]), d["request_counts"]["errored"]
            return f"{target}: {share:.1%} of requests errored ({errored:,}){': ' + top if top else ''}"
        case EventKind.BATCH_EXPIRING:
            return f"{target} is still in progress and expires at {_when(d['expires_at'])}"
        case EventKind.RESULTS_AT_RISK:
            why = f" (ingest failing: {d['ingest_error_type']})" if d.get("ingest_failures") else ""
            until = _when(d["results_available_until"])
            return f"{target}: results not kept yet and deleted by the API at {until}{why}"
        case EventKind.SYNC_FAILING:
            return f"{ws}: sync failing since {_when(d['failing_since'])}: {d['error_type']} — {d['message'][:200]}"
        case EventKind.SYNC_RECOVERED:
            return f"{ws}: sync recovered after {d['failed_for_seconds'] // 60} min failing"
        case EventKind.BUDGET_WARNING | EventKind.BUDGET_EXCEEDED:
            used = float(d["used"])
            return f"{ws}: {_usd(d['spent_usd'])} of {_usd(d['budget_usd'])} spent in {d['month']} ({used:.0%})"
        case EventKind.PRICE_MISSING:
            n = d["unpriced_requests"]
            return (
                f"{d['model']} has no price: {n:,} request{'s' if n != 1 else ''} of {target} left out of every "
                "total until an Admin adds one"
            )
        case EventKind.SUBMISSION_FAILED:
            return (
                f"{ws}: part {d['part'] + 1} of submission {d['submission']} could not be created: {d['error'][:200]}"
            )
    return f"{event.kind}: {target}"


def _usd(amount) -> str:
    """Cents, as pages show money; the payload keeps the exact figure."""
    return f"${Decimal(str(amount)):,.2f}"


def _when(iso: str) -> str:
    """ "2026-12-04 17:05 UTC": an ISO timestamp from an event's data, as people read it."""
    return f"{datetime.fromisoformat(iso).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word and marked, never mid-word."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,:;—-")
    return cut + "…"


def slack_body(event: NotificationEvent) -> bytes:
    """Slack's incoming-webhook format (also taken by Mattermost, Rocket.Chat, Discord's /slack URL...)."""
    # Slack's markup: &, < and > escaped in everything but our own link, so text from the API or an upload cannot
    # post <!channel>, mention someone, or show a link of its own.
    text = f"*{slack_escape(title(event))}*: {slack_escape(summary(event))}"
    text += f" <{slack_escape(event.url)}|Open>" if event.url else ""
    return json.dumps({"text": text}).encode()


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def email(events: list[NotificationEvent], digest: str = "") -> tuple[str, str, str]:
    """Subject, plain text and HTML of one event, or of a digest of several."""
    items = [{"event": e, "title": title(e), "summary": summary(e), "payload": payload(e)} for e in events]
    if digest:
        subject = (
            f"[Batch dashboard] {digest.capitalize()} digest: {len(events)} event{'s' if len(events) != 1 else ''}"
        )
    else:
        subject = clip(f"[Batch dashboard] {items[0]['title']}: {items[0]['summary']}", 200)
    context = {"items": items, "digest": digest, "subject": subject}
    return (
        subject,
        render_to_string("notify/email.txt", context),
        render_to_string("notify/email.html", context),
    )
