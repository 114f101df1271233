"""Retry failed results as a new child batch, linked to the results it tries again.

A retry is a Submission of kind "retry": it goes through the same create-once machinery as an
upload (batches/services/submit.py). Each request records the result it retries and its logical item's first
attempt (`root`), so an item's attempts across parent and children can be followed, and "done"
means every logical item finally succeeded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from batches import result_lines
from batches.models import INCOMPLETE, WHOLE, Batch, RequestInput, Result, Submission, SubmissionPart
from batches.services import audit, kept_bodies, uploads
from batches.services.submit import Made, create_once, fingerprint
from batches.triage import continues, retry_as_is, retry_as_is_q

MAX_ITEMS = 1_000_000  # ten full batches in one retry is plenty; more must be split by filter
LOOKUP_CHUNK = 2000  # keeps IN lists under SQLite's variable limit
_SUFFIX_ROOM = len("-r99")
SAMPLE = 20  # the items a preview shows of each kind
PARENTS_SHOWN = 20


@dataclass
class RetryPlan:
    """What a retry of the selected results would send, and what it could not.

    A full plan (`plan`) holds every item, which `create` sends. A preview (`preview`, what the page shows
    before anything is sent) holds how many of each kind, counted in SQL, and only the first few items of each:
    building one object per failed item of a workspace took 4 s at 100,000 batches."""

    selected: int = 0
    workspace_ids: set[int] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)
    ready: list[tuple[Result, RequestInput]] = field(default_factory=list)
    needs_fix: list[tuple[Result, RequestInput]] = field(default_factory=list)
    missing: list[Result] = field(default_factory=list)
    already_retried: list[Result] = field(default_factory=list)
    counts: dict[str, int] | None = None  # a preview's: the lists above hold only the first few of each
    first_missing_batches: list[str] = field(default_factory=list)  # a preview's

    def _count(self, name: str) -> int:
        return self.counts[name] if self.counts is not None else len(getattr(self, name))

    @property
    def n_ready(self) -> int:
        return self._count("ready")

    @property
    def n_needs_fix(self) -> int:
        return self._count("needs_fix")

    @property
    def n_missing(self) -> int:
        return self._count("missing")

    @property
    def n_already_retried(self) -> int:
        return self._count("already_retried")

    @property
    def n_parents(self) -> int:
        return self._count("parents")

    @property
    def parents_shown(self) -> list[str]:
        return sorted(self.parents)[:PARENTS_SHOWN]

    @property
    def missing_batches(self) -> list[str]:
        """The batches whose request file, attached, would make the missing items retryable (a preview: the
        first few)."""
        if self.counts is not None:
            return self.first_missing_batches
        return sorted({result.batch_id for result in self.missing})

    @property
    def n_missing_batches(self) -> int:
        return self.counts["missing_batches"] if self.counts is not None else len(self.missing_batches)

    @property
    def missing_batches_shown(self) -> list[str]:
        return self.missing_batches[:5]

    @property
    def missing_batches_more(self) -> int:
        return self.n_missing_batches - len(self.missing_batches_shown)

    @property
    def problem(self) -> str:
        if not self.selected:
            return "No failed result matches this selection (whole answers are never retried; incomplete ones are)."
        if len(self.workspace_ids) > 1:
            return "These results belong to several workspaces: a batch lives in one. Narrow the selection."
        if self.selected > MAX_ITEMS:
            return f"{self.selected:,} results selected: narrow the selection to {MAX_ITEMS:,} at most."
        return ""


def plan(results: QuerySet[Result]) -> RetryPlan:
    """Sort the selected failed (and incomplete) results by what a retry can do with each."""
    results = results.exclude(WHOLE).select_related("batch")
    results = results.order_by("batch_id", "custom_id")
    plan = RetryPlan(selected=results.count())
    if plan.selected > MAX_ITEMS:
        return plan
    kept_bodies.split_batches(results.order_by().values("batch_id"))  # a pass-through body not split yet
    rows = results.iterator(chunk_size=LOOKUP_CHUNK)
    while chunk := list(islice(rows, LOOKUP_CHUNK)):
        inputs, retried = _inputs_and_retries(chunk)
        for result in chunk:
            plan.workspace_ids.add(result.batch.workspace_id)
            plan.parents.add(result.batch_id)
            found = inputs.get((result.batch_id, result.custom_id))
            if result.pk in retried:
                plan.already_retried.append(result)
            elif found is None:
                plan.missing.append(result)
            elif retry_as_is(result.result_type, result.error_type, result.stop_reason):
                plan.ready.append((result, found))
            else:
                plan.needs_fix.append((result, found))
    return plan


def preview(results: QuerySet[Result]) -> RetryPlan:
    """What `plan` would say of these results, without building one object per item: one query classifies every
    selected item in SQL (its inputs kept? already retried? sent as it is?) and streams four small columns, which
    are counted here; then the first SAMPLE items missing their inputs or needing a fix are read (with their
    inputs), none of those ready, and the first LOOKUP_CHUNK already retried (enough for `earlier_submission`).
    At most five queries whatever the number (the first: a pass-through body not split yet, split as `plan`
    splits it, so the page counts what sending would). Not for `create`.

    One pass, because PostgreSQL cannot estimate how few of a workspace's results a kind selects (it guessed 32
    of 24,179) and so reads every result for each query asked of them: 250 ms each at 100,000 batches."""
    kept_bodies.split_batches(results.exclude(WHOLE).order_by().values("batch_id"))
    retried = Exists(RequestInput.objects.filter(retry_of=OuterRef("pk")))
    kept = Exists(RequestInput.objects.filter(batch_id=OuterRef("batch_id"), custom_id=OuterRef("custom_id")))
    kind = Case(
        When(retried, then=Value("already_retried")),
        When(~kept, then=Value("missing")),
        When(retry_as_is_q(), then=Value("ready")),
        default=Value("needs_fix"),
    )
    rows = (
        results.exclude(WHOLE).annotate(kind=kind).order_by("batch_id", "custom_id")
        .values_list("pk", "batch_id", "batch__workspace_id", "kind")
    )  # fmt: skip
    counts = dict.fromkeys(("ready", "needs_fix", "missing", "already_retried"), 0)
    parents: dict[str, None] = {}
    missing_batches: dict[str, None] = {}
    first: dict[str, list[int]] = {"missing": [], "needs_fix": [], "already_retried": []}
    plan = RetryPlan(counts=counts)
    # Fetched whole, not by a server-side cursor: PostgreSQL plans a cursor for its first rows, a nested loop
    # over every result of the workspace (800 ms against 300 ms). Four small columns an item: a full plan (what
    # sending needs) holds a whole object and its inputs.
    for pk, batch_id, workspace_id, item_kind in rows:
        counts[item_kind] += 1
        parents[batch_id] = None
        plan.workspace_ids.add(workspace_id)
        if item_kind == "missing":
            missing_batches[batch_id] = None
        if item_kind in first and len(first[item_kind]) < (LOOKUP_CHUNK if item_kind == "already_retried" else SAMPLE):
            first[item_kind].append(pk)
    plan.selected = sum(counts.values())
    counts |= {"parents": len(parents), "missing_batches": len(missing_batches)}
    plan.parents = set(list(parents)[:PARENTS_SHOWN])
    plan.first_missing_batches = list(missing_batches)[:SAMPLE]
    plan.already_retried = [Result(pk=pk) for pk in first["already_retried"]]
    in_order = Result.objects.order_by("batch_id", "custom_id")
    if first["missing"]:
        plan.missing = list(in_order.filter(pk__in=first["missing"]))
    if first["needs_fix"]:
        to_fix = list(in_order.filter(pk__in=first["needs_fix"]).select_related("batch"))
        keys = Q()
        for r in to_fix:
            keys |= Q(batch_id=r.batch_id, custom_id=r.custom_id)
        inputs = {(i.batch_id, i.custom_id): i for i in RequestInput.objects.filter(keys)}
        plan.needs_fix = [(r, inputs[r.batch_id, r.custom_id]) for r in to_fix if (r.batch_id, r.custom_id) in inputs]
    return plan


def _inputs_and_retries(chunk: list[Result]) -> tuple[dict[tuple[str, str], RequestInput], set[int]]:
    batch_ids = {r.batch_id for r in chunk}
    custom_ids = {r.custom_id for r in chunk}
    inputs = RequestInput.objects.filter(batch_id__in=batch_ids, custom_id__in=custom_ids)
    by_key = {(i.batch_id, i.custom_id): i for i in inputs}
    retried = set(RequestInput.objects.filter(retry_of__in=[r.pk for r in chunk]).values_list("retry_of_id", flat=True))
    return by_key, retried


def create(
    plan: RetryPlan, user, *, overrides: dict[str, Any], edits: dict[str, dict], include_needs_fix: bool
) -> Made:
    """The child submission for this plan, handed to the worker; the same retry asked twice gives the
    first one. `edits` maps a result's pk (as a string) to the params to send instead of its kept ones."""
    if plan.counts is not None:
        raise ValueError("a preview holds only the first items: send a full plan")
    items = list(plan.ready)
    items += [(r, i) for r, i in plan.needs_fix if include_needs_fix or str(r.pk) in edits]
    if not items and (earlier := earlier_submission(plan)):
        return Made(earlier, created=False, queued=True)  # the same retry asked again once its items are out
    if not items:
        raise ValueError("nothing to retry: every selected item lacks its inputs or needs a fix first")
    parents = sorted(plan.parents)
    key = fingerprint("retry", sorted(r.pk for r, _ in items), json.dumps(overrides, sort_keys=True),
                      json.dumps(edits, sort_keys=True))  # fmt: skip
    workspace = items[0][0].batch.workspace
    # A retry goes as its parents went: their betas (beta-only params need them) and their user profile.
    betas = sorted({beta for r, _ in items for beta in r.batch.betas or []})
    profile = next((r.batch.user_profile_id for r, _ in items if r.batch.user_profile_id), "")
    label = f"Retry of {parents[0]}" if len(parents) == 1 else f"Retry of {len(parents)} batches"

    def build() -> Submission:
        submission = Submission.objects.create(
            workspace=workspace, kind=Submission.Kind.RETRY, label=label, created_by=user, fingerprint=key,
            request_count=len(items), parent_batch_id=parents[0] if len(parents) == 1 else None,
            confirmed_at=timezone.now(),  # the retry plan was its confirmation: sent at once
            betas=betas, user_profile_id=profile,
        )  # fmt: skip
        _store(submission, items, overrides, edits)
        return submission

    made = create_once(key, build)
    if made.created:
        # Items named as the pages name them (batch/custom_id), never by internal id.
        edited = sorted(f"{r.batch_id}/{r.custom_id}" for r, _ in items if str(r.pk) in edits)
        audit.record(user, "retry", label, params={
            "submission": made.submission.pk, "items": len(items), "parents": parents[:20], "overrides": overrides,
            "edited": edited, "included_needing_fix": include_needs_fix,
        })  # fmt: skip
    return made


