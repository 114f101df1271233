"""Validate and split an uploaded JSONL file of Message Batches requests, streaming.

Each line is one request as the API takes it: `{"custom_id": "...", "params": {...}}`. `validate()`
reads the file once, a line at a time, and finds every problem with its line number before anything
is sent; when there are none it also says how to split the file into batches the API accepts (at
most `SUBMIT_MAX_REQUESTS` and `SUBMIT_MAX_BYTES` each: 100,000 and 256 MB by default). The file is
never held whole: memory grows with the number of custom_ids (kept to catch duplicates) and the
longest line, not with the file's size. `iter_requests()` is the second pass that yields the requests
to send. `Splitter` is the one rule for splitting at those limits, used by uploads and retries alike.

A gzip file (its first bytes 1f 8b, whatever its name) is read decompressed, a chunk at a time, under
the same limits: no line longer than a batch may be and at most `SUBMIT_MAX_UPLOAD_BYTES` in all, so
a small file that decompresses to gigabytes is refused with one message before it is held.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from batches import client

MAX_REPORTED_ERRORS = 1000
# What a line or a retry's params holding "\ud800" alone are told (lone_surrogate).
LONE_SURROGATE = "a \\uD800-\\uDFFF escape that is not half of a pair (a lone surrogate): not valid Unicode"
MAX_DEPTH = 64  # lists and objects within a request; real Messages requests nest a handful of levels
CUSTOM_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CUSTOM_ID_MAX_CHARS = 64

_CUSTOM_ID_CHARS_RE = re.compile(r"[A-Za-z0-9_-]*")
_BOM = b"\xef\xbb\xbf"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a surrogate can come only as an escape: UTF-8 cannot hold one
# The body is `{"requests": [line,line,...]}`: the wrapper's bytes plus one comma between lines.
WRAPPER_BYTES = len(b'{"requests": [') + len(b"]}")
GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1024 * 1024  # of decompressed bytes, for a gzip file
PLAIN_CHUNK = 256 * 1024  # of a plain file: with its split pieces, well under a megabyte held


class UploadError(Exception):
    """The file as a whole cannot be read on (a corrupt gzip, too large): one message, for line 0."""


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based line number in the file; 0 for the file as a whole ("holds no requests")
    message: str


@dataclass(frozen=True)
class Part:
    first_line: int  # 1-based real file line numbers, inclusive
    last_line: int
    request_count: int
    body_bytes: int  # size of `{"requests": [...]}` built from these lines as they are in the file


@dataclass
class Validation:
    sha256: str  # of the requests as read: a gzip file's decompressed bytes
    request_count: int  # non-blank lines, valid or not
    errors: list[LineError]  # the first MAX_REPORTED_ERRORS, in line order
    error_count: int  # every problem found, including those not kept
    parts: list[Part]  # empty when there are errors

    @property
    def ok(self) -> bool:
        return self.request_count > 0 and self.error_count == 0


def limits() -> tuple[int, int]:
    """The most requests and bytes one batch may take: the settings, read when used."""
    return settings.SUBMIT_MAX_REQUESTS, settings.SUBMIT_MAX_BYTES


def validate(
    f: Iterable[bytes],
    *,
    max_requests: int | None = None,
    max_bytes: int | None = None,
    split: bool = True,
    max_upload_bytes: int | None = None,
    betas: list[str] | tuple[str, ...] = (),
    user_profile_id: str = "",
) -> Validation:
    """Check every line of a binary file (or an iterable of bytes lines) and plan its split into parts.

    The limits default to the settings'. `split=False` checks the lines only: for a file matched to a
    batch that exists (attached inputs), which is never sent, so no batch limit applies and it has no parts.
    A file of more than `max_upload_bytes` (decompressed) is refused as a whole, as is a corrupt gzip file.
    With `betas` (the `anthropic-beta` values it will be sent under), params are checked against the SDK's beta params
    type; without, a beta-only field is refused with what to do. A request's own `user_profile_id` must match the
    batch-level one (`user_profile_id`) if both are set: the API errors it otherwise.
    """
    rules = _Rules(beta=bool(betas) or not split, user_profile_id=user_profile_id)
    default_requests, default_bytes = limits()
    max_requests = max_requests or default_requests
    max_bytes = (max_bytes or default_bytes) if split else None
    if max_requests < 1 or (max_bytes is not None and max_bytes <= WRAPPER_BYTES):
        raise ValueError(f"max_requests must be at least 1 and max_bytes more than {WRAPPER_BYTES}")
    digest = hashlib.sha256()
    errors: list[LineError] = []
    error_count = 0
    request_count = 0
    seen: dict[str, int] = {}  # custom_id -> line it was first seen on
    splitter = Splitter(max_requests, max_bytes) if split else None
    unreadable = False
    try:
        deadline = time.monotonic() + settings.SUBMIT_VALIDATE_SECONDS
        lines = _lines(f, digest, max_line=max_bytes, max_total=max_upload_bytes, deadline=deadline)
        for line_no, body in lines:
            request_count += 1
            problems = _line_problems(body, line_no, seen, max_bytes, rules)
            if not problems and splitter:
                splitter.add(line_no, len(body))
            error_count += len(problems)
            errors.extend(LineError(line_no, message) for message in problems[: MAX_REPORTED_ERRORS - len(errors)])
    except UploadError as e:
        unreadable = True
        error_count += 1
        errors.append(LineError(0, str(e)))
    if request_count == 0 and not unreadable:
        error_count = 1
        expected = 'expected one {"custom_id": ..., "params": ...} per line'
        errors.append(LineError(0, f"the file holds no requests; {expected}"))
    return Validation(
        sha256=digest.hexdigest(),
        request_count=request_count,
        errors=errors,
        error_count=error_count,
        parts=splitter.finish() if splitter and error_count == 0 else [],
    )


def iter_requests(f: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, request) for each non-blank line of a file that `validate()` found ok."""
    for line_no, body in _lines(f):
        assert isinstance(body, bytes), "iter_requests reads files validate() found ok"
        yield line_no, json.loads(body.decode("utf-8"))


