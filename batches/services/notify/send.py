"""Deliver the outbox: fan each event out to the channels whose rule takes it, then send what is due.

- `dispatch` writes one Delivery per (event, channel): unique, so two workers fanning out at once agree.
- `send_due` sends each due delivery under its own lease (a conditional UPDATE, so two workers never send
  the same one), records every attempt, and on failure backs off that delivery: exponential with jitter,
  from NOTIFY_RETRY_BASE_SECONDS up to NOTIFY_RETRY_MAX_SECONDS, marked failed after NOTIFY_MAX_ATTEMPTS.
  A channel that fails is not tried again in the same pass: its other due deliveries share that failure
  (logged as "not tried") and back off with it. So a receiver that is down costs at most one timeout a
  pass, holds up no other channel, and all it missed reaches the bound together, for an Admin to resend.
- The event id is the same on every attempt. A worker that dies between a receiver's 200 and recording it
  sends again once its lease runs out; the receiver deduplicates by the id.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from batches.models import (
    Delivery,
    DeliveryAttempt,
    EventKind,
    NotificationChannel,
    NotificationEvent,
    NotifyThresholds,
)
from batches.services import workspace_roles as access
from batches.services.notify import deliver, render
from batches.services.notify.defaults import ensure_env_channels

log = logging.getLogger(__name__)
Kind, Status = NotificationChannel.Kind, Delivery.Status
DISPATCH_LIMIT = 500


@dataclass
class SendReport:
    dispatched: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0  # not tried this pass: their channel had just failed

    def summary(self) -> str:
        return (f"{self.dispatched} deliveries queued, {self.delivered} delivered, {self.retrying} to retry, "
                f"{self.failed} failed, {self.deferred} deferred")  # fmt: skip


# --- fan-out -------------------------------------------------------------------------------------
def dispatch(now: datetime | None = None) -> int:
    """One Delivery per (event not yet dispatched, channel whose rule takes it). Returns how many were new."""
    now = now or timezone.now()
    ensure_env_channels()
    pending = NotificationEvent.objects.filter(dispatched_at=None).select_related("workspace")
    events = list(pending.order_by("occurred_at")[:DISPATCH_LIMIT])
    if not events:
        return 0
    channels = list(
        NotificationChannel.objects.filter(is_active=True).select_related("owner").prefetch_related("workspaces")
    )
    threshold = NotifyThresholds.current().errors_high_share
    rows = []
    for channel in channels:
        workspace_ids = {w.pk for w in channel.workspaces.all()}
        for event in events:
            if _takes(channel, event, workspace_ids, threshold):
                rows.append(Delivery(event=event, channel=channel, next_attempt_at=_due(channel, now), created_at=now))
    with transaction.atomic():
        made = Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        NotificationEvent.objects.filter(pk__in=[e.pk for e in events], dispatched_at=None).update(dispatched_at=now)
    return len(made)


# What a person must be allowed in the event's workspace to be sent it: its link leads to a page of that
# permission (a budget's to the spend report). Every other event needs only to see batches there.
NEEDED = {EventKind.BUDGET_WARNING: "view_spend", EventKind.BUDGET_EXCEEDED: "view_spend"}


def needed(kind: str) -> str:
    return NEEDED.get(kind, "view_batch")


def _takes(channel: NotificationChannel, event: NotificationEvent, workspace_ids: set[int], threshold: Decimal) -> bool:
    if not channel.wants(event.kind, event.workspace_id, workspace_ids):
        return False
    if event.kind == EventKind.BATCH_ERRORS_HIGH:
        own = channel.errors_high_share if channel.errors_high_share is not None else threshold
        if Decimal(event.data["errored_share"]) <= own:
            return False
    owner = channel.owner
    # A person's own subscription: only while they may still see this event's workspace, and what it links to.
    return owner is None or (owner.is_active and access.may(owner, needed(event.kind), event.workspace_id))


def _due(channel: NotificationChannel, now: datetime) -> datetime:
    """Each event at once; a digest's at the top of the next hour, or the next UTC midnight."""
    if channel.digest == NotificationChannel.Digest.HOURLY:
        return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if channel.digest == NotificationChannel.Digest.DAILY:
        return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return now


# --- sending ---------------------------------------------------------------------------------------
def _due_now(now: datetime) -> Q:
    free = Q(lease_until=None) | Q(lease_until__lt=now)
    return Q(status=Status.PENDING, next_attempt_at__lte=now) & free


def send_due(now: datetime | None = None, *, limit: int = 200) -> SendReport:
    """Dispatch, then try each due delivery once. Safe to run on several workers at once."""
    now = now or timezone.now()
    report = SendReport(dispatched=dispatch(now))
    due = Delivery.objects.filter(_due_now(now)).order_by("next_attempt_at", "id")
    failed_channels: dict[int, deliver.Outcome] = {}
    digests_sent: set[int] = set()
    for delivery_id, channel_id, digest in due.values_list("id", "channel_id", "channel__digest")[:limit]:
        if channel_id in failed_channels:
            _share_failure(delivery_id, failed_channels[channel_id], now, report)
            continue
        if digest:
            if channel_id not in digests_sent:
                digests_sent.add(channel_id)
                _send_digest(channel_id, now, report, failed_channels)
            continue
        claimed = _claim(Delivery.objects.filter(pk=delivery_id), now)
        if claimed:
            try:
                outcome = _attempt(claimed[0])
            except Exception as exc:  # noqa: BLE001 - one delivery's own failure: recorded on it, the rest go on
                log.exception("delivery %s failed", delivery_id)
                outcome = deliver.Outcome(ok=False, error=f"the worker failed: {type(exc).__name__}: {exc}"[:500])
            _record(claimed, outcome, now, report)
            if not outcome.ok and outcome.retryable:
                failed_channels[channel_id] = outcome
    if report.delivered or report.failed or report.retrying:
        log.info("notifications: %s", report.summary())
    return report


