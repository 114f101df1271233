"""Reconciliation end to end: the dashboard's costs beside the emulator's Cost Report, through the SDK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from batches.models import CostReportFetch, Price, ReportedCost, UsageRollup
from batches.services import pricing, reconcile, sync

ADMIN_KEY = "sk-ant-admin-test-0000000000000000000000"


@pytest.fixture
def admin_key(emulator, settings):
    emulator.add_admin_key(ADMIN_KEY)
    settings.ANTHROPIC_ADMIN_API_KEY = ADMIN_KEY
    settings.ANTHROPIC_ADMIN_BASE_URL = emulator.base_url
    return ADMIN_KEY


@pytest.fixture
def usage(emulator, workspace):
    """Two ended batches of two models, ingested and priced by the dashboard: two days ago, a day that was over when
    the report was fetched (today's is partial on Anthropic's side, and never a drift)."""
    key = workspace.test_api_key
    before = datetime.now(UTC) - timedelta(days=2)
    emulator.seed_batch(key, 60, status="ended", model="claude-haiku-4-5-20251001",
                        outcomes={"succeeded": 0.9, "api_error": 0.1}, created_at=before)  # fmt: skip
    emulator.seed_batch(key, 40, status="ended", model="claude-sonnet-4-5-20250929", created_at=before)
    sync.catch_up(workspace.pk)


def test_local_costs_match_anthropics_report_to_the_fraction_of_a_cent(usage, admin_key):
    fetch = reconcile.fetch()
    assert fetch.ok and fetch.rows == 2

    lines = reconcile.compare(*_range())
    assert [line.model for line in lines] == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    for line in lines:
        assert line.local == line.reported and line.local > 0
        assert line.difference == 0 and not line.flagged and line.drift_percent == "+0.00%"


def test_a_drift_over_one_percent_is_flagged(usage, admin_key, emulator):
    emulator.cost_drift = {"claude-haiku-4-5": Decimal("1.05")}
    reconcile.fetch()
    lines = {line.model: line for line in reconcile.compare(*_range())}
    haiku, sonnet = lines["claude-haiku-4-5"], lines["claude-sonnet-4-5"]
    assert haiku.flagged and haiku.drift_percent == "-4.76%"  # ours is 1/1.05 of theirs
    assert not sonnet.flagged


def test_a_wrong_local_rule_is_caught_and_named(usage, admin_key):
    # The emulator prices by its own rate cards; ours now reads Haiku 4.5's cache at $0.20 instead of $0.10.
    Price.objects.filter(family="claude-haiku-4-5").update(cache_read=Decimal("0.2"))
    pricing.reprice()
    reconcile.fetch()
    lines = {line.model: line for line in reconcile.compare(*_range())}
    haiku, sonnet = lines["claude-haiku-4-5"], lines["claude-sonnet-4-5"]
    assert haiku.flagged and haiku.rule.startswith("cache reads: ours $"), haiku.rule
    assert not sonnet.flagged and sonnet.rule == ""


def test_a_drift_of_half_a_percent_is_not_flagged(usage, admin_key, emulator):
    emulator.cost_drift = {"claude-haiku-4-5": Decimal("1.005")}
    reconcile.fetch()
    assert not any(line.flagged for line in reconcile.compare(*_range()))


def test_fetching_twice_keeps_one_row_per_day_and_model(usage, admin_key):
    reconcile.fetch()
    reconcile.fetch()
    assert ReportedCost.objects.count() == 2


def test_a_wrong_admin_key_is_recorded_not_raised(usage, admin_key, settings):
    settings.ANTHROPIC_ADMIN_API_KEY = "sk-ant-admin-wrong"
    fetch = reconcile.fetch()
    assert not fetch.ok and "authentication_error" in fetch.error
    assert CostReportFetch.objects.count() == 1 and not ReportedCost.objects.exists()


def test_without_an_admin_key_nothing_is_fetched(usage, settings):
    settings.ANTHROPIC_ADMIN_API_KEY = ""
    assert reconcile.fetch() is None


def test_the_page_shows_the_comparison_and_highlights_drift(client, make_user, usage, admin_key, emulator):
    emulator.cost_drift = {"claude-haiku-4-5": Decimal("1.05")}
    reconcile.fetch()
    client.force_login(make_user("lead", "Auditor"))
    body = client.get("/spend/reconcile/").content.decode()
    assert "claude-haiku-4-5" in body and "-4.76%" in body and 'class="flagged"' in body
    assert "<strong>1</strong> flagged" in body


def test_before_the_first_fetch_nothing_is_flagged_as_drift(client, make_user, usage, admin_key, emulator):
    """Issue 21, point 13: every row read as drift before Anthropic's report had been fetched at all."""
    client.force_login(make_user("lead", "Auditor"))
    body = client.get("/spend/reconcile/").content.decode()
    assert "claude-haiku-4-5" in body and "Not fetched yet" in body
    assert 'class="flagged"' not in body and "<strong>0</strong> flagged" in body

    emulator.cost_drift = {"claude-haiku-4-5": Decimal("1.05")}
    reconcile.fetch()  # now there is something to compare with: the drift shows
    assert 'class="flagged"' in client.get("/spend/reconcile/").content.decode()