class _Overlong:
    """A line longer than the most one line may be, skipped as it was read: only its size is kept."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit


def _lines(
    f: Iterable[bytes],
    digest: Any = None,
    *,
    max_line: int | None = None,
    max_total: int | None = None,
    deadline: float | None = None,
) -> Iterator[tuple[int, bytes | _Overlong]]:
    """Yield (real line number, stripped bytes) for each non-blank line, hashing every byte read; gunzipped
    if it is a gzip file. UploadError past `max_total` bytes (SUBMIT_MAX_UPLOAD_BYTES by default), past
    SUBMIT_MAX_BLANK_LINES blank lines, or after `deadline` (time.monotonic()). A line over `max_line` bytes
    (SUBMIT_MAX_LINE_BYTES at most) comes as an `_Overlong`, never held whole."""
    max_total = max_total or settings.SUBMIT_MAX_UPLOAD_BYTES
    max_line = min(max_line or settings.SUBMIT_MAX_LINE_BYTES, settings.SUBMIT_MAX_LINE_BYTES)
    max_blank = settings.SUBMIT_MAX_BLANK_LINES
    compressed = _is_gzip(f)
    if compressed:
        source: Iterable[bytes | _Overlong] = _gunzipped_lines(f, max_line)
    elif hasattr(f, "read"):
        # Read in chunks, never through the file's own line iterator: Django's File.__iter__ joins a long line's
        # chunks by repeated concatenation, a time that grows with the square of the line's length.
        source = _split_lines(f.read, max_line)  # type: ignore[attr-defined]
    else:
        source = f
    total = blank = 0
    for line_no, raw in enumerate(source, start=1):
        if deadline is not None and time.monotonic() > deadline:
            raise UploadError(
                f"checking the file took longer than {settings.SUBMIT_VALIDATE_SECONDS:g} s, the most one upload "
                f"may take (stopped at line {line_no:,}): split it into smaller files"
            )
        if isinstance(raw, _Overlong):
            total += raw.size + 1
        elif not isinstance(raw, bytes | bytearray):
            raise TypeError("read the upload in binary mode: its lines must be bytes")
        else:
            total += len(raw)
        if total > max_total:
            what = "the gzip file decompresses to" if compressed else "the file is"
            raise UploadError(f"{what} more than {_size(max_total)}, the most one upload may hold")
        if isinstance(raw, _Overlong):
            yield line_no, raw
            continue
        if digest is not None:
            digest.update(raw)
        if line_no == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        body, raw = raw.strip(), b""  # the stripped copy alone is kept: a long line is held once
        if body:
            yield line_no, bytes(body)
        else:
            blank += 1
            if blank > max_blank:
                # Each blank line is cheap, but billions are not: a small gzip of newlines held a worker for hours.
                raise UploadError(f"the file has more than {max_blank:,} blank lines (at line {line_no:,}); "
                                  "remove them and upload it again")  # fmt: skip


def _split_lines(read: Any, max_line: int) -> Iterator[bytes | _Overlong]:
    """A plain file's lines (with their b"\n"), read a chunk at a time: time linear in the file, memory at
    most one chunk plus one line of `max_line` bytes. A longer line is skipped to its end and comes as an
    `_Overlong` with its size."""
    pending: list[bytes] = []  # the line read so far, in pieces: appending to one bytes copies it each time
    held = 0
    skipping = False
    while chunk := read(PLAIN_CHUNK):
        if not isinstance(chunk, bytes | bytearray):
            raise TypeError("read the upload in binary mode: its lines must be bytes")
        *ends, rest = chunk.split(b"\n")
        del chunk  # its pieces are all that is kept
        for end in ends:
            if skipping:
                size, pending, held, skipping = held + len(end), [], 0, False
                yield _Overlong(size, max_line)
            else:
                # The pieces are let go before the line is handed on: a long line is held once, not twice.
                pending, held = [b"".join([*pending, end, b"\n"])], 0
                yield pending.pop()
        held += len(rest)
        if skipping:
            continue
        if held > max_line:
            pending, skipping = [], True  # let it go: it cannot be sent, and holding it is what a bomb wants
        else:
            pending.append(rest)
    if skipping:
        yield _Overlong(held, max_line)
    elif held:
        yield b"".join(pending)


def _is_gzip(f: Iterable[bytes]) -> bool:
    """Whether a file starts with gzip's magic bytes; its position is left where it was."""
    if not all(hasattr(f, name) for name in ("read", "seek", "tell")):
        return False  # lines from a generator: never compressed
    at = f.tell()  # type: ignore[attr-defined]
    magic = f.read(len(GZIP_MAGIC))  # type: ignore[attr-defined]
    f.seek(at)  # type: ignore[attr-defined]
    return magic == GZIP_MAGIC


