"""The usage rows of each day summed again per workspace, submitter, user profile and model (DailyUsage): the rows
the spend report reads. A day's sums are rebuilt from its usage rows, in the transaction that wrote them, so they
never disagree with them for longer than that transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection, transaction

# A day's usage rows, grouped; the requests of usage.iterations rows (calls billed apart) are not requests.
SUMMED = """
    SELECT day, workspace_id, submitter_id, user_profile_id, model,
           SUM(CASE WHEN iteration = '' THEN requests ELSE 0 END), SUM(input_tokens), SUM(output_tokens),
           SUM(cache_write_5m_tokens + cache_write_1h_tokens), SUM(cache_read_tokens),
           SUM(cost), SUM(standard_cost), SUM(uncached_cost),
           SUM(CASE WHEN cost IS NULL THEN requests ELSE 0 END)
    FROM batches_usagerollup WHERE {where}
    GROUP BY day, workspace_id, submitter_id, user_profile_id, model
"""
INSERT = """
    INSERT INTO batches_dailyusage (day, workspace_id, submitter_id, user_profile_id, model, requests, input_tokens,
        output_tokens, cache_write_tokens, cache_read_tokens, cost, standard_cost, uncached_cost, unpriced)
"""
# Two writers rebuilding the same day at once would each insert its sums: one waits for the other's commit.
LOCK = "SELECT pg_advisory_xact_lock(hashtext('batches_dailyusage'))"


def refresh(days: Iterable[date]) -> None:
    """Rebuild the daily sums of these days from their usage rows (three queries whatever the number)."""
    days = sorted(set(days))
    if days:
        _rebuild("day IN ({})".format(", ".join(["%s"] * len(days))), days)


def refresh_since(since: date | None) -> None:
    """Rebuild the daily sums of every day from `since` (all of them if None): after a reprice."""
    _rebuild("day >= %s", [since]) if since is not None else _rebuild("1 = 1", [])


def _rebuild(where: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(LOCK)
        cursor.execute(f"DELETE FROM batches_dailyusage WHERE {where}", params)
        cursor.execute(INSERT + SUMMED.format(where=where), params)
