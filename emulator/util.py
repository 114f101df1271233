"""Small helpers shared by the emulator modules: ids, hashing and timestamps."""

from __future__ import annotations

import hashlib
import random
import string
from datetime import UTC, datetime

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

# Request ids need no determinism, only uniqueness; a module-level RNG is cheaper than `secrets`.
_request_rng = random.SystemRandom()


def base62(n: int, length: int) -> str:
    """`length` base62 characters from the low bytes of `n` (one byte per character: this is on the
    hot path of building 100,000 result lines, and a slight bias in an emulated id does not matter)."""
    return n.to_bytes(64, "little")[:length].translate(_BASE62_TABLE).decode()


_BASE62_TABLE = bytes(ord(BASE62[b % 62]) for b in range(256))


def digest(*parts: object) -> int:
    """A stable 256-bit integer from the parts (Python's hash() is salted per process)."""
    key = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=32).digest(), "little")


def new_request_id() -> str:
    return "req_" + base62(_request_rng.getrandbits(192), 24)


def rfc3339(ts: float | None) -> str | None:
    """Epoch seconds -> RFC 3339 with microseconds and a `Z`, as the API writes timestamps."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_ts(value: datetime | str | float | int | None) -> float | None:
    """Accept aware/naive datetimes (naive = UTC), ISO strings or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
