"""The one seam to the Message Batches API: the only module that imports `anthropic`.

One function per remote call. Each returns plain data and raises only the domain errors of
batches/errors.py, so nothing SDK-shaped leaks into services, tasks or views.

Retries are ours, not the SDK's: the SDK would sleep through any `retry-after` (up to 49 days, as of
2.15.0) inside a worker. We retry short waits here and hand long ones back to the caller. What the API
says about retrying wins: a documented permanent code (`error.details.error_code`, e.g. a spend limit,
CODED_ERRORS) is permanent, then `x-should-retry` decides as the SDK lets it, then a documented transient
code (`storage_not_ready`: "try again in a minute"), then the status, which is also the rule of a code this
table does not know; the wait is `retry-after-ms`, then `retry-after` as seconds or an HTTP date.

Each workspace is its own client: its key and its base URL, blank meaning the real API, never the
process's `ANTHROPIC_BASE_URL`; the process's `ANTHROPIC_CUSTOM_HEADERS` are never sent.
"""

from __future__ import annotations

import email.utils
import functools
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar, get_args

import anthropic
import httpcore2._sync.http11
import httpx2
from anthropic.types.anthropic_beta_param import AnthropicBetaParam
from anthropic.types.beta.message_create_params import MessageCreateParamsNonStreaming as BetaParams
from anthropic.types.message_count_tokens_params import MessageCountTokensParams
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.messages.batch_create_params import Request as _BatchRequest
from django.conf import settings

from batches.errors import (
    APIError,
    NotFoundAPIError,
    PermanentAPIError,
    ResultsUnavailableError,
    RetryableAPIError,
)
from batches.models import REQUEST_COUNTS, ApiRequestCount, Credentials

T = TypeVar("T")

# Each read from an API connection takes up to 1 MB of what has arrived, not httpcore's 64 KB: a results stream on a
# fast link comes in a sixteenth of the reads, and each read is a trip through httpcore and h11 (and, in the
# pass-through, Django and gunicorn). The pass-through streamed the emulator's 117 MB in 0.136-0.146 s so, against
# 0.169-0.182 s (two servers side by side, docs/api.md). A read returns at once with what is there: a short answer
# waits no longer. Over TLS a read returns one record (16 KB) at most, so the API's own streams are read as before.
httpcore2._sync.http11.HTTP11Connection.READ_NUM_BYTES = 1 << 20

RETRYABLE_STATUSES = {408, 409, 429}  # and every status >= 500, as the SDK itself decides


def _sdk_error_codes() -> frozenset[str]:
    """Every `error.details.error_code` the pinned SDK's shared error types name (2.17: 21 of them)."""
    from typing import get_args

    codes = set()
    for name in dir(anthropic.types.shared):
        if name.endswith("ErrorDetails"):
            annotation = getattr(getattr(anthropic.types.shared, name), "__annotations__", {}).get("error_code")
            codes.update(code for code in get_args(annotation) if isinstance(code, str))
    return frozenset(codes)


# Each code the SDK knows, by whether waiting can help: the SDK's own description of each says "retry" for the
# transient ones and asks someone to act for the rest. A code not here (a newer API) follows its status's rule.
TRANSIENT_CODES = frozenset({"storage_not_ready", "cmek_context_unavailable", "cmek_key_unreachable",
                             "ramp_limit_exceeded"})  # fmt: skip
CODED_ERRORS: dict[str, bool] = {code: code in TRANSIENT_CODES for code in _sdk_error_codes()}  # code -> retryable
CREATE_TIMEOUT_SECONDS = 600
DEFAULT_BASE_URL = "https://api.anthropic.com"  # what a workspace with no base URL talks to
# What the API accepts in one request of a batch and in its params, from the SDK's own types: the API
# refuses any other field ("Extra inputs are not permitted"), so an upload is checked against these.
REQUEST_FIELDS = frozenset(_BatchRequest.__required_keys__ | _BatchRequest.__optional_keys__)
PARAMS_FIELDS = frozenset(
    MessageCreateParamsNonStreaming.__required_keys__ | MessageCreateParamsNonStreaming.__optional_keys__
)
# The beta params type (what the beta batches endpoint takes, under the `anthropic-beta` values they need), less
# `betas` itself, which is a header; the fields only it takes (context_management, mcp_servers, fallbacks...).
BETA_PARAMS_FIELDS = frozenset((BetaParams.__required_keys__ | BetaParams.__optional_keys__) - {"betas"})
BETA_ONLY_FIELDS = BETA_PARAMS_FIELDS - PARAMS_FIELDS
# The `anthropic-beta` values the pinned SDK names (its `AnthropicBetaParam` literal; the API may take newer ones).
KNOWN_BETAS = frozenset(code for arg in get_args(AnthropicBetaParam) for code in get_args(arg) if isinstance(code, str))
# What token counting takes of a request's params: the API refuses the rest, max_tokens included.
COUNT_TOKENS_FIELDS = frozenset(MessageCountTokensParams.__required_keys__ | MessageCountTokensParams.__optional_keys__)


