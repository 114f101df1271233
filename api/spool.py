"""A request body read from the connection onto disk, hashed as it goes: never held in memory, whatever its size."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings

from batches.services.passthrough import Spooled

# The API's own limit on a create-batch body; larger ones get the API's own 413.
MAX_BYTES = 256 * 1024 * 1024
CHUNK = 1 << 16


class TooLarge(Exception):
    pass


class LengthRequired(Exception):
    """A chunked body on a server that does not say where it ends: it cannot be read whole."""


class Unreadable(Exception):
    """The body broke off, or its chunked framing is malformed: a client's fault, answered 400."""


class _Input:
    """The server's de-chunked input, whose own errors are the body's: gunicorn raises its parse errors (a chunk size
    of "ZZ") as plain Exceptions, which were a 500."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except Exception as exc:  # noqa: BLE001 - the server's parse errors share no base class but Exception
            raise Unreadable(type(exc).__name__) from exc


def body_of(request):
    """What to read the body from. Django reads a body without Content-Length as empty, so a chunked one (curl's
    `-H "Transfer-Encoding: chunked"`, any streaming client) was kept and forwarded as nothing; the server's own input
    is read instead when it de-chunks it and ends it there (gunicorn says so: `wsgi.input_terminated`)."""
    meta = request.META
    if meta.get("CONTENT_LENGTH") or "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return request
    if request.environ.get("wsgi.input_terminated"):
        return _Input(request.environ["wsgi.input"])
    raise LengthRequired


def spool(request) -> Spooled:
    """The body in a file under PASSTHROUGH_SPOOL_DIR (the caller deletes it). TooLarge past MAX_BYTES, before
    reading it when the request says its length; LengthRequired (body_of)."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_BYTES:
        raise TooLarge
    source = body_of(request)
    folder = Path(settings.PASSTHROUGH_SPOOL_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="create-", suffix=".json", dir=folder)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as f:
            while chunk := read(source, CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise TooLarge
                digest.update(chunk)
                f.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Spooled(Path(name), size, digest.hexdigest())


def read(source, size: int) -> bytes:
    """`size` bytes of the body or fewer; Unreadable when the client broke off (Django: UnreadablePostError, an
    OSError) or the server could not de-chunk it."""
    try:
        return source.read(size)
    except OSError as exc:
        raise Unreadable(type(exc).__name__) from exc
