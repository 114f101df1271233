"""How many batches each workspace has in each status tab, kept by the database as batches are written.

The batch list's tabs (All, In progress, Canceling, Ended, Ended with errors) and its bulk retry offer count
every batch a user may see. Counting them is a scan: at a million batches, longer than the page. Instead,
triggers on `batches_batch` (batches/services/tally.py installs them) add a row here in the same transaction as
every insert, delete, or update that moves a batch between tabs: +1 under its new key, -1 under its old one.
No write path can forget it (the ORM, raw upserts, a COPY, a cascade), and no two writers wait on one
counter row: each adds its own row. A periodic compaction folds the rows into one per key.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q, Sum


class BatchTallyQuerySet(models.QuerySet):
    def counts(self, workspace_ids: list[int] | None) -> dict[str, int]:
        """The tabs' counts over these workspaces (None: every one), as the batch list's `_counts` names them."""
        rows = self if workspace_ids is None else self.filter(workspace_id__in=workspace_ids)
        ended = Q(processing_status="ended")
        totals = rows.aggregate(
            all=Sum("n"),
            in_progress=Sum("n", filter=Q(processing_status="in_progress")),
            canceling=Sum("n", filter=Q(processing_status="canceling")),
            ended=Sum("n", filter=ended),
            errors=Sum("n", filter=ended & Q(has_errors=True)),
            retryable=Sum("n", filter=ended & Q(has_failed=True)),
        )
        return {key: value or 0 for key, value in totals.items()}


class BatchTally(models.Model):
    # A plain number, not a foreign key: the -1 rows a workspace's deleted batches leave are written as the
    # workspace itself is deleted, and sum to nothing with its +1 rows.
    workspace_id = models.BigIntegerField()
    processing_status = models.CharField(max_length=16)
    # errored_count or malformed_count above 0: the "Ended with errors" tab (dashboard/forms/filters.py).
    has_errors = models.BooleanField()
    # errored, expired or canceled items: what a bulk retry of an ended batch can send again.
    has_failed = models.BooleanField()
    n = models.IntegerField()  # batches added (+) or taken away (-) under this key

    objects = BatchTallyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.processing_status} {self.n:+}"
