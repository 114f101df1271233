"""The cost report: `GET /v1/organizations/analytics/cost` (SDK: `client.beta.organization.analytics.cost.list`).

What it charges: the succeeded items of ended batches, each priced on its own by `pricing.py` (its context
window tier, inference_geo, speed, web searches, the `usage.iterations` billed apart) at the batch tier, on
the UTC day its batch's processing ended. An ended batch never changes, so its cost parts per model are
computed once and kept (`CostAggregates`). Rows group by model, workspace_id, service_tier, context_window,
inference_geo, speed, cost_type and token_type, as the API's do; `requests` is null when grouped by cost_type
or token_type. A call billed apart (an advisor's) adds to its model's cost, not to its requests.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from . import pricing
from .errors import invalid
from .results import succeeded_usage
from .state import DAY, Batch, Store, reached
from .util import base62, digest, rfc3339

HOUR = 3600.0
MAX_SPAN = 31 * DAY  # "The range may span at most 31 days."
GROUP_BY = (
    "model", "workspace_id", "service_tier", "context_window", "inference_geo", "speed", "cost_type", "token_type",
)  # supported; any other documented value -> 400  # fmt: skip
# The dimensions a part of a cost carries (pricing.Part), in the order of a row's key after the model.
PART_DIMS = ("context_window", "inference_geo", "speed", "cost_type", "token_type")
SERVICE_TIERS = ("batch", "flex", "flex_discount", "priority", "priority_on_demand", "standard")
# Documented filters the emulator cannot honour: sending one is a 400 rather than a silently wrong report.
UNSUPPORTED_FILTERS = (
    "actor_ids", "actor_types", "agent_ids", "api_key_ids", "claude_tag_categories", "claude_tag_user_ids",
    "context_windows", "deployment_ids", "environment_ids", "inference_geos", "organization_ids", "products",
    "rbac_group_ids", "session_ids", "slack_channel_ids", "speeds", "user_profile_ids",
)  # fmt: skip


def workspace_id(name: str) -> str:
    """A workspace's tagged id: stable for its name (not the seed), like a real workspace's."""
    return "wrkspc_" + base62(digest("workspace", name), 24)


# Per model: {(context_window, inference_geo, speed, cost_type, token_type): cents} and
# {(context_window, inference_geo, speed): requests}.
ModelCost = tuple[dict[tuple, Decimal], dict[tuple, int]]


class CostAggregates:
    """Per ended batch: (ended_at, {model: ModelCost}). Built once, on the first report that needs it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._done: dict[str, tuple[float, dict[str, ModelCost]]] = {}

    def get(self, batch: Batch) -> tuple[float, dict[str, ModelCost]]:
        with self._lock:  # one builder at a time: a report asks for many batches, each built only once
            cached = self._done.get(batch.id)
            if cached is None:
                ended_at = batch.end_info()[0]
                cached = (ended_at, _priced(succeeded_usage(self._store, batch), ended_at))
                self._done[batch.id] = cached
            return cached

    def __len__(self) -> int:
        return len(self._done)


def _priced(items: list[pricing.Item], ended_at: float) -> dict[str, ModelCost]:
    day = datetime.fromtimestamp(ended_at, UTC).date()
    per_model: dict[str, ModelCost] = {}
    for item in items:
        parts = pricing.item_parts(item, day)
        if parts is None:
            continue  # no price: costs nothing, reported in no row
        cents, requests = per_model.setdefault(item.model, ({}, {}))
        for part in parts:
            key = part[:5]
            cents[key] = cents.get(key, Decimal(0)) + part.cents
        window = parts[0].context_window if parts else pricing.SHORT
        req_key = (window, item.inference_geo, item.speed)
        requests[req_key] = requests.get(req_key, 0) + 1
        for model, tokens in item.apart:  # billed at the model that ran it; not a request of that model
            apart = pricing.item_parts(pricing.Item(model, tokens, item.inference_geo, item.speed), day)
            model_cents, _ = per_model.setdefault(model, ({}, {}))
            for part in apart or ():  # no price: costs nothing, like any unpriced model
                model_cents[part[:5]] = model_cents.get(part[:5], Decimal(0)) + part.cents
    return per_model


def day_start(ts: float) -> float:
    return ts - ts % DAY