def earlier_submission(plan: RetryPlan) -> Submission | None:
    """The latest retry that already sent some of the plan's items, if any did."""
    if not plan.already_retried:
        return None
    retried = [r.pk for r in plan.already_retried[:LOOKUP_CHUNK]]
    return Submission.objects.filter(parts__inputs__retry_of__in=retried).order_by("-created_at").first()


def _store(submission: Submission, items, overrides: dict[str, Any], edits: dict[str, dict]) -> None:
    """Split into parts by the upload's own splitter; each request keeps its links to what it retries."""
    splitter = uploads.Splitter()
    parts: list[SubmissionPart] = []
    used: set[str] = set()
    rows: list[RequestInput] = []
    for line, (result, original) in enumerate(items, start=1):
        params = edits.get(str(result.pk)) or original.unpack()
        if continues(result.result_type, result.stop_reason) and str(result.pk) not in edits:
            params = continuation(params, result)
        params = {**params, **overrides}
        if splitter.add(line, _request_bytes(result.custom_id, params)):
            parts.append(SubmissionPart.objects.create(submission=submission, index=len(parts), request_count=0))
            used = set()
        rows.append(RequestInput(part=parts[-1], custom_id=_unique(result.custom_id, used), line=line,
                                 params=RequestInput.pack(params), retry_of=result,
                                 root_id=original.root_id or result.pk))  # fmt: skip
        if len(rows) >= LOOKUP_CHUNK:
            RequestInput.objects.bulk_create(rows)
            rows = []
    RequestInput.objects.bulk_create(rows)
    for part, span in zip(parts, splitter.finish(), strict=True):
        part.request_count = span.request_count
    SubmissionPart.objects.bulk_update(parts, ["request_count"])