def _gunzipped_lines(f: Any, max_line: int) -> Iterator[bytes]:
    """A gzip file's lines (with their b"\\n"), decompressed a chunk at a time. A line is never held past
    `max_line` bytes: a gzip bomb is one line of gigabytes as often as many lines."""
    stream = gzip.GzipFile(fileobj=f, mode="rb")
    pending: list[bytes] = []  # the line read so far, in pieces: appending to one bytes copies it each time
    held = 0
    line_no = 1
    try:
        while chunk := stream.read(READ_CHUNK):
            *ends, rest = chunk.split(b"\n")
            for end in ends:
                yield b"".join([*pending, end, b"\n"])
                pending, held, line_no = [], 0, line_no + 1
            pending.append(rest)
            held += len(rest)
            if held > max_line:
                raise UploadError(
                    f"line {line_no:,} of the gzip file decompresses to more than {_size(max_line)}, "
                    "more than one batch may hold"
                )
    except (EOFError, OSError, zlib.error) as e:  # cut short (EOFError), or not gzip past its first bytes
        raise UploadError(
            f"this is a gzip file, but it is cut short or corrupt ({e}); upload it whole, or the plain .jsonl"
        ) from e
    if held:
        yield b"".join(pending)


@dataclass(frozen=True)
class _Rules:
    beta: bool  # sent through the beta endpoint: its params type applies
    user_profile_id: str  # the batch-level `anthropic-user-profile-id`, if any


