"""Usage summed per batch, model and price key at ingest, and what each sum costs.

Each request is put in its price key (rules.py) before summing: the prompt band is decided per
request in SQL, with each model's threshold of the batch's day, so a 150,000-token Haiku 5.5 request
is billed at the long rates even when the batch's other requests are short. Only succeeded results
are billed. The calls of `usage.iterations` billed apart (rules.billed_apart: a compaction, an advisor's
call) are summed in Python, from the few results that have them, into rows of the model that billed them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import astuple
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Case, CharField, Count, F, IntegerField, Q, QuerySet, Sum, Value, When

from batches.models import Batch, Result, UsageRollup, Workspace
from batches.services import versions
from batches.services.pricing import daily
from batches.services.pricing.book import PriceBook
from batches.services.pricing.rules import (
    KNOWN_ITERATIONS,
    LONG,
    Cost,
    PriceKey,
    Tokens,
    billed_apart,
    less,
    price_cost,
    prompt_band,
)  # fmt: skip

FREE = Cost(Decimal(0), Decimal(0), Decimal(0))


def usage_day(batch: Batch) -> date:
    """The UTC day a batch's usage is billed: the day its processing ended."""
    moment = batch.ended_at or batch.created_at
    return moment.astimezone(UTC).date()


# --- one result ----------------------------------------------------------------------------------------
def result_tokens(result: Any) -> Tokens:
    return Tokens(
        input=result.input_tokens,
        output=result.output_tokens,
        cache_write_5m=_five_minute(
            result.cache_creation_input_tokens,
            result.cache_creation_5m_input_tokens,
            result.cache_creation_1h_input_tokens,
        ),
        cache_write_1h=result.cache_creation_1h_input_tokens,
        cache_read=result.cache_read_input_tokens,
        web_searches=result.web_search_requests,
    )


def _five_minute(total: int, five: int, hour: int) -> int:
    # No split reported: the whole total is priced as 5-minute writes.
    return total if five + hour == 0 else five


def item_cost(result: Result, book: PriceBook | None = None) -> Cost | None:
    """What one result cost (None: unpriced). Only succeeded results cost anything."""
    if result.result_type != Result.Type.SUCCEEDED:
        return FREE  # without reading a price
    # Calls billed at other models (usage.iterations) need their prices too: then the whole book.
    book = book or (PriceBook() if result.iterations else PriceBook.for_model(result.model))
    return usage_cost(result, usage_day(result.batch), book)


def usage_cost(result: Any, day: date, book: PriceBook) -> Cost | None:
    """`item_cost` of anything with a Result's type, model and usage fields (a row read as values, for an export)."""
    if result.result_type != Result.Type.SUCCEEDED:
        return FREE
    apart, moved = billed_apart(result.iterations, result.model)
    calls = [(result.model, "", less(result_tokens(result), moved))]
    calls += [(call.model, call.type, call.tokens) for call in apart]
    total = FREE
    for model, kind, tokens in calls:
        cost = _call_cost(book.find(model, day), kind, tokens, result.inference_geo, result.speed)
        if cost is None:  # any part unpriced: the whole request is, never a partial sum
            return None
        total = Cost(total.cost + cost.cost, total.standard + cost.standard, total.uncached + cost.uncached)
    return total


def _call_cost(price, kind: str, tokens: Tokens, geo: str, speed: str) -> Cost | None:
    if price is None or (kind and kind not in KNOWN_ITERATIONS):
        return None
    return price_cost(tokens, price, PriceKey(prompt_band(price, tokens.prompt), geo, speed))


# --- rollups -------------------------------------------------------------------------------------------
_FIVE_MINUTE = Case(
    When(cache_creation_5m_input_tokens=0, cache_creation_1h_input_tokens=0, then=F("cache_creation_input_tokens")),
    default=F("cache_creation_5m_input_tokens"),
    output_field=IntegerField(),
)
_PROMPT = F("input_tokens") + _FIVE_MINUTE + F("cache_creation_1h_input_tokens") + F("cache_read_input_tokens")


def _band_expression(models: list[str], book: PriceBook, day: date) -> Case | Value:
    whens = []
    for model in models:
        price = book.find(model, day)
        if price is not None and price.long_prompt_over is not None:
            whens.append(When(Q(model=model) & Q(prompt__gt=price.long_prompt_over), then=Value(LONG)))
    return Case(*whens, default=Value(""), output_field=CharField()) if whens else Value("")


ROLL_UP_CHUNK = 2000  # batches summed by one query (and kept under SQLite's variable limit)


def roll_up(batch: Batch, book: PriceBook | None = None, *, seen: Any = None) -> None:
    """Replace the batch's usage rows by a fresh sum of its succeeded results: idempotent. `seen`: what the run
    that stored every one of its rows saw of them (result_writer.Counts), so they are not read for it again."""
    _roll_up_together([batch], usage_day(batch), book or PriceBook(), {batch.pk: seen} if seen else None)