def continuation(params: dict[str, Any], result: Result) -> dict[str, Any]:
    """A paused turn's request, continued as the API documents: the same params, with the paused response's
    content appended as an assistant turn ("provide the response back as-is in a subsequent request")."""
    data = result_lines.load(result.raw_line()) or {}
    message = (data.get("result") or {}).get("message") or {}
    content = message.get("content") or []
    return {**params, "messages": [*params.get("messages", []), {"role": "assistant", "content": content}]}


def _request_bytes(custom_id: str, params: dict[str, Any]) -> int:
    """The request's size as sent, with room for the suffix `_unique` may give a shared custom_id."""
    return len(json.dumps({"custom_id": custom_id, "params": params}).encode()) + _SUFFIX_ROOM


def _unique(custom_id: str, used: set[str]) -> str:
    """Keep the item's custom_id; when two parents share one, suffix the second (its link is kept)."""
    candidate, n = custom_id, 1
    while candidate in used:
        n += 1
        candidate = f"{custom_id[:58]}-r{n}"
    used.add(candidate)
    return candidate


# --- reading the outcome ---------------------------------------------------------------------------
def kept_input(result: Result) -> RequestInput | None:
    """The request this result answers, when its inputs were kept (uploaded, retried or attached)."""
    return RequestInput.objects.filter(batch_id=result.batch_id, custom_id=result.custom_id).first()