def _line_problems(
    body: bytes | _Overlong, line_no: int, seen: dict[str, int], max_bytes: int | None,
    rules: _Rules = _Rules(False, ""),
) -> list[str]:  # fmt: skip
    if isinstance(body, _Overlong):
        return [f"this request alone is {body.size:,} bytes; the most one line may be is {_size(body.limit)}"]
    alone = WRAPPER_BYTES + len(body)
    if max_bytes is not None and alone > max_bytes:
        # Not parsed: it cannot be sent whatever it holds, and parsing hundreds of MB costs several times that.
        return [
            f"this request alone is {len(body):,} bytes ({alone:,} as a batch request body); "
            f"the API takes at most {_size(max_bytes)} per batch"
        ]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return [f"not valid UTF-8: byte 0x{body[e.start]:02x} at byte {e.start + 1} of the line"]
    try:
        request = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        return [f"invalid JSON: {e.msg} (column {e.colno})"]
    except (ValueError, RecursionError) as e:  # NaN/Infinity, an int over 4,300 digits, nesting too deep
        return [f"invalid JSON: {e}"]
    if _SURROGATE_ESCAPE.search(text) and lone_surrogate(request):
        # JSON lets "\ud800" stand alone; no UTF-8 can hold it: the SDK cannot send it, nor a database keep it.
        return [f"{LONE_SURROGATE}, so the request cannot be sent"]
    if not isinstance(request, dict):
        return [f'expected a JSON object {{"custom_id": ..., "params": ...}}, got {_kind(request)}']
    if deeper_than(request, MAX_DEPTH):
        # The estimator, the retry page and the SDK all walk it recursively: 700 levels passed here and then
        # raised RecursionError in the worker.
        return [f"the request is nested more than {MAX_DEPTH} levels deep"]
    problems = [
        f'unexpected key {_quote(key)}: a request has only "custom_id" and "params"'
        for key in request
        if key not in client.REQUEST_FIELDS
    ]
    problems += _custom_id_problems(request, line_no, seen)
    problems += _params_problems(request, rules)
    return problems


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and objects nest more than `limit` levels, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _reject_constant(name: str) -> None:
    # Python's json reads NaN and Infinity, but they are not JSON and the SDK's encoder refuses them at send time.
    raise ValueError(f"{name} is not a valid JSON value")


def _custom_id_problems(request: dict[str, Any], line_no: int, seen: dict[str, int]) -> list[str]:
    if "custom_id" not in request:
        return ["custom_id is missing; expected 1 to 64 characters from A-Z a-z 0-9 _ -"]
    custom_id = request["custom_id"]
    if not isinstance(custom_id, str):
        return [f"custom_id must be a string, got {_kind(custom_id)}"]
    # fullmatch, not match: the `$` in CUSTOM_ID_RE also matches before a trailing "\n".
    if not CUSTOM_ID_RE.fullmatch(custom_id):
        return _bad_custom_id(custom_id)
    first_line = seen.setdefault(custom_id, line_no)
    if first_line != line_no:
        return [f'duplicate custom_id "{custom_id}", first seen on line {first_line}']
    return []


def _bad_custom_id(custom_id: str) -> list[str]:
    if not custom_id:
        return ["custom_id is empty; expected 1 to 64 characters from A-Z a-z 0-9 _ -"]
    problems = []
    if len(custom_id) > CUSTOM_ID_MAX_CHARS:
        problems.append(f"custom_id is {len(custom_id)} characters long; the API takes at most {CUSTOM_ID_MAX_CHARS}")
    if not _CUSTOM_ID_CHARS_RE.fullmatch(custom_id):
        problems.append(f"custom_id {_quote(custom_id)} has characters outside A-Z a-z 0-9 _ -")
    return problems