def roll_up_many(batches: list[Batch], book: PriceBook | None = None, *, seen: dict[str, Any] | None = None) -> None:
    """`roll_up` of each of these batches, those billed on the same day summed together (as roll_up_all)."""
    book = book or PriceBook()
    by_day: dict[date, list[Batch]] = defaultdict(list)
    for batch in batches:
        by_day[usage_day(batch)].append(batch)
    for day, group in sorted(by_day.items()):
        for start in range(0, len(group), ROLL_UP_CHUNK):
            _roll_up_together(group[start : start + ROLL_UP_CHUNK], day, book, seen)


def roll_up_all(batches: QuerySet[Batch], book: PriceBook | None = None) -> int:
    """`roll_up` of every batch in `batches`, in set-based queries: the batches billed on the same day share a
    prompt band rule, so up to ROLL_UP_CHUNK of them are summed by one query (six a chunk, where one batch
    at a time took six a batch: 980 s at 100,000 batches). Returns how many batches were summed."""
    book = book or PriceBook()
    by_day: dict[date, list[Batch]] = defaultdict(list)
    fields = ("id", "workspace_id", "submitted_by_id", "user_profile_id", "ended_at", "created_at")
    for batch in batches.only(*fields).order_by("pk").iterator(chunk_size=5000):
        by_day[usage_day(batch)].append(batch)
    for day, group in sorted(by_day.items()):
        for start in range(0, len(group), ROLL_UP_CHUNK):
            _roll_up_together(group[start : start + ROLL_UP_CHUNK], day, book)
    # Every cost a page shows may have moved.
    versions.bump_many(Workspace.objects.values_list("pk", flat=True))
    return sum(len(group) for group in by_day.values())


def _roll_up_together(batches: list[Batch], day: date, book: PriceBook, seen: dict[str, Any] | None = None) -> None:
    """Replace the usage rows of these batches, all billed on `day`, by fresh sums of their succeeded results.
    `seen`: by batch id, the models and the number of results with calls billed apart that the run storing all
    of the batch's rows counted (result_writer.Counts); with it for every batch, neither is read from the rows
    again (two scans of every row: 80-100 ms of a 100,000-result ingest)."""
    by_id = {batch.pk: batch for batch in batches}
    succeeded = Result.objects.filter(batch_id__in=list(by_id), result_type=Result.Type.SUCCEEDED)
    counted = [seen.get(pk) for pk in by_id] if seen else []
    if counted and all(counted):
        models = sorted(set().union(*(each.models for each in counted)))
        iterations = any(each.with_iterations for each in counted)
    else:
        models = list(succeeded.values_list("model", flat=True).distinct().order_by())
        iterations = True
    sums = (
        succeeded.annotate(prompt=_PROMPT)
        .annotate(prompt_band=_band_expression(models, book, day))
        .values("batch_id", "model", "prompt_band", "inference_geo", "speed")
        .annotate(
            requests=Count("id"), input_tokens=Sum("input_tokens"), output_tokens=Sum("output_tokens"),
            cache_write_5m_tokens=Sum(_FIVE_MINUTE), cache_write_1h_tokens=Sum("cache_creation_1h_input_tokens"),
            cache_read_tokens=Sum("cache_read_input_tokens"), web_search_requests=Sum("web_search_requests"),
        )
        .order_by()
    )  # fmt: skip
    rows = [_new_row(by_id[row.pop("batch_id")], day, **row) for row in sums]
    if iterations:
        rows = _with_iterations(rows, succeeded, book, day, by_id)
    rows = [_priced(row, book) for row in rows]
    keys = {(row.batch_id, *_key(row)) for row in rows}
    kept = UsageRollup.objects.filter(batch_id__in=list(by_id))
    with transaction.atomic():
        columns = ("pk", "day", "batch_id", "model", "prompt_band", "inference_geo", "speed", "iteration")
        kept_rows = list(kept.values_list(*columns))
        stale = [pk for pk, _, *key in kept_rows if tuple(key) not in keys]
        UsageRollup.objects.filter(pk__in=stale).delete()
        # An upsert, so two runs finishing the same batch at once agree instead of colliding.
        UsageRollup.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=_KEY_FIELDS, update_fields=_ROLLUP_FIELDS
        )
        # The report's daily sums of this day (and of any day these batches were billed on before).
        daily.refresh({day, *(row[1] for row in kept_rows)})


def _new_row(batch: Batch, day: date, **fields: Any) -> UsageRollup:
    return UsageRollup(batch_id=batch.pk, workspace_id=batch.workspace_id, submitter_id=batch.submitted_by_id,
                       user_profile_id=batch.user_profile_id, day=day, **fields)  # fmt: skip


