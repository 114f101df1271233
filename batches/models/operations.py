"""What operators do: the audit trail, submissions (uploads and retries) and the requests they keep."""

from __future__ import annotations

import json
import zlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from batches.models.mirror import Batch, Workspace


class AuditEvent(models.Model):
    """Who did what, when, to what, with which parameters (never a key), and how it ended.

    Append-only: nothing in the UI edits or deletes these rows.
    """

    class Action(models.TextChoices):
        CANCEL = "cancel"
        SUBMIT = "submit"
        RETRY = "retry"
        ATTACH_INPUTS = "attach_inputs"
        WORKSPACE_CHANGE = "workspace_change"
        KEY_CHANGE = "key_change"
        PRICE_CHANGE = "price_change"
        BUDGET_CHANGE = "budget_change"
        DISCARD = "discard"
        DOWNLOAD = "download"
        EXPORT = "export"
        LOCKOUT = "lockout"
        USER_CHANGE = "user_change"
        GROUP_CHANGE = "group_change"
        NOTIFICATION_CHANGE = "notification_change"
        NOTIFICATION_RESEND = "notification_resend"
        ACCESS_CHANGE = "access_change"
        SSO_SIGN_IN = "sso_sign_in"
        SSO_REFUSED = "sso_refused"
        SSO_ROLES = "sso_roles"
        SESSIONS_ENDED = "sessions_ended"
        TOKEN_CREATE = "token_create"
        TOKEN_REVOKE = "token_revoke"
        DELETE = "delete"  # a batch deleted through the pass-through
        INGEST = "ingest"  # an ingest that died in the worker on something not the API's

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # The workspace it concerns, when it concerns one: a user given chosen workspaces sees only their rows.
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)  # kept if the user is deleted
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, default="ok")  # "ok" or "error"
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["action", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target} ({self.outcome})"


class Submission(models.Model):
    """One upload (or one retry) sent as one or more batches: the API caps a batch at 100,000 requests
    and 256 MB, so a larger file becomes several parts, shown together.

    An upload starts as a draft (`confirmed_at` empty): validated and kept, nothing sent, while a worker
    estimates what it would cost. It is sent once an Operator confirms it, or discarded. A retry is
    confirmed when it is made: its confirmation page is the retry plan.
    """

    class Kind(models.TextChoices):
        UPLOAD = "upload"
        RETRY = "retry"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="submissions")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.UPLOAD)
    label = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The same file (or the same retry) for the same workspace: a double click or a resubmitted form
    # finds the submission already made instead of creating batches again.
    fingerprint = models.CharField(max_length=64, unique=True)
    request_count = models.PositiveIntegerField()
    filename = models.CharField(max_length=255, blank=True)
    parent_batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    # Sent through the beta batches endpoint with these `anthropic-beta` values (those the operator chose plus those
    # its requests' beta-only fields need), and the batch-level `anthropic-user-profile-id`. A retry keeps its parent's.
    betas = models.JSONField(default=list, blank=True)
    user_profile_id = models.CharField(max_length=128, blank=True)
    # Empty: a draft, never sent by anyone (not even the beat's sweep). Set once, by a conditional UPDATE,
    # so a double click sends once.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    discarded_at = models.DateTimeField(null=True, blank=True)  # a draft given up: its inputs are deleted
    # The pre-flight estimate (batches/services/estimates.py): tokens per model, how they were counted. Costs and
    # budgets are worked out from it when shown, at the prices and spend of that moment.
    estimate = models.JSONField(null=True, blank=True)
    estimate_asked_at = models.DateTimeField(null=True, blank=True)
    estimated_at = models.DateTimeField(null=True, blank=True)  # the worker finished, well or not
    estimate_error = models.TextField(blank=True)  # why there is no estimate (or only part of one)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.request_count} requests)"

    @property
    def is_draft(self) -> bool:
        """Kept, not sent, not discarded: it waits for an Operator to send or discard it."""
        return self.confirmed_at is None and self.discarded_at is None

    @property
    def estimating(self) -> bool:
        """An estimate was asked for and the worker has not answered yet (pages poll)."""
        return bool(self.estimate_asked_at) and self.estimated_at is None and not self.estimate_error


class SubmissionPart(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        CREATING = "creating"  # a create call is out; its outcome may be unknown if it failed
        CREATED = "created"
        FAILED = "failed"  # the API refused it; nothing was created
        AMBIGUOUS = "ambiguous"  # a create may have succeeded and cannot be matched: needs a person

    # Not settled yet: its batch is still to be created, or a create call is out (pages keep polling).
    IN_FLIGHT = (Status.PENDING, Status.CREATING)

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField()
    request_count = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempted_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # A create whose answer was lost is resolved by adopting the batch it made. Until that batch's results
    # show our custom_ids, the adoption is provisional: a foreign batch of the same size is given back.
    adoption = models.CharField(max_length=16, blank=True, choices=[("provisional", "provisional"),
                                                                      ("verified", "verified")])  # fmt: skip
    replaced_label = models.CharField(max_length=200, blank=True)  # the adopted batch's label before ours
    batch = models.OneToOneField(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="submission_part"
    )

    class Meta:
        ordering = ["submission", "index"]
        constraints = [models.UniqueConstraint(fields=["submission", "index"], name="part_unique_index")]

    def __str__(self) -> str:
        return f"part {self.index} of submission {self.submission_id}"

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT


class RequestInput(models.Model):
    """A request's params as submitted (or attached afterwards), zlib-compressed JSON.

    The API never returns them, so this is what a retry sends again.
    """

    part = models.ForeignKey(SubmissionPart, null=True, blank=True, on_delete=models.CASCADE, related_name="inputs")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="inputs")
    custom_id = models.CharField(max_length=128)
    params = models.BinaryField()
    line = models.PositiveIntegerField(default=0)  # in the uploaded file, for messages
    # For a retry: the result this request tries again, and the logical item's first attempt, so
    # every attempt of an item can be found from any of them.
    retry_of = models.ForeignKey(
        "Result", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries", db_constraint=False
    )
    root = models.ForeignKey(
        "Result", null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["part", "custom_id"], name="input_unique_in_part"),
            models.UniqueConstraint(fields=["batch", "custom_id"], name="input_unique_in_batch"),
        ]

    def __str__(self) -> str:
        return self.custom_id

    @staticmethod
    def pack(params: dict) -> bytes:
        return zlib.compress(json.dumps(params, separators=(",", ":")).encode(), 6)

    @staticmethod
    def unpacked(packed: bytes | memoryview) -> dict:
        """The params stored as `packed`: for reading many rows as values, without a model instance each."""
        return json.loads(zlib.decompress(bytes(packed)))

    def unpack(self) -> dict:
        return self.unpacked(self.params)


class KeptBody(models.Model):
    """One piece (up to 1 MB, zstd; zlib before) of a pass-through create's body as it came, kept with its submission
    before the body is forwarded, until the worker splits it into the part's RequestInput rows and drops it.

    Writing the body whole takes milliseconds where a row per request takes a second (batches/services/kept_bodies.py).
    """

    part = models.ForeignKey(SubmissionPart, on_delete=models.CASCADE, related_name="kept_body")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["part", "index"], name="kept_body_unique_index")]

    def __str__(self) -> str:
        return f"piece {self.index} of the kept body of part {self.part_id}"
