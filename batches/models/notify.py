"""Notifications: the outbox of events, the channels they go to, and every delivery attempt.

An event is written in the same transaction as the state change that causes it (a transactional outbox)
and is unique by its dedupe key, so repeated syncs, two workers or a periodic check run twice never write
it twice. Each (event, channel) is one Delivery, unique too; every try of it is a DeliveryAttempt, with
the same event id each time so a receiver can deduplicate.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from batches import crypto
from batches.models.mirror import Workspace


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


class EventKind(models.TextChoices):
    BATCH_ENDED = "batch.ended"
    BATCH_ERRORS_HIGH = "batch.errors_high"
    BATCH_EXPIRING = "batch.expiring"
    RESULTS_AT_RISK = "results.at_risk"
    SYNC_FAILING = "sync.failing"
    SYNC_RECOVERED = "sync.recovered"
    BUDGET_WARNING = "budget.warning"
    BUDGET_EXCEEDED = "budget.exceeded"
    SUBMISSION_FAILED = "submission.failed"
    PRICE_MISSING = "price.missing"


class NotifyThresholds(models.Model):
    """When the events fire: one row (pk 1), edited by Admins; these defaults until then."""

    errors_high_share = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.10"), help_text="batch.errors_high: errored share over this"
    )
    expiring_hours = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal(3), help_text="batch.expiring: this long before expires_at"
    )
    at_risk_days = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal(3), help_text="results.at_risk: within this of the 29 days"
    )
    sync_failing_minutes = models.DecimalField(
        max_digits=7, decimal_places=2, default=Decimal(5), help_text="sync.failing: failing for longer than this"
    )
    budget_warning_share = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.80"), help_text="budget.warning: this share of the budget"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "notification thresholds"

    @classmethod
    def current(cls) -> NotifyThresholds:
        """The row in force, or the defaults (unsaved) while no Admin has edited them: no write on a read."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class NotificationEvent(models.Model):
    """One thing that happened, written in the transaction that made it happen."""

    id = models.CharField(max_length=40, primary_key=True, default=new_event_id, editable=False)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    # What makes it the same event: a batch's id, a workspace's failing episode, a budget's month...
    dedupe_key = models.CharField(max_length=200, unique=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    workspace = models.ForeignKey(Workspace, null=True, on_delete=models.CASCADE, related_name="+")
    batch_id = models.CharField(max_length=128, blank=True)  # not a key: the event outlives a deleted batch
    data = models.JSONField(default=dict)
    url = models.CharField(max_length=500, blank=True)
    # Fanned out into one Delivery per matching channel (batches/services/notify/send.py::dispatch).
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["dispatched_at", "occurred_at"], name="event_undispatched")]

    def __str__(self) -> str:
        return f"{self.id} {self.kind}"


class NotificationChannel(models.Model):
    """Where events go (an email address, a webhook) and which of them: its rule."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        SLACK = "slack", "Slack-compatible webhook (text)"
        APPRISE = "apprise", "Other service (Apprise URL)"

    class Digest(models.TextChoices):
        NONE = "", "Each event"
        HOURLY = "hourly", "Hourly digest"
        DAILY = "daily", "Daily digest"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Email addresses (comma-separated), or a webhook's URL. A Slack or Apprise URL carries its own token,
    # so it is kept as the secret instead, and only its hint is shown.
    address = models.CharField(max_length=500, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    secret_hint = models.CharField(max_length=80, blank=True, editable=False)
    # The rule: which events (none listed: all), which workspaces (none: all), and its own threshold.
    events = models.JSONField(default=list, blank=True)
    workspaces = models.ManyToManyField(Workspace, blank=True, related_name="+")
    errors_high_share = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        help_text="batch.errors_high to this channel only over this share (empty: the global one)",
    )  # fmt: skip
    digest = models.CharField(max_length=8, choices=Digest.choices, blank=True, default=Digest.NONE)
    # A user's own subscription ("My notifications"), or one defined by NOTIFY_* variables (env_key).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="notification_channels"
    )
    env_key = models.CharField(max_length=40, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("manage_notifications", "Can manage notification channels and see deliveries")]
        constraints = [
            models.UniqueConstraint(fields=["env_key"], condition=~models.Q(env_key=""), name="channel_unique_env"),
            models.UniqueConstraint(fields=["owner"], condition=models.Q(owner__isnull=False), name="channel_per_user"),
        ]

    def __str__(self) -> str:
        return self.name

    def set_secret(self, secret: str) -> None:
        secret = secret.strip()
        self.secret_encrypted = crypto.encrypt(secret) if secret else ""
        self.secret_hint = mask_secret(secret) if secret else ""

    @property
    def secret(self) -> str:
        """The secret in clear, for the sender only: never rendered, never logged."""
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @property
    def target(self) -> str:
        """Where it goes, as a page may show it."""
        return self.address or self.secret_hint

    def wants(self, kind: str, workspace_id: int | None, workspace_ids: set[int]) -> bool:
        """Whether this channel's rule takes an event of `kind` in `workspace_id` (`workspace_ids`: its own)."""
        if self.events and kind not in self.events:
            return False
        return not workspace_ids or workspace_id in workspace_ids


def mask_secret(secret: str) -> str:
    """A URL as its scheme and host with the last four characters; anything else as its last four."""
    if "://" in secret:
        scheme, _, rest = secret.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}/…{secret[-4:]}" if len(rest) > len(host) + 4 else f"{scheme}://{host}"
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"


class Delivery(models.Model):
    """One event to one channel: exactly once (unique), however many attempts it takes."""

    class Status(models.TextChoices):
        PENDING = "pending"  # due at next_attempt_at (a digest's: at its hour or day)
        DELIVERED = "delivered"
        FAILED = "failed"  # gave up after NOTIFY_MAX_ATTEMPTS; an Admin may resend

    event = models.ForeignKey(NotificationEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A sender holds it while it sends (a conditional UPDATE): two workers never send it at once.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "channel"], name="delivery_once_per_channel")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.channel_id}: {self.status}"


class DeliveryAttempt(models.Model):
    """One try of a delivery, as the delivery log shows it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)  # HTTP status, or the SMTP reply code
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    digest = models.BooleanField(default=False)  # sent within a digest, with others

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at}: {'ok' if self.ok else self.error}"
