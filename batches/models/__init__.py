"""The app's models, by concern: the mirror of the API, what operators do, and spend."""

from batches.models.mirror import (
    RESULTS_RETENTION,
    Batch,
    Credentials,
    ErrorCount,
    Result,
    ResultChunk,
    Workspace,
)
from batches.models.operations import AuditEvent, RequestInput, Submission, SubmissionPart
from batches.models.spend import Budget, Price, UsageRollup

__all__ = [
    "RESULTS_RETENTION", "AuditEvent", "Batch", "Budget", "Credentials", "ErrorCount", "Price", "RequestInput",
    "Result", "ResultChunk", "Submission", "SubmissionPart", "UsageRollup", "Workspace",
]  # fmt: skip
