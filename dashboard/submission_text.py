"""How a submission's page reads: each sentence is chosen here, so the template only places it.

The estimate's figures come from batches/services/estimates.py (`Preview`, `BudgetOutlook`); the money, share
and token-range formats from dashboard/templatetags/estimate_tags.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Count
from django.utils.html import format_html
from django.utils.safestring import SafeString

from batches.models import Submission
from batches.services.estimates import BudgetOutlook, Preview
from dashboard.templatetags.estimate_tags import approx, money, share, token_range
from dashboard.wording import counted


@dataclass(frozen=True)
class Budget:
    css: str  # "message error", "message warning" or ""
    alert: bool
    sentence: str


@dataclass(frozen=True)
class Listed:
    """A submission as one line of the submissions list."""

    submission: Submission
    title: str
    state: str  # a CSS class as well: draft, sending, sent, failed, discarded
    state_text: str
    batch_ids: list[str]


def listed(submission: Submission) -> Listed:
    parts = list(submission.parts.all())  # prefetched
    batch_ids = [p.batch_id for p in sorted(parts, key=lambda p: p.index) if p.batch_id]
    if submission.discarded_at:
        state, said = "discarded", "Discarded"
    elif submission.is_draft:
        state, said = "draft", "Draft: not sent"
    elif any(p.status == p.Status.FAILED or p.status == p.Status.AMBIGUOUS for p in parts):
        stuck = sum(p.status in (p.Status.FAILED, p.Status.AMBIGUOUS) for p in parts)
        state, said = "failed", f"{counted(stuck, 'part')} of {len(parts)} not sent: see why"
    elif any(p.in_flight for p in parts):
        state, said = "sending", f"Sending: {len(batch_ids)} of {counted(len(parts), 'batch', 'batches')} made"
    else:
        state, said = "sent", f"Sent as {counted(len(batch_ids), 'batch', 'batches')}"
    return Listed(submission, title(submission), state, said, batch_ids)


def state_tabs(form: Any, submissions: Any, params: Any) -> list[dict[str, Any]]:
    """All, Drafts, Sent, Discarded, each with its count under the other filters: one query."""
    counts = submissions.aggregate(
        all=Count("pk"), **{key: Count("pk", filter=q) for key, (_, q) in form.STATES.items()}
    )
    current = params.get("state", "")
    tabs = [("", "All")] + [(key, label) for key, (label, _) in form.STATES.items()]
    return [
        {"label": label, "count": counts[key or "all"], "current": key == current,
         "query": _with(params, key)}
        for key, label in tabs
    ]  # fmt: skip


def _with(params: Any, state: str) -> str:
    query = params.copy()
    query.pop("page", None)
    query.pop("state", None)
    if state:
        query["state"] = state
    return query.urlencode()


def title(submission: Submission) -> str:
    kind = "Retry" if submission.kind == Submission.Kind.RETRY else "Draft" if submission.is_draft else "Submission"
    return f"{kind} {submission.pk}"


def advice(submission: Submission) -> str:
    """Why a missing estimate stops nothing."""
    done = "the draft can still be sent." if submission.is_draft else "the submission was sent without it."
    return f"The estimate is advice, not a gate: {done}"


def sending(submission: Submission, batches: int) -> str:
    limit = " (the API takes at most 100,000 requests or 256 MB in one)" if batches > 1 else ""
    return f"sending makes {counted(batches, 'batch', 'batches')}{limit}."


def send_button(submission: Submission, batches: int) -> str:
    return f"Send {counted(submission.request_count, 'request')} as {counted(batches, 'batch', 'batches')}"


def method(p: Preview) -> SafeString:
    """How the input tokens were found: all counted, or a sample scaled up."""
    if p.exact:
        what = "the one request" if p.requests == 1 else f"all {intcomma(p.requests)} requests"
        return format_html(
            "Counted {} with the API's token counting: <strong>{}</strong>, exactly.",
            what, counted(p.input_tokens, "input token"),
        )  # fmt: skip
    by = {frozenset({"size", "count"}): " by their size or their number", frozenset({"size"}):
          " by their size (messages, system and tools)", frozenset({"count"}): " by their number"}  # fmt: skip
    return format_html(
        "Counted {} of {} requests with the API's token counting (a seeded random sample of each model's requests), "
        "then scaled up to all {}{}: estimated <strong>{} input tokens</strong> (about {}; a 95% range from the "
        "sample's spread).",
        intcomma(p.counted), intcomma(p.requests), intcomma(p.requests), by.get(frozenset(p.scaled), ""),
        token_range(p.low, p.high), approx(p.input_tokens),
    )  # fmt: skip


def budget(submission: Submission, b: BudgetOutlook, *, may_see_spend: bool) -> Budget:
    """Where sending would take the workspace's month, at the estimate's low end and at its ceiling."""
    name = submission.workspace.name
    so_far = f"This month so far: {share(b.used_now)}"
    if may_see_spend:
        so_far += f" ({money(b.spent)} of {money(b.amount)})"
    if not submission.is_draft:  # sent: what it "would" do is history; the month's figure is what is true now
        return Budget("", False, f"{so_far}.")
    low, high = share(b.used_low), share(b.used_high)
    both = low if low == high else f"{low}–{high}"
    if b.level_now == "over":
        text = f"Over budget already: {name} is past 100% of its monthly budget, and this would take it to {both}."
    elif b.level_low == "over":
        text = f"Over budget: even at its low end this takes {name} past 100% of its monthly budget, to {low}."
    elif b.level_high == "over":
        near = f"; even at its low end past 80%, to {low}" if b.level_low == "near" else ""
        text = f"At its ceiling this would take {name} past 100% of its monthly budget, to {high}{near}."
    elif b.level_low == "near":
        text = f"Even at its low end this takes {name} past 80% of its monthly budget, to {low} (at most {high})."
    elif b.level_high == "near":
        text = f"At its ceiling this would take {name} past 80% of its monthly budget, to {high}."
    else:
        text = f"Within budget: {name} would be at {high} of its monthly budget at most."
    css = ("message error" if b.level_low == "over" else "message warning") if b.warns else ""
    return Budget(css, b.warns, f"{text} {so_far}.")