# -- query parsing ----------------------------------------------------------------------------------------
def _values(query: Mapping[str, list[str]], name: str) -> list[str] | None:
    """An array parameter, sent by the SDK as `name[]=a&name[]=b` (plain `name=` is accepted too)."""
    if f"{name}[]" not in query and name not in query:
        return None
    return [*query.get(f"{name}[]", []), *query.get(name, [])]


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _timestamp(value: str, name: str) -> float:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(f"{name}: Input should be a valid RFC 3339 datetime, got {value!r}") from None
    if parsed.tzinfo is None:
        raise invalid(f"{name}: Input should have a timezone (RFC 3339 tz-aware), got {value!r}")
    return parsed.timestamp()


@dataclass(frozen=True)
class CostQuery:
    starting_at: float
    ending_at: float
    bucketed: bool  # time_bucket_width="1d"; otherwise one row per group over the whole range
    group_by: tuple[str, ...]
    service_tiers: frozenset[str] | None
    models: frozenset[str] | None
    workspace_ids: frozenset[str] | None
    limit: int
    order_by: str
    descending: bool


def parse_query(query: Mapping[str, list[str]], now: float) -> CostQuery:
    for name in UNSUPPORTED_FILTERS:
        if _values(query, name):
            supported = "models, service_tiers, workspace_ids"
            raise invalid(f"{name}: this filter is not supported by the emulator (supported: {supported})")
    raw_start = _one(query, "starting_at")
    if not raw_start:
        raise invalid("starting_at: Field required")
    start = _timestamp(raw_start, "starting_at")
    raw_end = _one(query, "ending_at")
    width = _one(query, "time_bucket_width")
    if width is not None and width != "1d":
        raise invalid(f"time_bucket_width: the emulator supports only '1d' (or no bucketing), got {width!r}")
    if width and not raw_end:
        raise invalid("ending_at: Field required when time_bucket_width is set")
    end = _timestamp(raw_end, "ending_at") if raw_end else min(now, start + MAX_SPAN)
    if end <= start:
        raise invalid("ending_at must be after starting_at")
    if end - start > MAX_SPAN:
        raise invalid("The range from starting_at to ending_at may span at most 31 days")
    if width:  # whole UTC days covering the range
        start, end = day_start(start), -day_start(-end)
    else:  # the range in whole hours, each end rounded down
        start, end = start - start % HOUR, end - end % HOUR
        if end <= start:
            raise invalid("The range must cover at least one whole hour when time_bucket_width is not set")

    group_by = _values(query, "group_by") or []
    for name in group_by:
        if name not in GROUP_BY:
            raise invalid(f"group_by: the emulator supports only {', '.join(GROUP_BY)}, got {name!r}")
    tiers = _values(query, "service_tiers")
    for tier in tiers or ():
        if tier not in SERVICE_TIERS:
            raise invalid(f"service_tiers: Input should be one of {', '.join(SERVICE_TIERS)}, got {tier!r}")
    models, workspaces = _values(query, "models"), _values(query, "workspace_ids")

    raw_limit = _one(query, "limit") or "20"
    try:
        limit = int(raw_limit)
    except ValueError:
        raise invalid("limit: Input should be a valid integer") from None
    if not 1 <= limit <= 1000:
        raise invalid("limit: Input should be greater than or equal to 1 and less than or equal to 1000")
    order_by = _one(query, "order_by") or "amount"
    if order_by not in ("amount", "list_amount", "time"):
        raise invalid(f"order_by: Input should be 'amount', 'list_amount' or 'time', got {order_by!r}")
    order = _one(query, "order") or "desc"
    if order not in ("asc", "desc"):
        raise invalid(f"order: Input should be 'asc' or 'desc', got {order!r}")
    return CostQuery(
        start,
        end,
        bool(width),
        tuple(dict.fromkeys(group_by)),
        None if tiers is None else frozenset(tiers),
        None if models is None else frozenset(models),
        None if workspaces is None else frozenset(workspaces),
        limit,
        order_by if width or order_by != "time" else "amount",  # `time` needs buckets
        order == "desc",
    )


