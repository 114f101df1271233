"""The app's models, by concern: the mirror of the API, what operators do, spend, monitoring and notifications."""

from batches.models.mirror import (
    INCOMPLETE,
    INCOMPLETE_STOP_REASONS,
    REQUEST_COUNTS,
    RESULTS_EXPIRING_SOON,
    RESULTS_RETENTION,
    WHOLE,
    Batch,
    Credentials,
    ErrorCount,
    IncompleteCount,
    MirrorRefusal,
    Result,
    ResultChunk,
    Workspace,
)
from batches.models.monitoring import ApiRequestCount, Heartbeat
from batches.models.notify import (
    Delivery,
    DeliveryAttempt,
    EventKind,
    NotificationChannel,
    NotificationEvent,
    NotifyThresholds,
)
from batches.models.operations import AuditEvent, KeptBody, RequestInput, Submission, SubmissionPart
from batches.models.spend import (
    Budget,
    CostReportFetch,
    DailyUsage,
    Price,
    PricedModel,
    ReportedCost,
    ReportedCostPart,
    UsageRollup,
)
from batches.models.sso import SignIn, SsoGrant, SsoRoleRule
from batches.models.tally import BatchTally
from batches.models.tokens import ApiToken
from batches.models.workspace_access import WorkspaceAccess

__all__ = [
    "ApiToken", "BatchTally",
    "REQUEST_COUNTS", "RESULTS_EXPIRING_SOON", "RESULTS_RETENTION", "ApiRequestCount", "AuditEvent", "Batch", "Budget",
    "CostReportFetch", "Credentials", "DailyUsage", "Delivery", "DeliveryAttempt", "ErrorCount", "EventKind",
    "Heartbeat",
    "INCOMPLETE", "INCOMPLETE_STOP_REASONS", "IncompleteCount", "KeptBody", "MirrorRefusal",
    "NotificationChannel", "NotificationEvent", "NotifyThresholds", "Price", "PricedModel", "ReportedCost",
    "ReportedCostPart",
    "RequestInput", "Result", "ResultChunk", "SignIn", "SsoGrant", "SsoRoleRule", "Submission", "SubmissionPart",
    "UsageRollup", "WHOLE", "Workspace",
    "WorkspaceAccess",
]  # fmt: skip