_UNREAD = object()


def attempts(result: Result, own: RequestInput | None | object = _UNREAD) -> list[Result]:
    """Every attempt of this result's logical item, first to last: three queries, however many (two when its
    `kept_input` was read already)."""
    if own is _UNREAD:
        own = kept_input(result)
    assert own is None or isinstance(own, RequestInput)
    root_id = (own.root_id if own and own.root_id else None) or result.pk
    tries = RequestInput.objects.filter(root_id=root_id).exclude(batch=None).values_list("batch_id", "custom_id")
    match = Q(pk=root_id)
    for batch_id, custom_id in tries:
        match |= Q(batch_id=batch_id, custom_id=custom_id)
    found = Result.objects.filter(match).select_related("batch")
    return sorted(found, key=lambda r: r.batch.created_at)


def outcome(batch: Batch) -> dict[str, int]:
    """How the batch's logical items ended up, counting retries in child batches: 'done' only when
    every item finally succeeded."""
    # An incomplete answer (cut off, paused, refused) counts as failing until a retry gives a whole one.
    whole = batch.succeeded_count - batch.incomplete_count
    failed = batch.request_total - whole
    child_succeeded = Result.objects.filter(
        batch=OuterRef("batch"), custom_id=OuterRef("custom_id"), result_type=Result.Type.SUCCEEDED
    ).exclude(INCOMPLETE)
    recovered = (
        RequestInput.objects.filter(root__batch=batch).filter(Exists(child_succeeded)).values("root").distinct().count()
    )
    return {"items": batch.request_total, "succeeded": whole + recovered,
            "recovered": recovered, "still_failing": failed - recovered}  # fmt: skip