@dataclass(frozen=True)
class RemoteBatch:
    """A `MessageBatch` as the API reported it."""

    id: str
    processing_status: str
    request_counts: dict[str, int]
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    cancel_initiated_at: datetime | None
    archived_at: datetime | None
    results_url: str | None


@dataclass(frozen=True)
class BatchPage:
    batches: list[RemoteBatch]
    has_more: bool
    last_id: str | None


# --- public calls ------------------------------------------------------------------------------
def list_batches(creds: Credentials, *, limit: int = 100, after_id: str | None = None) -> BatchPage:
    """One page of the workspace's batches, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if after_id:
        params["after_id"] = after_id
    page = _call(lambda: _client(creds).messages.batches.list(**params), endpoint="batches.list")
    batches = [_remote_batch(b) for b in page.data]
    return BatchPage(batches=batches, has_more=bool(page.has_more), last_id=page.last_id)


def retrieve_batch(creds: Credentials, batch_id: str) -> RemoteBatch:
    return _remote_batch(_call(lambda: _client(creds).messages.batches.retrieve(batch_id), endpoint="batches.retrieve"))


def cancel_batch(creds: Credentials, batch_id: str) -> RemoteBatch:
    return _remote_batch(_call(lambda: _client(creds).messages.batches.cancel(batch_id), endpoint="batches.cancel"))


def create_batch(
    creds: Credentials, requests: list[dict[str, Any]], *, betas: list[str] | tuple[str, ...] = (),
    user_profile_id: str = "",
) -> RemoteBatch:  # fmt: skip
    """A batch of these requests; with `betas`, through the beta batches endpoint under those `anthropic-beta`
    values (beta-only params need them); with `user_profile_id`, attributed to that user profile."""
    # No retry here: the API takes no idempotency key, so a retried create can make two batches.
    # Callers that retry must first look for the batch they may already have made.
    # Up to 256 MB goes up in one request: allow it longer than an ordinary call.
    kwargs: dict[str, Any] = {"requests": requests, "timeout": CREATE_TIMEOUT_SECONDS}
    if user_profile_id:
        kwargs["user_profile_id"] = user_profile_id
    if betas:
        create = functools.partial(_client(creds).beta.messages.batches.create, betas=list(betas))
    else:
        create = _client(creds).messages.batches.create
    return _remote_batch(_call(lambda: create(**kwargs), endpoint="batches.create", retries=0))


def count_tokens(creds: Credentials, params: dict[str, Any]) -> int:
    """The input tokens of one request's params, by the API's token counting (nothing is run or billed).

    The request's own params, less the fields count_tokens does not take (max_tokens, temperature...).
    """
    counted = {key: value for key, value in params.items() if key in COUNT_TOKENS_FIELDS}
    return _call(lambda: _client(creds).messages.count_tokens(**counted), endpoint="messages.count_tokens").input_tokens


@dataclass(frozen=True)
class ReportedCostRow:
    day: date
    model: str
    amount: Decimal  # USD
    requests: int | None


@dataclass(frozen=True)
class ReportedCostPartRow:
    day: date
    model: str
    inference_geo: str
    context_window: str
    part: str  # the token_type, or the cost_type of a fee ("web_search")
    amount: Decimal  # USD


PART_GROUPS = ["model", "inference_geo", "context_window", "cost_type", "token_type"]


def cost_report_parts(creds: Credentials, start: date, end: date) -> list[ReportedCostPartRow]:
    """The same report broken down by the dimensions prices vary on, to trace a drift to its rule."""
    analytics = _client(creds).beta.organization.analytics.cost
    start_at, end_at = (datetime(d.year, d.month, d.day, tzinfo=UTC) for d in (start, end))
    page = _call(lambda: analytics.list(
        starting_at=start_at, ending_at=end_at, group_by=PART_GROUPS, time_bucket_width="1d",
        service_tiers=["batch"], limit=1000,
    ), endpoint="cost_report")  # fmt: skip
    rows: list[ReportedCostPartRow] = []
    while True:
        for item in page.data:
            g = item.group
            rows.append(ReportedCostPartRow(
                day=item.starting_at.astimezone(UTC).date(), model=g.model or "", inference_geo=g.inference_geo or "",
                context_window=g.context_window or "", part=g.token_type or g.cost_type or "",
                amount=Decimal(item.cost.amount) / 100,
            ))  # fmt: skip
        if not page.has_next_page():
            return rows
        page = _call(page.get_next_page, endpoint="cost_report")


def cost_report(creds: Credentials, start: date, end: date) -> list[ReportedCostRow]:
    """Anthropic's own cost of the batch service tier per UTC day and model, [start, end).

    Needs an Admin (or read:analytics) key. Amounts arrive as decimal strings in cents.
    """
    analytics = _client(creds).beta.organization.analytics.cost
    start_at, end_at = (datetime(d.year, d.month, d.day, tzinfo=UTC) for d in (start, end))
    page = _call(lambda: analytics.list(
        starting_at=start_at, ending_at=end_at, group_by=["model"], time_bucket_width="1d", service_tiers=["batch"],
        limit=1000,
    ), endpoint="cost_report")  # fmt: skip
    rows: list[ReportedCostRow] = []
    while True:
        for item in page.data:
            rows.append(ReportedCostRow(
                day=item.starting_at.astimezone(UTC).date(), model=item.group.model or "",
                amount=Decimal(item.cost.amount) / 100, requests=item.cost.requests,
            ))  # fmt: skip
        if not page.has_next_page():
            return rows
        page = _call(page.get_next_page, endpoint="cost_report")


@contextmanager
def stream_results(
    creds: Credentials, batch_id: str, *, results_url: str = "", chunk_size: int = 1 << 16
) -> Iterator[Iterator[bytes]]:
    """Yield an iterator over the raw result lines (bytes, without the newline), streamed.

    With the batch's `results_url` (from the list or a retrieve) it is one call: the SDK's `results()`
    would retrieve the batch first to learn it. The URL is used as the SDK uses it, relative to the
    workspace's base URL or absolute. Raw lines rather than the SDK's parsed objects: the ingest parses
    each line once with `json.loads`, keeps the exact bytes, and skips the per-line model construction.
    """
    client = _client(creds)  # held for the whole stream: a collected client closes its connection
    with ExitStack() as stack:
        try:
            if results_url:
                headers = {"Accept": "application/binary"}
                get = functools.partial(client.get, results_url, cast_to=httpx2.Response, stream=True)
                response = _call(lambda: get(options={"headers": headers}), endpoint="batches.results", retries=0)
                stack.callback(response.close)
            else:
                streaming = client.messages.batches.with_streaming_response.results(batch_id)
                response = _call(lambda: stack.enter_context(streaming), endpoint="batches.results", retries=0)
        except NotFoundAPIError as exc:
            raise ResultsUnavailableError(exc.message, error_type=exc.error_type, status=404) from exc
        try:
            yield _split_lines(response.iter_bytes(chunk_size))
        except (httpx2.TransportError, anthropic.APIConnectionError) as exc:
            raise RetryableAPIError(
                f"connection lost while streaming results: {exc or type(exc).__name__}",
                error_type="connection_error",
            ) from exc


# --- internals ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _client_for(
    api_key: str, base_url: str | None, timeout: float, env_headers: tuple[str, ...]
) -> anthropic.Anthropic:
    # One client per workspace and process, so its connection pool is reused across calls.
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=base_url or DEFAULT_BASE_URL,
        max_retries=0,
        timeout=httpx2.Timeout(timeout, connect=5.0),
        # The SDK adds ANTHROPIC_CUSTOM_HEADERS to every client: a process-wide setting would reach every
        # workspace's server. Omitted, each of them.
        default_headers=dict.fromkeys(env_headers, anthropic.omit),
        # The SDK's own defaults (limits, redirects, keep-alive), with the one CA bundle loaded once per process.
        http_client=anthropic.DefaultHttpxClient(verify=_ssl_context()),
    )


@functools.cache
def _ssl_context():
    # Loading the CA bundle costs ~20 ms of CPU for every new client; a context is safe to share across threads.
    # Built as the SDK builds its own (SSL_CERT_FILE and SSL_CERT_DIR are honoured).
    return httpx2.create_ssl_context()


def _client(creds: Credentials) -> anthropic.Anthropic:
    env_headers = os.environ.get("ANTHROPIC_CUSTOM_HEADERS", "")
    names = tuple(line.split(":", 1)[0].strip() for line in env_headers.split("\n") if ":" in line)
    return _client_for(creds.api_key, creds.base_url, settings.ANTHROPIC_TIMEOUT_SECONDS, names)


def _split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        if b"\n" not in chunk:
            continue
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            if line:
                yield line
    if buffer.strip():
        yield buffer.rstrip(b"\r")


def _call(fn: Callable[[], T], *, endpoint: str, retries: int | None = None) -> T:
    """Run one SDK call, retrying what is worth retrying, mapping every failure to a domain error."""
    retries = settings.ANTHROPIC_MAX_RETRIES if retries is None else retries
    for attempt in range(retries + 1):
        try:
            result = fn()
        except anthropic.AnthropicError as exc:
            error = _domain_error(exc)
            _count(endpoint, error)
        else:
            _count(endpoint, None)
            return result
        if not isinstance(error, RetryableAPIError) or attempt == retries:
            raise error
        wait = error.retry_after if error.retry_after else min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())
        if wait > settings.ANTHROPIC_MAX_RETRY_WAIT_SECONDS:
            raise error  # too long to hold a worker: the caller records it and comes back later
        time.sleep(wait)
    raise AssertionError("unreachable")


def _count(endpoint: str, error: APIError | None) -> None:
    """Tally each call, retries included, for /metrics (batch_dashboard_api_requests_total)."""
    status = "ok" if error is None else str(error.status or error.error_type)
    ApiRequestCount.tally(endpoint, status)


def _domain_error(exc: anthropic.AnthropicError) -> APIError:
    if isinstance(exc, anthropic.APITimeoutError):
        return RetryableAPIError("the API did not answer in time", error_type="timeout")
    if isinstance(exc, anthropic.APIConnectionError):
        return RetryableAPIError(f"could not reach the API: {exc}", error_type="connection_error")
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        error_type = getattr(exc, "type", None) or f"http_{status}"
        message = getattr(exc, "api_message", None) or _body_message(exc.body) or str(exc)
        error_code = str(getattr(exc, "error_code", None) or "")
        kwargs = {"error_type": error_type, "status": status, "request_id": exc.request_id, "error_code": error_code}
        if _should_retry(exc.response, status, error_code):
            return RetryableAPIError(message, retry_after=_retry_after(exc.response), **kwargs)
        if status == 404:
            return NotFoundAPIError(message, **kwargs)
        return PermanentAPIError(message, **kwargs)
    if "results_url" in str(exc):
        # The SDK's own check in results(): the batch has not ended (or has no results).
        return ResultsUnavailableError(str(exc), error_type="results_unavailable")
    return PermanentAPIError(str(exc), error_type=type(exc).__name__)


def _body_message(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("message")
    return None


def _should_retry(response: httpx2.Response | None, status: int, error_code: str) -> bool:
    """A documented permanent code never (a spend limit, an organization on hold: waiting changes nothing until
    someone acts, whatever the status says), then the API's own `x-should-retry`, then a documented transient code,
    then the status as the SDK decides (an unknown code included: a 5xx or 529 with a new code is retried)."""
    if CODED_ERRORS.get(error_code) is False:
        return False
    header = response.headers.get("x-should-retry") if response is not None else None
    if header in ("true", "false"):
        return header == "true"
    if CODED_ERRORS.get(error_code):
        return True
    return status in RETRYABLE_STATUSES or status >= 500


def _retry_after(response: httpx2.Response | None) -> float | None:
    """Seconds to wait, from `retry-after-ms`, then `retry-after` in seconds or as an HTTP date."""
    if response is None:
        return None
    headers = response.headers
    candidates: list[float | None] = [
        _number(headers.get("retry-after-ms"), 0.001),
        _number(headers.get("retry-after")),
    ]
    if candidates[1] is None and headers.get("retry-after"):
        when = email.utils.parsedate_tz(headers["retry-after"])
        candidates.append(email.utils.mktime_tz(when) - time.time() if when else None)
    return next((seconds for seconds in candidates if seconds is not None and seconds > 0), None)


def _number(value: str | None, scale: float = 1.0) -> float | None:
    try:
        return float(value) * scale if value else None
    except ValueError:
        return None


def _remote_batch(b: Any) -> RemoteBatch:
    counts = b.request_counts
    return RemoteBatch(
        id=b.id,
        processing_status=b.processing_status,
        request_counts={key: getattr(counts, key) for key in REQUEST_COUNTS},
        created_at=b.created_at,
        expires_at=b.expires_at,
        ended_at=b.ended_at,
        cancel_initiated_at=b.cancel_initiated_at,
        archived_at=b.archived_at,
        results_url=b.results_url,
    )


# --- the pass-through (api/): raw HTTP to the workspace's API, the answer as it came -------------------------
# What a caller's request may carry upstream, and what the API's answer carries back: the versions and betas the
# code asked for, and the end customer its requests are for (`anthropic-user-profile-id`); the request id, the
# retry advice and the rate-limit figures the SDK reads. Never the caller's key (the workspace's own is sent), never
# anthropic-workspace-id (the dashboard's own choice of workspace).
FORWARDED_REQUEST_HEADERS = (
    "anthropic-version",
    "anthropic-beta",
    "anthropic-user-profile-id",
    "content-type",
    "accept",
)
RETURNED_HEADERS = ("content-type", "request-id", "retry-after", "retry-after-ms", "x-should-retry",
                    "anthropic-workspace-id")  # fmt: skip
RETURNED_PREFIXES = ("anthropic-ratelimit-",)


@dataclass
class Forwarded:
    """The API's answer: its status and headers now, its body as it streams (close it when done)."""

    status: int
    headers: dict[str, str]
    response: httpx2.Response
    # The body's length as the API declared it (None when chunked or encoded): passed on with a streamed answer,
    # so the server in front sends it as it is instead of re-framing it in chunks.
    length: int | None = None

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        try:
            yield from self.response.iter_raw(chunk_size)
        except httpx2.TransportError as exc:
            raise RetryableAPIError(f"connection lost mid-answer: {exc or type(exc).__name__}",
                                    error_type="connection_error") from exc  # fmt: skip
        finally:
            self.response.close()

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def close(self) -> None:
        self.response.close()


