"""The app's models, by concern: the mirror of the API, what operators do, spend, and notifications."""

from batches.models.mirror import (
    REQUEST_COUNTS,
    RESULTS_EXPIRING_SOON,
    RESULTS_RETENTION,
    Batch,
    Credentials,
    ErrorCount,
    Result,
    ResultChunk,
    Workspace,
)
from batches.models.notify import (
    Delivery,
    DeliveryAttempt,
    EventKind,
    NotificationChannel,
    NotificationEvent,
    NotifyThresholds,
)
from batches.models.operations import AuditEvent, RequestInput, Submission, SubmissionPart
from batches.models.spend import Budget, CostReportFetch, Price, ReportedCost, UsageRollup

__all__ = [
    "REQUEST_COUNTS", "RESULTS_EXPIRING_SOON", "RESULTS_RETENTION", "AuditEvent", "Batch", "Budget", "CostReportFetch",
    "Credentials", "Delivery", "DeliveryAttempt", "ErrorCount", "EventKind", "NotificationChannel",
    "NotificationEvent", "NotifyThresholds", "Price", "ReportedCost", "RequestInput", "Result", "ResultChunk",
    "Submission", "SubmissionPart", "UsageRollup", "Workspace",
]  # fmt: skip
