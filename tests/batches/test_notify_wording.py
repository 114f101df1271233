"""How notifications read (issue 21, point 15): "ended" said once, subjects cut at a word, times as people read
them, money in cents as the pages show it, and no "250 ok" for mail that went nowhere."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batches.models import EventKind, NotificationEvent, Workspace
from batches.services.notify import deliver, render


def _event(kind: str, data: dict, batch_id: str = "msgbatch_01abc") -> NotificationEvent:
    return NotificationEvent(kind=kind, workspace=Workspace(id=1, name="default"), batch_id=batch_id, data=data)


def test_a_batch_end_says_ended_once_with_its_cost_in_cents():
    event = _event(EventKind.BATCH_ENDED, {
        "request_counts": {"succeeded": 190, "errored": 10}, "cost_usd": "1.0137", "results": "kept",
    })  # fmt: skip
    subject, _, _ = render.email([event])
    assert subject == "[Batch dashboard] Batch ended: msgbatch_01abc in default: 190 succeeded, 10 errored, $1.01"
    assert subject.count("ended") == 1


def test_a_batch_deleted_in_the_api_while_running_is_not_said_to_have_ended():
    event = _event(EventKind.BATCH_ENDED, {
        "request_counts": {"processing": 200, "succeeded": 0}, "total_requests": 200, "results": "gone",
    })  # fmt: skip
    subject, _, _ = render.email([event])
    assert subject == (
        "[Batch dashboard] Batch deleted in the API: msgbatch_01abc in default: deleted before it ended, with 200 "
        "requests; its results are gone"
    )
    assert "processing" not in subject and "ended:" not in subject


def test_a_batch_deleted_after_it_ended_says_its_results_were_never_kept():
    event = _event(EventKind.BATCH_ENDED, {"request_counts": {"succeeded": 4}, "results": "gone"})
    assert render.title(event) == "Batch ended"
    assert render.summary(event) == (
        "msgbatch_01abc in default: 4 succeeded (deleted in the API before its results were kept)"
    )


def test_a_long_subject_is_cut_at_a_word_and_marked():
    event = _event(EventKind.BATCH_ERRORS_HIGH, {
        "errored_share": "0.5", "request_counts": {"errored": 100},
        "top_errors": [{"error_type": f"invalid_request_error_{i}", "count": 10} for i in range(12)],
    })  # fmt: skip
    subject, _, _ = render.email([event])
    assert len(subject) <= 200 and subject.endswith("…")
    assert subject[:-1].split()[-1] in render.summary(event).replace(",", " ").split()  # a whole word before "…"


def test_times_in_subjects_read_as_minutes_in_utc_without_microseconds():
    event = _event(EventKind.SYNC_FAILING, {
        "failing_since": "2026-12-04T17:05:31.123456+00:00", "error_type": "overloaded_error", "message": "busy",
    }, batch_id="")  # fmt: skip
    assert render.summary(event) == "default: sync failing since 2026-12-04 17:05 UTC: overloaded_error — busy"


def test_budget_figures_in_cents():
    event = _event(EventKind.BUDGET_WARNING, {
        "spent_usd": "80.1234", "budget_usd": "100", "month": "2026-12", "used": "0.801234",
    }, batch_id="")  # fmt: skip
    assert render.summary(event) == "default: $80.12 of $100.00 spent in 2026-12 (80%)"
    assert render.payload(event)["data"]["spent_usd"] == "80.1234"  # code gets the exact figure


@pytest.mark.parametrize(
    ("backend", "status", "note"),
    [
        ("django.core.mail.backends.console.EmailBackend", None, "not sent: EMAIL_URL names the console backend"),
        ("django.core.mail.backends.locmem.EmailBackend", None, "not sent: EMAIL_URL names the locmem backend"),
    ],
)
def test_mail_the_backend_sends_nowhere_is_not_reported_250_ok(settings, backend, status, note):
    settings.EMAIL_BACKEND = backend
    outcome = deliver.email(["ops@example.com"], "subject", "text", "<p>html</p>")
    assert outcome.ok and outcome.status_code == status and outcome.error == note


def test_amounts_show_cents_and_thousands():
    assert render._usd(Decimal("0.004")) == "$0.00" and render._usd("1234.5") == "$1,234.50"
