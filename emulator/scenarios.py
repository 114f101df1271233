"""Seedable starting states. `demo` gives a dashboard something to show in every state, and keeps
creating batches while it runs so new ones appear.

The demo runs at wall-clock speed (`--speed 1`) with request_counts as production shows them (all
`processing` until a batch ends): it stays lively through short batches, not a fast clock. At start a few
batches are in progress and end within minutes; a new one appears every 1-2 minutes and runs 2-10
minutes. No batch is ever created in the future of the emulated clock."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from .content import ALL_BLOCKS, STOP_REASONS
from .plan import ERROR_TYPES, outcome_table
from .state import DAY, EXPIRES_AFTER
from .util import digest

if TYPE_CHECKING:
    from .core import EmulatorCore

DEMO_API_KEY = "sk-ant-demo-000000000000000000000000"
DEMO_ADMIN_KEY = "sk-ant-admin-demo-00000000000000000000"  # reads the cost report
# Current models only (SDK 2.17.0's list, none deprecated), aliases where there is one: results then show
# the dated id (claude-haiku-4-5 -> claude-haiku-4-5-20251001). All three are in pricing.py.
DEMO_MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7")
OUTCOME_MIXES: tuple[dict[str, float] | None, ...] = (
    None,  # the default: 97% succeeded, 3% errored
    {"succeeded": 1.0},
    {"succeeded": 0.8, "errored": 0.2},
    {"succeeded": 0.9, "overloaded_error": 0.06, "api_error": 0.04},
    {"succeeded": 0.7, "invalid_request_error": 0.3},
    {"succeeded": 0.85, "rate_limit_error": 0.05, "expired": 0.1},
)
HOUR, MINUTE = 3600.0, 60.0
NEW_BATCH_EVERY = (1 * MINUTE, 2 * MINUTE)  # time between batches the demo "submits" while running (uniform)
NEW_BATCH_DURATION = (2 * MINUTE, 10 * MINUTE)  # how long each of them runs (uniform)


def apply_scenario(emu: EmulatorCore, name: str) -> None:
    if name == "empty":
        return
    if name == "demo":
        _demo(emu)
        return
    raise ValueError(f"unknown scenario {name!r}; use 'empty' or 'demo'")


def _demo(emu: EmulatorCore) -> None:
    emu.add_workspace(DEMO_API_KEY, "demo")
    emu.add_admin_key(DEMO_ADMIN_KEY)
    rng = random.Random(digest(emu.seed, "demo"))
    now = emu.clock.now()

    def seed(created: float, duration: float, **kwargs) -> str:
        return emu.seed_batch(
            DEMO_API_KEY,
            kwargs.pop("n", rng.choice((5, 20, 50, 120, 400, 1500))),
            created_at=created,
            duration=duration,
            model=kwargs.pop("model", rng.choice(DEMO_MODELS)),
            outcomes=kwargs.pop("outcomes", rng.choice(OUTCOME_MIXES)),
            **kwargs,
        )

    for _ in range(4):  # archived: results no longer downloadable
        seed(now - rng.uniform(30, 60) * DAY, rng.uniform(10 * MINUTE, 6 * HOUR))
    for _ in range(3):  # results expire within 1-3 days
        seed(now - rng.uniform(26, 28) * DAY, rng.uniform(10 * MINUTE, 6 * HOUR))
    for _ in range(20):  # ended with assorted outcome mixes over the last 25 days
        seed(now - rng.uniform(1 * HOUR, 25 * DAY), rng.uniform(5 * MINUTE, 3 * HOUR), status="ended")
    _every_error_type(emu, now - 2 * DAY)
    # Ended by a cancel halfway through: the unfinished half is canceled.
    canceled = emu.store.batches[seed(now - 6 * HOUR, HOUR, n=400)]
    canceled.duration, canceled.cancel_at = 4 * HOUR, canceled.created + 2 * HOUR
    seed(now - 3 * DAY, 30 * HOUR, n=300)  # ran past expires_at: the rest expired
    for _ in range(5):  # in progress, ending within the first minutes
        started = now - rng.uniform(1 * MINUTE, 30 * MINUTE)
        seed(started, (now - started) + rng.uniform(0.5 * MINUTE, 6 * MINUTE), status="in_progress")
    started = now - rng.uniform(10 * MINUTE, 1 * HOUR)  # and a longer one, ending within the hour
    seed(started, (now - started) + rng.uniform(20 * MINUTE, 50 * MINUTE), status="in_progress", n=1500)
    seed(now - 23.75 * HOUR, 30 * HOUR, status="in_progress", n=800)  # will expire in 15 minutes
    for _ in range(2):  # canceling for a few minutes before they end
        batch = emu.store.batches[seed(now - rng.uniform(5, 60) * MINUTE, 3 * HOUR, status="canceling")]
        batch.cancel_delay = rng.uniform(2, 8) * MINUTE
    emu.tickers.append(_NewBatches(emu, now))


def _every_error_type(emu: EmulatorCore, created: float) -> None:
    """One batch whose results include each of the nine error types, each stop reason of the pinned SDK and one answer
    of every content block type (forced with markers)."""
    requests = [
        {
            "custom_id": f"{kind}-{i}",
            "params": {
                "model": DEMO_MODELS[i % len(DEMO_MODELS)],
                "max_tokens": 1024,
                "messages": [{"role": "user", "content": f"[emulate:{marker}] Question {i}"}],
            },
        }
        for i, (kind, marker) in enumerate(
            [("succeeded", "succeeded")] * 6
            + [(e.replace("_", "-"), f"errored:{e}") for e in ERROR_TYPES]
            + [(s.replace("_", "-"), f"succeeded:{s}") for s in (*STOP_REASONS, ALL_BLOCKS)]
        )
    ]
    emu.create_batch(DEMO_API_KEY, requests, created_at=created, duration=HOUR)


class _NewBatches:
    """Ticker: materialises a batch every NEW_BATCH_EVERY (1-2 minutes), created at that moment (never
    later than the clock), each running NEW_BATCH_DURATION (2-10 minutes)."""

    def __init__(self, emu: EmulatorCore, start: float) -> None:
        self.emu = emu
        self.k = 0
        self.next_at = start + self._gap()

    def _gap(self) -> float:
        return random.Random(digest(self.emu.seed, "demo-gap", self.k)).uniform(*NEW_BATCH_EVERY)

    def __call__(self, now: float) -> None:
        # After a big advance() only the last day is filled in, so one call never creates thousands.
        self.next_at = max(self.next_at, now - EXPIRES_AFTER)
        created = 0
        while self.next_at <= now and created < 50:
            rng = random.Random(digest(self.emu.seed, "demo-new", self.k))
            batch = self.emu.new_seeded_batch(
                DEMO_API_KEY,
                self.next_at,
                rng.uniform(*NEW_BATCH_DURATION),
                rng.choice((10, 50, 200, 1000)),
                rng.choice(DEMO_MODELS),
                outcome_table(rng.choice(OUTCOME_MIXES)),
            )
            self.emu.store.insert(batch)
            self.k += 1
            self.next_at += self._gap()
            created += 1