def _params_problems(request: dict[str, Any], rules: _Rules) -> list[str]:
    if "params" not in request:
        return ["params is missing; expected an object with model, max_tokens and messages"]
    params = request["params"]
    if not isinstance(params, dict):
        return [f"params must be an object with model, max_tokens and messages, got {_kind(params)}"]
    problems = []
    if "model" not in params:
        problems.append("params.model is missing; expected a model name")
    elif not isinstance(params["model"], str) or not params["model"].strip():
        problems.append(f"params.model must be a model name, got {_kind(params['model'])}")
    if "max_tokens" not in params:
        problems.append("params.max_tokens is missing; expected a positive integer")
    elif type(params["max_tokens"]) is not int or params["max_tokens"] < 1:  # type(): True is an int too
        problems.append(f"params.max_tokens must be a positive integer, got {_kind(params['max_tokens'])}")
    if "messages" not in params:
        problems.append("params.messages is missing; expected a non-empty list of messages")
    elif not isinstance(params["messages"], list) or not params["messages"]:
        problems.append(f"params.messages must be a non-empty list of messages, got {_kind(params['messages'])}")
    else:
        problems += _messages_problems(params["messages"])
    if params.get("stream"):
        problems.append("params.stream must not be true: a batch's requests are not streamed")
    # The API refuses the whole batch over one field it does not take ("Extra inputs are not permitted").
    for key in params:
        if key in client.BETA_ONLY_FIELDS and not rules.beta:
            problems.append(f"params.{key} is a beta feature: name the anthropic-beta value it needs under Betas, and "
                            f"the batch is created through the beta endpoint")  # fmt: skip
        elif key not in client.PARAMS_FIELDS and key not in client.BETA_ONLY_FIELDS:
            problems.append(f"params has an unknown field {_quote(key)}: the API takes only the Messages API's fields")
    own = params.get("user_profile_id")
    if rules.user_profile_id and own and own != rules.user_profile_id:
        problems.append(f"params.user_profile_id {_quote(str(own))} conflicts with the batch's user profile "
                        f"{_quote(rules.user_profile_id)}: the API errors such a request")  # fmt: skip
    policy = params.get("billing_policy")
    if isinstance(policy, dict) and policy.get("bill_to") == "user_profile":
        problems.append('params.billing_policy.bill_to "user_profile" is not supported in a batch: the API errors '
                        'the request (send "self" or leave it out)')  # fmt: skip
    return problems


def _messages_problems(messages: list[Any]) -> list[str]:
    """What the API refuses in each message, item by item: a role other than user or assistant, and empty text
    ("messages: text content blocks must be non-empty", the demo's most common invalid_request_error). A final
    assistant message may be empty: the API takes it as a prefill."""
    problems = []
    for n, message in enumerate(messages):
        where = f"params.messages.{n}"
        if not isinstance(message, dict):
            problems.append(f"{where} must be an object with role and content, got {_kind(message)}")
            continue
        role = message.get("role")
        if role not in ("user", "assistant"):
            problems.append(f'{where}.role must be "user" or "assistant", got {_quote(str(role))}')
        content = message.get("content")
        prefill = role == "assistant" and n == len(messages) - 1
        if isinstance(content, str):
            if not content and not prefill:
                problems.append(f"{where}.content is empty: the API refuses it (text content blocks must be non-empty)")
        elif isinstance(content, list):
            for k, block in enumerate(content):
                if isinstance(block, dict) and block.get("type") == "text" and block.get("text") == "":
                    problems.append(f"{where}.content.{k}.text is empty: text content blocks must be non-empty")
    return problems


class Splitter:
    """Greedy split into consecutive parts within both limits, fed one request's size at a time."""

    def __init__(self, max_requests: int | None = None, max_bytes: int | None = None) -> None:
        default_requests, default_bytes = limits()
        self.max_requests = max_requests or default_requests
        self.max_bytes = max_bytes or default_bytes
        self.parts: list[Part] = []
        self._first = self._last = self._count = self._bytes = 0

    def add(self, line_no: int, size: int) -> bool:
        """Count one request of `size` bytes (as sent); True when it starts a new part."""
        if self._count and (self._count == self.max_requests or self._bytes + 1 + size > self.max_bytes):
            self._close()
        starts = not self._count
        if starts:
            self._first, self._bytes = line_no, WRAPPER_BYTES + size
        else:
            self._bytes += 1 + size
        self._count += 1
        self._last = line_no
        return starts

    def finish(self) -> list[Part]:
        if self._count:
            self._close()
        return self.parts

    def _close(self) -> None:
        self.parts.append(Part(self._first, self._last, self._count, self._bytes))
        self._count = 0


def _kind(value: Any) -> str:
    """Name a JSON value for a message: 'a list', 'null', '-1', 'the string "x"'."""
    if isinstance(value, dict):
        return "an empty object" if not value else "an object"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, str):
        return f"the string {_quote(value)}"
    return json.dumps(value)  # null, true, false, a number


def lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in `value` holds half a surrogate pair: JSON lets one through, no UTF-8 holds it, so
    the SDK cannot send it."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except RecursionError:  # nested too deep to walk: deeper_than refuses it
        return False
    return False


def _quote(value: str, limit: int = 70) -> str:
    shown = json.dumps(value[:limit], ensure_ascii=False)
    return shown + "..." if len(value) > limit else shown


def _size(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 and mb == int(mb) else f"{n:,} bytes"
