"""The emulated API: its state and every operation the HTTP layer (server.py) calls; app.py serves it.
The HTTP layer only parses and formats; every rule of the API lives here or in state.py."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .costs import CostAggregates, cost_report, workspace_id
from .errors import EmulatorError, invalid, not_found
from .faults import OPS, Faults
from .models import resolve_alias
from .padding import TEXTS
from .plan import DEFAULT_MODEL, outcome_table
from .results import ResultsCache
from .state import EXPIRES_AFTER, Batch, Clock, Store, reached
from .util import digest, to_ts
from .validation import MAX_REQUESTS, attribute_profile, count_tokens, validate_requests

SEED_STATUSES = ("in_progress", "canceling", "ended")


class EmulatorCore:
    """The emulated API without its HTTP server (emulator/app.py serves it): state, clock, faults and every
    operation, called by the server's handlers and directly by tests."""

    def __init__(
        self,
        seed: int = 1,
        speed: float = 0.0,
        *,
        live_counts: bool = False,
        start_time: datetime | None = None,
        verbose: bool = False,
        id_salt: str = "",
    ) -> None:
        self.seed = seed
        self.clock = Clock(speed, to_ts(start_time))
        self.store = Store(seed, self.clock, id_salt)
        self.store.live_counts = live_counts
        self.faults = Faults()
        self.results_cache = ResultsCache(self.store)
        self.admin_keys: set[str] = set()  # Admin API keys: the cost report over every workspace
        self.cost_aggregates = CostAggregates(self.store)
        # Model family prefix -> multiplier of its reported cost (longest prefix wins), to test reconciliation.
        self.cost_drift: dict[str, Decimal] = {}
        self.not_found_after_create = 0.0  # emulated seconds of 404 on a fresh batch (SDK issue #1432)
        self.cancel_delay = 5.0  # emulated seconds from cancel to ended
        self.verbose = verbose
        self.tickers: list[Callable[[float], None]] = []  # scenario hooks run on every call (new batches)
        self._calls = dict.fromkeys(OPS, 0)
        self._calls_lock = threading.Lock()

    # -- clock and settings -------------------------------------------------------------------------
    @property
    def live_counts(self) -> bool:
        return self.store.live_counts

    @live_counts.setter
    def live_counts(self, value: bool) -> None:
        self.store.live_counts = value

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def add_workspace(self, api_key: str, name: str) -> None:
        self.store.add_workspace(api_key, name)

    def add_admin_key(self, api_key: str) -> None:
        """An Admin API key: it may read the cost report (all workspaces), and nothing else."""
        self.admin_keys.add(api_key)

    def workspace_id(self, api_key: str) -> str:
        """The tagged id (`wrkspc_...`) of a workspace key's workspace, as the cost report shows it."""
        return workspace_id(self._workspace(api_key))

    @property
    def calls(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls = dict.fromkeys(OPS, 0)

    def record_call(self, op: str) -> None:
        with self._calls_lock:
            self._calls[op] = self._calls.get(op, 0) + 1

    # -- Python-side creation -----------------------------------------------------------------------
    def create_batch(
        self,
        api_key: str,
        requests: list[dict[str, Any]],
        *,
        created_at: datetime | None = None,
        duration: float | None = None,
        betas: tuple[str, ...] = (),
    ) -> str:
        """Same validation as POST /v1/messages/batches (`betas`: its `anthropic-beta` values); raises
        EmulatorError like the API would answer."""
        return self.api_create(api_key, requests, created_at=created_at, duration=duration, betas=betas)["id"]

    def seed_batch(self, api_key: str, n_requests: int, **options: Any) -> str:
        """One batch of `n_requests` generated requests (custom_ids req-000000...), already in `status`;
        `options` as for seed_batches (status, created_at, duration, outcomes, line_bytes, text, model)."""
        return self.seed_batches(api_key, 1, n_requests=n_requests, **options)[0]

    def seed_batches(
        self,
        api_key: str,
        count: int,
        *,
        status: str = "ended",
        created_at: datetime | None = None,
        duration: float = 600,
        outcomes: dict[str, float] | None = None,
        line_bytes: int | None = None,
        text: str = "lorem",
        model: str = DEFAULT_MODEL,
        n_requests: int = 10,
        spacing: float = 60.0,
    ) -> list[str]:
        """Bulk seeding without payloads. Without created_at, batch k (0 = newest) is created k*spacing
        seconds before the default; the duration is stretched if needed so each batch has `status` now.
        `text` pads succeeded lines to `line_bytes`: "lorem" (repetitive) or "prose" (compresses as prose does)."""
        if status not in SEED_STATUSES:
            raise ValueError(f"status must be one of {SEED_STATUSES}")
        if text not in TEXTS:
            raise ValueError(f"text must be one of {TEXTS}")
        if not 1 <= n_requests <= MAX_REQUESTS:
            raise ValueError(f"n_requests must be between 1 and {MAX_REQUESTS}")
        workspace = self._workspace(api_key)
        table = outcome_table(outcomes)
        ids = []
        with self.store.lock:
            now = self.clock.now()
            base = to_ts(created_at)
            for k in range(count):
                if base is not None:
                    created = base
                else:
                    created = (now - duration if status == "ended" else now) - k * spacing
                batch = self._seeded(workspace, created, duration, n_requests, model, table, line_bytes, text)
                self._force_status(batch, status, now)
                self.store.insert(batch)
                ids.append(batch.id)
        return ids

    def new_seeded_batch(
        self,
        api_key: str,
        created: float,
        duration: float,
        n: int,
        model: str,
        table,
        line_bytes: int | None = None,
        text: str = "lorem",
    ) -> Batch:
        """A payload-less batch left to the state machine (not inserted; scenarios use this)."""
        return self._seeded(self._workspace(api_key), created, duration, n, model, table, line_bytes, text)

    def _seeded(self, workspace, created, duration, n, model, table, line_bytes, text) -> Batch:
        store = self.store
        return Batch(
            store.new_batch_id(),
            workspace,
            store.next_seq(),
            created,
            float(duration),
            n,
            # An alias resolves as the API would; any other name stays: a seeded batch may stand for a
            # past batch, run when its (now retired) model was served.
            resolve_alias(model),
            table,
            line_bytes=line_bytes,
            text=text,
            cancel_delay=self.cancel_delay,
        )

    @staticmethod
    def _force_status(batch: Batch, status: str, now: float) -> None:
        if status == "ended":
            if batch.created + batch.duration > now:
                batch.duration = max(0.0, now - batch.created)
            return
        if batch.created + EXPIRES_AFTER <= now:
            raise ValueError(f"a batch created more than 24 h ago cannot be {status}")
        if batch.created + batch.duration <= now:
            batch.duration += now - batch.created  # still running for `duration` from now
        if status == "canceling":
            batch.cancel_at = now

    def warm_results(self, batch_id: str) -> int:
        """Build and cache an ended batch's results body now (so a benchmark times only the client).
        Returns its size in bytes."""
        batch = self.store.batches[batch_id]
        return len(self.results_cache.get(batch))

    def delete_batch(self, batch_id: str) -> None:
        """As if deleted via the API: only an ended batch can be deleted."""
        batch = self.store.batches.get(batch_id)
        if batch is None or batch.deleted:
            raise not_found(batch_id)
        api_key = next(k for k, ws in self.store.keys.items() if ws == batch.workspace)
        self.api_delete(api_key, batch_id)

    # -- API operations (used by the HTTP layer) ----------------------------------------------------
    def _workspace(self, api_key: str | None) -> str:
        workspace = self.store.keys.get(api_key or "")
        if workspace is None:
            raise EmulatorError(401, "invalid x-api-key")
        return workspace

    def workspace_ids(self) -> dict[str, str]:
        """Tagged workspace id -> workspace name, of every workspace."""
        with self.store.lock:
            names = set(self.store.keys.values())
        return {workspace_id(name): name for name in names}

    def response_workspace(self, api_key: str | None, requested: str | None) -> str | None:
        """The `anthropic-workspace-id` a response carries: the workspace key's own workspace; for an Admin
        key the workspace it named, if that exists. None for an unknown key (nothing to name)."""
        workspace = self.store.keys.get(api_key or "")
        if workspace is not None:
            return workspace_id(workspace)
        if api_key in self.admin_keys and requested in self.workspace_ids():
            return requested
        return None

    def check_workspace(self, api_key: str | None, requested: str | None) -> None:
        """A request naming a workspace (`anthropic-workspace-id`) must name its key's own: 403 otherwise.
        An Admin key spans the organisation: it may name any of its workspaces."""
        if requested is None:
            return
        workspace = self.store.keys.get(api_key or "")
        if workspace is not None:
            if requested != workspace_id(workspace):
                raise EmulatorError(
                    403,
                    f"anthropic-workspace-id: the API key does not belong to workspace {requested!r}; a key "
                    "scoped to one workspace may omit the header, and if sent it must match that workspace.",
                )
        elif api_key in self.admin_keys and requested not in self.workspace_ids():
            raise EmulatorError(403, f"anthropic-workspace-id: workspace {requested!r} is not in this organization.")

    def _sync(self) -> float:
        now = self.clock.now()
        for tick in self.tickers:
            tick(now)
        return now

    def _batch(self, api_key: str | None, batch_id: str, *, fresh_404: bool = False) -> tuple[Batch, float]:
        workspace = self._workspace(api_key)
        now = self._sync()
        batch = self.store.get(workspace, batch_id)
        if batch is None:
            raise not_found(batch_id)
        if fresh_404 and batch.via_api and not reached(now, batch.created + self.not_found_after_create):
            raise not_found(batch_id)  # emulates the propagation delay seen right after create
        return batch, now

    def api_create(
        self,
        api_key: str | None,
        requests: Any,
        *,
        created_at=None,
        duration=None,
        betas: tuple[str, ...] = (),
        user_profile_id: str | None = None,
    ) -> dict[str, Any]:
        """`betas`: the create's `anthropic-beta` values; beta-only params are refused without one, as the API does.
        `user_profile_id`: its `anthropic-user-profile-id`; a request naming another profile ends errored."""
        workspace = self._workspace(api_key)
        items = attribute_profile(requests, validate_requests(requests, betas=tuple(betas)), user_profile_id)
        with self.store.lock:
            now = self._sync()
            created = to_ts(created_at) if created_at is not None else now
            batch_id = self.store.new_batch_id()
            if duration is None:  # a few minutes, the same for a given seed and batch id
                duration = random.Random(digest(self.seed, "duration", batch_id)).uniform(120, 600)
            batch = Batch(
                batch_id,
                workspace,
                self.store.next_seq(),
                created,
                float(duration),
                len(items),
                items[0].model,
                outcome_table(None),
                items=items,
                via_api=True,
                cancel_delay=self.cancel_delay,
            )
            self.store.insert(batch)
            return self.store.to_json(batch, now)

    def api_retrieve(self, api_key: str | None, batch_id: str) -> dict[str, Any]:
        with self.store.lock:
            batch, now = self._batch(api_key, batch_id, fresh_404=True)
            return self.store.to_json(batch, now)

    def api_list(self, api_key: str | None, limit: int, after_id: str | None, before_id: str | None):
        workspace = self._workspace(api_key)
        if not 1 <= limit <= 1000:
            raise invalid("limit: Input should be greater than or equal to 1 and less than or equal to 1000")
        if after_id and before_id:
            raise invalid("Only one of after_id and before_id may be given")
        with self.store.lock:
            now = self._sync()
            try:
                batches, has_more = self.store.page(workspace, limit, after_id, before_id)
            except KeyError as exc:
                raise invalid(f"Invalid pagination cursor: message batch {exc.args[0]} not found") from None
            data = [self.store.to_json(b, now) for b in batches]
        return {
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def api_cancel(self, api_key: str | None, batch_id: str) -> dict[str, Any]:
        with self.store.lock:
            batch, now = self._batch(api_key, batch_id)
            status = batch.status(now)
            if status == "ended":
                raise invalid(f"Message batch {batch_id} has already ended and can no longer be canceled.")
            if batch.cancel_at is None:
                batch.cancel_at = now
            return self.store.to_json(batch, now)

    def api_delete(self, api_key: str | None, batch_id: str) -> dict[str, Any]:
        with self.store.lock:
            batch, now = self._batch(api_key, batch_id)
            status = batch.status(now)
            if status != "ended":
                raise invalid(
                    f"Message batch {batch_id} cannot be deleted while it is {status}; cancel it and wait "
                    "for processing to end first."
                )
            self.store.delete(batch)
        self.results_cache.discard(batch_id)
        return {"id": batch_id, "type": "message_batch_deleted"}

    def api_count_tokens(self, api_key: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/messages/count_tokens (validation.count_tokens: how N relates to results' usage)."""
        self._workspace(api_key)
        return {"input_tokens": count_tokens(body)}

    def api_cost_report(self, api_key: str | None, query: dict[str, list[str]]) -> dict[str, Any]:
        """GET /v1/organizations/analytics/cost; `query` as parse_qs gives it (array params `name[]`)."""
        if api_key not in self.admin_keys:
            if api_key in self.store.keys:
                raise EmulatorError(
                    403,
                    "This endpoint requires an Admin API key (sk-ant-admin...); workspace API keys cannot "
                    "read the organization's cost report.",
                )
            raise EmulatorError(401, "invalid x-api-key")
        with self.store.lock:
            now = self._sync()
        return cost_report(self.store, self.cost_drift, self.cost_aggregates, query, now)

    def api_results(self, api_key: str | None, batch_id: str) -> bytes:
        with self.store.lock:
            batch, now = self._batch(api_key, batch_id, fresh_404=True)
            status = batch.status(now)
            if status != "ended":
                raise EmulatorError(
                    404,
                    f"Results for message batch {batch_id} are not available yet; its processing_status is {status}.",
                )
            if reached(now, batch.archived_at):
                self.results_cache.discard(batch_id)
                raise EmulatorError(
                    404,
                    f"Results for message batch {batch_id} are no longer available: "
                    "the batch was archived 29 days after creation.",
                )
        return self.results_cache.get(batch)
