"""Attach the original request file to a batch created outside the dashboard, so its failed
items can be retried: requests are matched to the batch's results by custom_id."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

from batches.models import Batch, RequestInput, Result
from batches.services import audit, uploads

CHUNK = 2000
LISTED = 50


@dataclass
class AttachReport:
    matched: int = 0
    already_kept: int = 0
    unmatched: int = 0
    unmatched_ids: list[str] = field(default_factory=list)  # the first LISTED of them
    without_input: int = 0  # results of the batch still without inputs afterwards


def attach(batch: Batch, user, f: BinaryIO, filename: str) -> AttachReport:
    """Keep the params of every request whose custom_id is one of the batch's results."""
    report = AttachReport()
    f.seek(0)
    requests = uploads.iter_requests(f)
    while chunk := list(islice(requests, CHUNK)):
        ids = [request["custom_id"] for _, request in chunk]
        known = set(Result.objects.filter(batch=batch, custom_id__in=ids).values_list("custom_id", flat=True))
        kept = set(RequestInput.objects.filter(batch=batch, custom_id__in=ids).values_list("custom_id", flat=True))
        rows = []
        for line, request in chunk:
            custom_id = request["custom_id"]
            if custom_id not in known:
                report.unmatched += 1
                if len(report.unmatched_ids) < LISTED:
                    report.unmatched_ids.append(custom_id)
            elif custom_id in kept:
                report.already_kept += 1
            else:
                rows.append(RequestInput(batch=batch, custom_id=custom_id, line=line,
                                         params=RequestInput.pack(request["params"])))  # fmt: skip
        RequestInput.objects.bulk_create(rows, ignore_conflicts=True)
        report.matched += len(rows)
    with_input = RequestInput.objects.filter(batch=batch).count()
    report.without_input = max(Result.objects.filter(batch=batch).count() - with_input, 0)
    audit.record(user, "attach_inputs", batch.id, params={
        "file": filename, "matched": report.matched, "already_kept": report.already_kept,
        "unmatched": report.unmatched,
    })  # fmt: skip
    return report