def _with_iterations(
    rows: list[UsageRollup], succeeded, book: PriceBook, day: date, by_id: dict[str, Batch]
) -> list[UsageRollup]:
    """The rows with the calls billed apart added, each in a row of the model that billed it (and its own
    prompt band), and taken out of the request's own row when the top-level usage held them."""
    by_key = {(row.batch_id, *_key(row)): row for row in rows}
    counted: set[tuple] = set()
    fields = ["pk", "batch_id", "model", "inference_geo", "speed", "iterations", *_TOKEN_COLUMNS]
    for values in succeeded.exclude(iterations="").values(*fields).iterator():
        result = _Values(values)
        apart, moved = billed_apart(result.iterations, result.model)
        if any(astuple(moved)):
            own = result_tokens(result)
            price = book.find(result.model, day)
            band = prompt_band(price, own.prompt) if price else ""
            row = by_key[(result.batch_id, result.model, band, result.inference_geo, result.speed, "")]
            # Its own calls are banded by their own prompt (as item_cost does), not the top level's, which
            # holds the other model's: the request may move to another band's row.
            kept = less(own, moved)
            kept_band = prompt_band(price, kept.prompt) if price else ""
            if kept_band == band:
                _add(row, moved, -1)
            else:
                _add(row, own, -1)
                row.requests -= 1
                key = (result.batch_id, result.model, kept_band, result.inference_geo, result.speed, "")
                if key not in by_key:
                    by_key[key] = _new_row(
                        by_id[result.batch_id], day, model=result.model, prompt_band=kept_band,
                        inference_geo=result.inference_geo, speed=result.speed, requests=0,
                        **dict.fromkeys(_ROLLUP_TOKENS, 0),
                    )  # fmt: skip
                by_key[key].requests += 1
                _add(by_key[key], kept, 1)
        for call in apart:
            price = book.find(call.model, day)
            band = prompt_band(price, call.tokens.prompt) if price else ""
            key = (result.batch_id, call.model, band, result.inference_geo, result.speed, call.type)
            row = by_key.get(key)
            if row is None:
                row = by_key[key] = _new_row(
                    by_id[result.batch_id], day, model=call.model, prompt_band=band, inference_geo=result.inference_geo,
                    speed=result.speed, iteration=call.type, requests=0, **dict.fromkeys(_ROLLUP_TOKENS, 0),
                )  # fmt: skip
            if (key, result.pk) not in counted:  # requests: how many had such a call here
                counted.add((key, result.pk))
                row.requests += 1
            _add(row, call.tokens, 1)
    # A request's own row left with none of its requests (each moved to the other band) is no row.
    return [row for row in by_key.values() if row.requests or row.iteration]


class _Values:
    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


_TOKEN_COLUMNS = [
    "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens", "cache_read_input_tokens", "web_search_requests",
]  # fmt: skip
_ROLLUP_TOKENS = ["input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                  "cache_read_tokens", "web_search_requests"]  # fmt: skip


def _add(row: UsageRollup, tokens: Tokens, sign: int) -> None:
    for name, n in zip(_ROLLUP_TOKENS, astuple(tokens), strict=True):
        setattr(row, name, max(getattr(row, name) + sign * n, 0))


_KEY_FIELDS = ["batch", "model", "prompt_band", "inference_geo", "speed", "iteration"]
_ROLLUP_FIELDS = [
    "workspace", "submitter", "user_profile_id", "day", "requests", "input_tokens", "output_tokens",
    "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens", "web_search_requests", "price", "cost",
    "standard_cost", "uncached_cost",
]  # fmt: skip


def _key(row: UsageRollup) -> tuple[str, str, str, str, str]:
    return (row.model, row.prompt_band, row.inference_geo, row.speed, row.iteration)


def rollup_tokens(row: UsageRollup) -> Tokens:
    return Tokens(row.input_tokens, row.output_tokens, row.cache_write_5m_tokens, row.cache_write_1h_tokens,
                  row.cache_read_tokens, row.web_search_requests)  # fmt: skip


def _priced(row: UsageRollup, book: PriceBook) -> UsageRollup:
    known = not row.iteration or row.iteration in KNOWN_ITERATIONS  # an unknown call type: unpriced
    price = book.find(row.model, row.day) if known else None
    cost = (
        price_cost(rollup_tokens(row), price, PriceKey(row.prompt_band, row.inference_geo, row.speed))
        if price
        else None
    )
    row.price = price if cost is not None else None
    if cost is None:  # counted as unpriced, never as zero
        row.cost = row.standard_cost = row.uncached_cost = None
    else:
        row.cost, row.standard_cost, row.uncached_cost = cost.cost, cost.standard, cost.uncached
    return row


def reprice(since: date | None = None) -> int:
    """Price usage rows again with the current price table (after an edit in the admin or a refresh).

    `since`: only the days from the earliest date an edit touched; earlier days keep their prices.
    Rows hold token sums, so this touches thousands of rows, not the millions of results. A row's
    band was decided at ingest with the threshold of its day; a changed threshold needs
    `manage.py roll_up_spend`.
    """
    book = PriceBook()
    changed = 0
    rows = UsageRollup.objects.all().order_by("pk")
    if since is not None:
        rows = rows.filter(day__gte=since)
    for start in range(0, rows.count(), 2000):
        chunk = [_priced(row, book) for row in rows[start : start + 2000]]
        UsageRollup.objects.bulk_update(chunk, ["price", "cost", "standard_cost", "uncached_cost"])
        changed += len(chunk)
    daily.refresh_since(since)
    versions.bump_many(Workspace.objects.values_list("pk", flat=True))  # every cost shown may have moved
    return changed