def forward(
    creds: Credentials, method: str, path: str, *, query: str = "", headers: dict[str, str] | None = None,
    body: Iterator[bytes] | bytes | None = None, content_length: int | None = None, endpoint: str = "passthrough",
    timeout: float | None = None,
) -> Forwarded:  # fmt: skip
    """Send one request as the caller wrote it (`path` from /v1/…), with the workspace's key; stream the answer
    back unread. A connection that fails before any answer raises RetryableAPIError (nothing is known to
    have happened); any answer, an error status included, is returned as it is for the caller to pass on."""
    sent = {name: value for name, value in (headers or {}).items() if name.lower() in FORWARDED_REQUEST_HEADERS}
    # No anthropic-version of ours: a call without one is the API's to refuse, as it would straight.
    sent |= {"x-api-key": creds.api_key, "accept-encoding": "identity"}
    if content_length is not None:  # a body streamed from disk goes with its length, not chunked
        sent["content-length"] = str(content_length)
    url = (creds.base_url or DEFAULT_BASE_URL).rstrip("/") + path + (f"?{query}" if query else "")
    http = _http(settings.ANTHROPIC_TIMEOUT_SECONDS)
    wait = httpx2.Timeout(timeout or settings.ANTHROPIC_TIMEOUT_SECONDS, connect=5.0)
    try:
        response = http.send(http.build_request(method, url, headers=sent, content=body, timeout=wait), stream=True)
    except httpx2.TransportError as exc:
        ApiRequestCount.tally(endpoint, "connection_error")
        raise RetryableAPIError(f"could not reach the API: {exc or type(exc).__name__}",
                                error_type="connection_error") from exc  # fmt: skip
    ApiRequestCount.tally(endpoint, "ok" if response.status_code < 400 else str(response.status_code))
    returned = {name: value for name, value in response.headers.items()
                if name.lower() in RETURNED_HEADERS or name.lower().startswith(RETURNED_PREFIXES)}  # fmt: skip
    declared = response.headers.get("content-length", "")
    plain = declared.isdigit() and response.headers.get("content-encoding", "identity") == "identity"
    return Forwarded(response.status_code, returned, response, int(declared) if plain else None)


def parse_batch(body: bytes) -> RemoteBatch:
    """A `MessageBatch` from the API's JSON, read by the SDK's own type."""
    from anthropic.types.messages import MessageBatch

    return _remote_batch(MessageBatch.model_validate_json(body))


@functools.lru_cache(maxsize=4)
def _http(timeout: float) -> httpx2.Client:
    # One pooled client per process for every workspace: the pass-through's calls reuse its connections.
    return httpx2.Client(timeout=httpx2.Timeout(timeout, connect=5.0), follow_redirects=False)
