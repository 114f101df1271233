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


def spool(request) -> Spooled:
    """The body in a file under PASSTHROUGH_SPOOL_DIR (the caller deletes it). TooLarge past MAX_BYTES, before
    reading it when the request says its length."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_BYTES:
        raise TooLarge
    folder = Path(settings.PASSTHROUGH_SPOOL_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="create-", suffix=".json", dir=folder)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as f:
            while chunk := request.read(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise TooLarge
                digest.update(chunk)
                f.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Spooled(Path(name), size, digest.hexdigest())
