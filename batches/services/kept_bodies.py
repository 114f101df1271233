"""A pass-through create's body, kept whole before it is forwarded and split into its requests afterwards.

Writing a row per request (parsed, re-serialised, compressed, inserted) takes over a second for 10,000 requests:
in series with the forward, that made a create through the pass-through about ten times slower than one straight
to the API (docs/api.md). Keeping the body as it came, in 1 MB zstd pieces, takes milliseconds. The pieces commit
in the same transaction as the submission, its submitter and fingerprint, before anything is forwarded: nothing
asked is lost if the process dies after that, and the body can be split at any time after. Deferring the split
is safe because every reader of a part's rows splits it first (`split` is idempotent, under the part's row lock):
the create-once rules (submit.submit_part), the retry plan (retry.py) and the adoption check; the worker splits
it as soon as the API has answered (tasks.split_kept_body), and the beat's sweep any it missed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import islice
from pathlib import Path

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from batches import result_lines
from batches.models import Batch, KeptBody, RequestInput, Submission, SubmissionPart
from batches.services.request_stream import BodyError, iter_requests

log = logging.getLogger(__name__)

PIECE = 1 << 20
PIECES_AT_ONCE = 8  # compressed pieces held before they are written: a few MB at most
STORE_CHUNK = 2000
SWEEP_AFTER = timedelta(minutes=5)


def keep(part: SubmissionPart, path: Path) -> None:
    """The body at `path` as the part's kept pieces (inside the caller's transaction): a few compressed pieces in
    memory at once, never the body."""
    with path.open("rb") as f:
        index, waiting = 0, []
        while data := f.read(PIECE):
            # zstd level 1: 0.4 ms for a 10,000-request body of 1.5 MB, 16 KB to store, where zlib level 1 took
            # 2.2 ms and left 59 KB; a create waits for both before it is forwarded. Pieces kept as zlib still read.
            waiting.append(KeptBody(part=part, index=index, data=result_lines.compress(data)))
            index += 1
            if len(waiting) == PIECES_AT_ONCE:  # one statement for several: a create waits for each round trip
                KeptBody.objects.bulk_create(waiting)
                waiting = []
        if waiting:
            KeptBody.objects.bulk_create(waiting)


def first_request(path: Path) -> dict | None:
    """The body's first request, read without the rest: a body that is not a create body fails here, early
    (BodyError). The API judges the rest."""
    with path.open("rb") as f:
        return next(iter_requests(f), None)


def split_batches(batch_ids) -> None:
    """Split the kept bodies of these batches' parts now: for a reader of their rows (one query if none)."""
    left = KeptBody.objects.filter(part__batch_id__in=batch_ids).values_list("part_id", flat=True)
    for part_id in list(left.distinct()):
        _split_or_say(part_id)


def split(part_id: int) -> bool:
    """The part's kept body as its RequestInput rows (linked to its batch if it has one), the body then dropped,
    in one transaction. False when there was none left to split (split already, or never kept)."""
    if not KeptBody.objects.filter(part_id=part_id).exists():
        return False
    with transaction.atomic():
        # The lock orders this against submit._link, which sets the part's batch and then its rows' batch.
        part = SubmissionPart.objects.select_for_update().filter(pk=part_id).first()
        pieces = list(KeptBody.objects.filter(part_id=part_id).order_by("index").values_list("pk", flat=True))
        if part is None or not pieces:
            return False
        count = 0
        requests = enumerate(iter_requests(_Pieces(pieces)), start=1)
        while chunk := list(islice(requests, STORE_CHUNK)):
            RequestInput.objects.bulk_create([
                RequestInput(part=part, batch_id=part.batch_id, custom_id=_storable(r.get("custom_id", "")),
                             line=line, params=RequestInput.pack(r.get("params") or {}))
                for line, r in chunk
            ], ignore_conflicts=True)  # fmt: skip
            count += len(chunk)
        SubmissionPart.objects.filter(pk=part.pk).update(request_count=count)
        Submission.objects.filter(pk=part.submission_id).update(request_count=count)
        KeptBody.objects.filter(part_id=part_id).delete()
    return True


def _storable(custom_id) -> str:
    """The custom_id as a row can hold it: JSON lets a lone surrogate ("\\ud800") through, which no database's UTF-8
    can keep (the split failed whole). Such an id is not the API's pattern: the API refused the batch anyway."""
    return str(custom_id)[:128].encode("utf-8", "replace").decode("utf-8")


def split_all(older_than: timedelta = SWEEP_AFTER) -> int:
    """Split every kept body left longer than `older_than` (the beat's sweep: a worker that died, a broker that was
    down); a newer one is its own task's, and may still be on its way to the API."""
    since = timezone.now() - older_than
    left = KeptBody.objects.filter(part__submission__created_at__lt=since).values_list("part_id", flat=True)
    return sum(_split_or_say(part_id) for part_id in list(left.distinct()))


def _split_or_say(part_id: int) -> bool:
    """`split`, a body that is not a create body logged (by part, never its text) and kept, not raised: the API
    refuses such a body, so this is a body it never took; its part's items show as without inputs."""
    try:
        return split(part_id)
    except BodyError as exc:
        log.warning("part %s: its kept body cannot be split into requests: %s", part_id, exc)
        return False


def inputs_kept(batch: Batch) -> bool:
    """Every request of the batch kept for a retry: as rows, or as a body not split yet. One query."""
    rows = RequestInput.objects.filter(batch=OuterRef("pk")).values("batch").annotate(n=Count("pk")).values("n")
    found = (
        Batch.objects.filter(pk=batch.pk)
        .annotate(rows=Coalesce(Subquery(rows), 0), body=Exists(KeptBody.objects.filter(part__batch=OuterRef("pk"))))
        .values_list("rows", "body")
        .first()
    )
    return bool(found) and (found[1] or found[0] >= batch.request_total > 0)


class _Pieces:
    """The kept pieces read back as one file, one piece in memory at a time."""

    def __init__(self, pieces: list[int]) -> None:
        self.pieces, self.buffer, self.pos = iter(pieces), b"", 0

    def read(self, size: int) -> bytes:
        while len(self.buffer) - self.pos < size and (pk := next(self.pieces, None)) is not None:
            data = KeptBody.objects.values_list("data", flat=True).get(pk=pk)
            self.buffer, self.pos = self.buffer[self.pos :] + result_lines.decompress(data), 0
        out = self.buffer[self.pos : self.pos + size]
        self.pos += len(out)
        return out
