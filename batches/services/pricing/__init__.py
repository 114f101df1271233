"""Costs in Decimal at the prices in force on the day of use, each request by its own rules.

rules.py   how one request is billed (price key, bands, geo, speed, fees, batch discount)
book.py    the dated prices and the explicit model -> family mapping
rollup.py  usage summed per batch, model and price key at ingest; repricing
daily.py   those rows summed again per day, workspace, submitter, profile and model: what the spend report reads
"""

from batches.services.pricing.book import PriceBook
from batches.services.pricing.rollup import (
    item_cost,
    reprice,
    result_tokens,
    roll_up,
    roll_up_all,
    roll_up_many,
    usage_cost,
    usage_day,
)
from batches.services.pricing.rules import Cost, PriceKey, Tokens, cost_parts, price_cost, prompt_band

__all__ = [
    "Cost", "PriceBook", "PriceKey", "Tokens", "cost_parts", "item_cost", "price_cost", "prompt_band", "reprice",
    "result_tokens", "roll_up", "roll_up_all", "roll_up_many", "usage_cost", "usage_day",
]  # fmt: skip