def test_viewers_cannot_see_reconciliation(viewer_client):
    assert viewer_client.get("/spend/reconcile/").status_code == 403


def _range():
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.now().date()
    return today - timedelta(days=31), today + timedelta(days=1)


def test_calls_billed_apart_reconcile_and_leaving_them_out_is_caught(emulator, workspace, admin_key):
    # Beta features through the emulator (its own rules, under their headers): an Opus 4.8 advisor consulted by
    # a Sonnet 4.6 executor, a Haiku 5.5 prompt compacted first, and a Fable 5 refusal served by Opus 4.8. Each
    # call is billed at the model that ran it.
    advisor = {"type": "advisor_20260301", "name": "advisor", "model": "claude-opus-4-8"}
    compact = {"edits": [{"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 50_000}}]}
    requests = [
        {"custom_id": "adv", "params": {"model": "claude-sonnet-4-6", "max_tokens": 512, "tools": [advisor],
                                        "messages": [{"role": "user", "content": "plan"}]}},
        {"custom_id": "cmp", "params": {"model": "claude-haiku-5-5", "max_tokens": 512, "context_management": compact,
                                        "messages": [{"role": "user", "content": "word " * 41_000}]}},
        {"custom_id": "fb", "params": {"model": "claude-fable-5", "max_tokens": 512,
                                       "fallbacks": [{"model": "claude-opus-4-8"}],
                                       "messages": [{"role": "user", "content": "[emulate:succeeded:refusal] x"}]}},
    ]  # fmt: skip
    betas = ("advisor-tool-2026-03-01", "compact-2026-01-12", "server-side-fallback-2026-06-01")
    emulator.create_batch(workspace.test_api_key, requests, duration=60, betas=betas)
    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    assert reconcile.fetch().ok

    lines = {line.model: line for line in reconcile.compare(*_range())}
    assert set(lines) == {"claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-5-5", "claude-fable-5"}
    for line in lines.values():
        assert line.local == line.reported and line.local > 0 and not line.flagged

    UsageRollup.objects.exclude(iteration="").delete()  # a product that ignored usage.iterations
    lines = {line.model: line for line in reconcile.compare(*_range())}
    assert lines["claude-opus-4-8"].flagged and lines["claude-haiku-5-5"].flagged
    assert lines["claude-fable-5"].flagged  # the declined hop, billed at Fable 5
    assert not lines["claude-sonnet-4-6"].flagged  # the executor's own usage was right all along


def test_a_day_not_over_when_the_report_was_fetched_is_partial_not_drift(client, make_user, workspace, admin_key,
                                                                         emulator):  # fmt: skip
    """A browser walk found today's line flagged at +1261%: Anthropic's report had been fetched mid-day, ours had
    every batch that ended since. A day not over at the fetch is partial on Anthropic's side, and says so."""
    emulator.seed_batch(workspace.test_api_key, 40, status="ended", model="claude-sonnet-4-5-20250929")
    sync.catch_up(workspace.pk)
    reconcile.fetch()
    emulator.seed_batch(workspace.test_api_key, 40, status="ended", model="claude-sonnet-4-5-20250929")
    sync.catch_up(workspace.pk)  # ended after the fetch: ours has it, the report does not yet
    client.force_login(make_user("lead", "Auditor"))
    body = client.get("/spend/reconcile/").content.decode()
    assert "claude-sonnet-4-5" in body and "the day was not over when Anthropic" in body
    assert 'class="flagged"' not in body and "<strong>0</strong> flagged" in body
