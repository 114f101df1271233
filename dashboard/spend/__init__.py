"""Spend: what batches cost by period and group, next to standard prices and monthly budgets.

By concern: `formatting` (money as text, table cells), `figures` (usage summed from rollups),
`budgets` (this month against each workspace's budget), `report` (the filtered table) and `chart`
(its bars). Everything reads UsageRollup rows (summed per batch and model at ingest), and the report their
daily sums (DailyUsage), never Result rows, so a page costs the same few queries at a million items. Money is
summed as Decimal and rounded to the cent only when shown; usage whose model has no price is unpriced, never $0.
"""
