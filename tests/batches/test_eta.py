"""The ETA band of a running batch, from its workspace's own history (batches/services/eta.py), without a browser.

Expected bands are worked out by hand below each test's history: p50 and p90 by linear interpolation between
the closest ranks, as numpy's default does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batches.models import Batch, Workspace
from batches.services.eta import eta, model_family, size_class

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
HAIKU, SONNET = "claude-haiku-4-5-20251001", "claude-sonnet-4-5"


@pytest.fixture
def ws(db) -> Workspace:
    return Workspace.objects.create(name="acme", api_key_encrypted="x", api_key_hint="…")


def _ended(ws, n: int, minutes: float, *, requests: int = 200, model: str = HAIKU, **fields) -> Batch:
    created = NOW - timedelta(days=1, hours=n)
    return Batch.objects.create(
        id=f"msgbatch_past{n:03d}", workspace=ws, processing_status="ended", request_total=requests, model=model,
        created_at=created, expires_at=created + timedelta(hours=24), ended_at=created + timedelta(minutes=minutes),
        **fields,
    )  # fmt: skip


def _running(ws, *, ran: timedelta = timedelta(minutes=2), requests: int = 200, model: str = HAIKU, **fields):
    return Batch.objects.create(
        id="msgbatch_now", workspace=ws, processing_status=fields.pop("processing_status", "in_progress"),
        request_total=requests, model=model, created_at=NOW - ran, expires_at=NOW - ran + timedelta(hours=24),
        **fields,
    )  # fmt: skip


def test_size_classes_and_model_families():
    assert [size_class(n) for n in (1, 9, 10, 200, 999, 1000)] == [(1, 9), (1, 9), (10, 99), (100, 999),
                                                                    (100, 999), (1000, 9999)]  # fmt: skip
    assert model_family("claude-haiku-4-5-20251001") == model_family("claude-haiku-4-5") == "claude-haiku-4-5"


def test_the_band_is_p50_to_p90_of_similar_batches_and_what_is_left_from_now(ws):
    for n, minutes in enumerate([3, 4, 5, 3, 4]):  # sorted: 3, 3, 4, 4, 5
        _ended(ws, n, minutes)
    shown = eta(_running(ws, ran=timedelta(minutes=2)), NOW)
    # p50: rank 0.5*4 = 2 -> 4 min. p90: rank 0.9*4 = 3.6 -> 4 + 0.6*(5-4) = 4.6 min = 4 min 36 s.
    assert shown.band.p50 == timedelta(minutes=4) and shown.band.p90 == timedelta(minutes=4, seconds=36)
    assert shown.band.samples == 5 and shown.band.same_model
    assert shown.left == (timedelta(minutes=2), timedelta(minutes=2, seconds=36))
    assert shown.elapsed == timedelta(minutes=2) and not shown.late
    assert shown.left_before_expiry == timedelta(hours=23, minutes=58)


def test_a_200_request_batch_is_not_judged_by_big_or_canceled_or_other_workspaces_batches(ws):
    """Issue 21 saw "1 h 43 min to 12 h 55 min" for a batch that took 3 minutes like its peers."""
    for n, minutes in enumerate([3, 3, 3, 3, 5]):
        _ended(ws, n, minutes)
    _ended(ws, 10, 775, requests=50_000)  # another size class
    _ended(ws, 11, 600, cancel_initiated_at=NOW - timedelta(days=1))  # someone gave up: not a duration
    other = Workspace.objects.create(name="other", api_key_encrypted="x", api_key_hint="…")
    _ended(other, 12, 700)
    shown = eta(_running(ws), NOW)
    # sorted 3, 3, 3, 3, 5: p50 = 3 min; p90 rank 3.6 -> 3 + 0.6*2 = 4.2 min = 4 min 12 s
    assert (shown.band.p50, shown.band.p90, shown.band.samples) == (
        timedelta(minutes=3),
        timedelta(minutes=4, seconds=12),
        5,
    )


def test_with_too_few_of_its_model_the_band_takes_any_model_of_the_size_and_says_so(ws):
    _ended(ws, 0, 10)  # one haiku batch: fewer than five
    for n, minutes in enumerate([20, 30, 40, 50], start=1):
        _ended(ws, n, minutes, model=SONNET)
    shown = eta(_running(ws), NOW)
    # any model: 10, 20, 30, 40, 50 -> p50 30 min; p90 rank 3.6 -> 40 + 0.6*10 = 46 min
    assert shown.band.p50 == timedelta(minutes=30) and shown.band.p90 == timedelta(minutes=46)
    assert not shown.band.same_model


def test_past_the_p90_it_is_late_and_nothing_is_left_below_zero(ws):
    for n in range(5):
        _ended(ws, n, 3)
    shown = eta(_running(ws, ran=timedelta(minutes=10)), NOW)
    assert shown.late and shown.left == (timedelta(0), timedelta(0))


def test_no_history_gives_no_band_but_still_the_time_to_expiry(ws):
    shown = eta(_running(ws, ran=timedelta(hours=1)), NOW)
    assert shown.band is None and shown.left is None and not shown.late
    assert shown.left_before_expiry == timedelta(hours=23)


@pytest.mark.parametrize(
    "state",
    [
        {"processing_status": "canceling"},
        {"cancel_requested_at": NOW},  # asked on a page, not yet told to the API
        {"gone_from_api_at": NOW},  # deleted in the API while running (issue 21, point 9)
        {"processing_status": "ended", "ended_at": NOW},
    ],
)
def test_no_eta_for_a_batch_that_will_not_run_to_its_end(ws, state):
    for n in range(5):
        _ended(ws, n, 3)
    assert eta(_running(ws, **state), NOW) is None