def _claim(deliveries, now: datetime) -> list[Delivery]:
    token = uuid.uuid4().hex
    lease = timedelta(seconds=settings.NOTIFY_TIMEOUT_SECONDS * 3 + 60)
    deliveries.filter(_due_now(now)).update(lease_token=token, lease_until=now + lease)
    return list(Delivery.objects.filter(lease_token=token).select_related("event__workspace", "channel").order_by("id"))


def _share_failure(delivery_id: int, failure: deliver.Outcome, now: datetime, report: SendReport) -> None:
    """Not sent: its channel failed moments ago in this pass. Recorded (as not tried) and backed off with it."""
    claimed = _claim(Delivery.objects.filter(pk=delivery_id), now)
    if claimed:
        report.deferred += 1
        outcome = deliver.Outcome(ok=False, error=f"not tried: the channel failed just before ({failure.error})"[:500])
        _record(claimed, outcome, now, report, tried=False)


def _send_digest(channel_id: int, now: datetime, report: SendReport, failed_channels: dict) -> None:
    """Every due delivery of a digest channel, in one email."""
    claimed = _claim(Delivery.objects.filter(channel_id=channel_id), now)
    if not claimed:
        return
    channel = claimed[0].channel
    events = sorted((d.event for d in claimed), key=lambda e: e.occurred_at)
    subject, text, html = render.email(events, digest=channel.digest)
    outcome = deliver.email(_addresses(channel), subject, text, html)
    _record(claimed, outcome, now, report, digest=True)
    if not outcome.ok:
        failed_channels[channel_id] = outcome


def _attempt(delivery: Delivery) -> deliver.Outcome:
    channel, event = delivery.channel, delivery.event
    try:
        secret = channel.secret
    except ValueError as exc:
        return deliver.Outcome(ok=False, error=str(exc).replace("API key", "secret"), retryable=False)
    if channel.kind == Kind.WEBHOOK:
        return deliver.webhook(channel.address, render.body_bytes(event), secret=secret, event_id=event.id,
                               kind=event.kind)  # fmt: skip
    if channel.kind == Kind.SLACK:
        return deliver.slack(secret, render.slack_body(event))
    if channel.kind == Kind.APPRISE:
        return deliver.apprise_notify(secret, render.title(event), f"{render.summary(event)}\n{event.url}")
    subject, text, html = render.email([event])
    return deliver.email(_addresses(channel), subject, text, html)


def _addresses(channel: NotificationChannel) -> list[str]:
    return [a.strip() for a in channel.address.split(",") if a.strip()]


def _record(
    deliveries: list[Delivery], outcome: deliver.Outcome, now: datetime, report: SendReport, *, digest: bool = False,
    tried: bool = True,
) -> None:  # fmt: skip
    """One attempt row per delivery, and its new state; the lease is let go."""
    with transaction.atomic():
        for delivery in deliveries:
            attempts = delivery.attempts + 1
            fields = {"attempts": attempts, "last_status_code": outcome.status_code, "last_error": outcome.error[:2000],
                      "lease_token": "", "lease_until": None}  # fmt: skip
            if outcome.ok:
                fields |= {"status": Status.DELIVERED, "delivered_at": timezone.now()}
                report.delivered += 1
            elif not outcome.retryable or attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                fields["status"] = Status.FAILED
                report.failed += tried
            else:
                fields["next_attempt_at"] = now + timedelta(seconds=backoff(attempts))
                report.retrying += tried
            DeliveryAttempt.objects.create(
                delivery=delivery, ok=outcome.ok, status_code=outcome.status_code, error=outcome.error[:2000],
                duration_ms=outcome.duration_ms, digest=digest,
            )  # fmt: skip
            Delivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(**fields)
    if not outcome.ok and tried:
        log.warning("notification to channel %s failed (%d deliveries): %s", deliveries[0].channel_id,
                    len(deliveries), outcome.error[:300])  # fmt: skip


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failures: doubling, capped, ±25%."""
    base, most = settings.NOTIFY_RETRY_BASE_SECONDS, settings.NOTIFY_RETRY_MAX_SECONDS
    return min(base * 2 ** (attempts - 1), most) * random.uniform(0.75, 1.25)


def resend(delivery_ids: Iterable[int], now: datetime | None = None) -> int:
    """An Admin asked: send these again at the next pass, with the same event id, and a full set of attempts."""
    now = now or timezone.now()
    free = Q(lease_until=None) | Q(lease_until__lt=now)  # one being sent right now is left to finish
    return Delivery.objects.filter(free, pk__in=list(delivery_ids)).update(
        status=Status.PENDING, next_attempt_at=now, attempts=0, lease_token="", lease_until=None
    )