# -- page cursor --------------------------------------------------------------------------------------------
def _encode_page(offset: int, as_of: float) -> str:
    raw = json.dumps({"offset": offset, "as_of": as_of}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page(page: str) -> tuple[int, float]:
    try:
        data = json.loads(base64.urlsafe_b64decode(page + "=" * (-len(page) % 4)))
        offset, as_of = int(data["offset"]), float(data["as_of"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid(f"page: invalid page cursor {page!r}") from None
    if offset < 0:
        raise invalid(f"page: invalid page cursor {page!r}")
    return offset, as_of


# -- the report ---------------------------------------------------------------------------------------------
def _drift(drift: Mapping[str, Any], model: str) -> Decimal:
    value = pricing.lookup(drift, model)
    if value is None:
        return Decimal(1)
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"cost_drift for {model!r} is not a number: {value!r}") from None


def cost_rows(
    store: Store, drift: Mapping[str, Decimal], aggregates: CostAggregates, q: CostQuery, as_of: float
) -> list[dict[str, Any]]:
    """Every row of the report, in report order (before paging). Usage counts once its batch has ended
    at or before `as_of`, the moment the first page was computed (so later pages stay consistent)."""
    with store.lock:  # ended by `as_of` and within the range; end_info() is cheap, token totals are not
        batches = [
            b
            for b in store.batches.values()
            if reached(as_of, end := b.end_info()[0]) and q.starting_at <= end < q.ending_at
        ]
    tier = pricing.BATCH_TIER
    if q.service_tiers is not None and tier not in q.service_tiers:
        return []
    drift = dict(drift)
    ws_ids: dict[str, str] = {}
    dims = [i for i, name in enumerate(PART_DIMS) if name in q.group_by]
    per_part = "cost_type" in q.group_by or "token_type" in q.group_by  # requests have no part to go with
    # (bucket start, model family, workspace id, tier, *dimensions) -> [amount, list amount, requests]
    sums: dict[tuple, list] = {}
    for batch in batches:
        if batch.workspace not in ws_ids:
            ws_ids[batch.workspace] = workspace_id(batch.workspace)
        ws = ws_ids[batch.workspace]
        if q.workspace_ids is not None and ws not in q.workspace_ids:
            continue
        ended_at, per_model = aggregates.get(batch)
        for model, (cents, requests) in per_model.items():
            fam = pricing.family(model)
            if q.models is not None and fam not in q.models and model not in q.models:
                continue
            factor = _drift(drift, model)
            head = (
                day_start(ended_at) if q.bucketed else q.starting_at,
                fam if "model" in q.group_by else None,
                ws if "workspace_id" in q.group_by else None,
                tier if "service_tier" in q.group_by else None,
            )
            for part, value in cents.items():
                key = head + tuple(part[i] if i in dims else None for i in range(len(PART_DIMS)))
                acc = sums.setdefault(key, [Decimal(0), Decimal(0), None if per_part else 0])
                acc[1] += value * factor
                acc[0] += value * factor * pricing.NEGOTIATED_FACTOR
            if per_part:
                continue
            for part, n in requests.items():
                key = head + tuple(part[i] if i in dims and i < 3 else None for i in range(len(PART_DIMS)))
                sums.setdefault(key, [Decimal(0), Decimal(0), 0])[2] += n
    ordered = sorted(sums.items(), key=lambda kv: _sort_key(kv, q))
    return [_row(key, acc, q) for key, acc in ordered]


def _sort_key(kv, q: CostQuery):
    key, (amount, list_amount, _) = kv
    bucket = key[0]
    metric = list_amount if q.order_by == "list_amount" else amount
    sign = -1 if q.descending else 1
    tie = tuple(v or "" for v in key[1:])
    if q.order_by == "time":  # buckets in `order`, then highest amount first within a bucket
        return (sign * bucket, -amount, tie)
    return (sign * metric, bucket, tie)


def _row(key, acc, q: CostQuery) -> dict[str, Any]:
    bucket, model, ws, tier, *dims = key
    amount, list_amount, requests = acc
    return {
        "starting_at": rfc3339(bucket),
        "ending_at": rfc3339(bucket + DAY if q.bucketed else q.ending_at),
        "group": {"model": model, "workspace_id": ws, "service_tier": tier, **dict(zip(PART_DIMS, dims, strict=True))},
        "cost": {
            "amount": pricing.cents_str(amount),
            "list_amount": pricing.cents_str(list_amount),
            "currency": "USD",
            "requests": requests,
        },
    }


def cost_report(
    store: Store, drift: Mapping[str, Decimal], aggregates: CostAggregates, query: Mapping[str, list[str]], now: float
) -> dict[str, Any]:
    q = parse_query(query, now)
    page = _one(query, "page")
    offset, as_of = _decode_page(page) if page else (0, now)
    rows = cost_rows(store, drift, aggregates, q, as_of)
    data = rows[offset : offset + q.limit]
    has_more = offset + q.limit < len(rows)
    return {
        "data": data,
        "has_more": has_more,
        "next_page": _encode_page(offset + q.limit, as_of) if has_more else None,
        "data_refreshed_at": rfc3339(as_of),
    }
