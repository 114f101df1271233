"""A 256 MB create body is spooled to disk and its requests read one at a time: the memory it takes stays a few
megabytes whatever the body's size (measured with tracemalloc's peak, over the spooling and the reading)."""

from __future__ import annotations

import json
import tracemalloc

from api.spool import MAX_BYTES, spool
from batches.services.request_stream import iter_requests


class _Streamed:
    """A request whose body arrives in pieces, as a WSGI input does: never one bytes object."""

    def __init__(self, total: int) -> None:
        text = "x" * (1 << 20)
        self.pieces = [b'{"requests": [']
        n = 0
        while sum(map(len, self.pieces)) + (1 << 20) + 200 < total:
            item = {"custom_id": f"r{n}", "params": {"model": "m", "max_tokens": 1,
                                                     "messages": [{"role": "user", "content": text}]}}  # fmt: skip
            self.pieces.append((b"," if n else b"") + json.dumps(item).encode())
            n += 1
        self.pieces.append(b"]}")
        self.count, self.META = n, {"CONTENT_LENGTH": str(sum(map(len, self.pieces)))}
        self.buffer, self.index = b"", 0

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size and self.index < len(self.pieces):
            self.buffer += self.pieces[self.index]
            self.index += 1
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def test_a_256_mb_body_is_read_without_memory_growth(settings, tmp_path):
    settings.PASSTHROUGH_SPOOL_DIR = str(tmp_path)
    request = _Streamed(MAX_BYTES)
    assert int(request.META["CONTENT_LENGTH"]) > 250 * 1024 * 1024
    tracemalloc.start()
    try:
        spooled = spool(request)
        with spooled.path.open("rb") as f:
            read = sum(1 for _ in iter_requests(f))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == request.count and spooled.size == int(request.META["CONTENT_LENGTH"])
    # A few requests' worth (each 1 MB) at a time, not the body: under 16 MB for 256 MB.
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MB for a {spooled.size / 2**20:.0f} MB body"


class _CountedReads:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.reads = data, 0, 0

    def read(self, size: int) -> bytes:
        self.reads += 1
        out = self.data[self.pos : self.pos + size]
        self.pos += len(out)
        return out


def test_a_large_request_is_decoded_a_few_times_not_once_per_chunk():
    """A first request of 8 MB that never ends (a token holder's bad or hostile body): refused after reading it a
    few times, growing what is held geometrically. Read 64 KB at a time, it was decoded from its start 128 times:
    22 s for 64 MB, about seven minutes of a web thread for 256 MB."""
    import pytest

    from batches.services.request_stream import BodyError

    body = b'{"requests": [{"custom_id": "a", "params": {"model": "m", "messages": [{"content": "' + b"x" * (8 << 20)
    f = _CountedReads(body)
    with pytest.raises(BodyError):
        next(iter_requests(f))
    assert f.reads <= 12, f"{f.reads} reads of an 8 MB value"
    # And a whole one after it is read as usual.
    whole = json.dumps({"requests": [{"custom_id": "a", "params": {"model": "m", "t": "y" * (8 << 20)}},
                                     {"custom_id": "b", "params": {"model": "m"}}]}).encode()  # fmt: skip
    f = _CountedReads(whole)
    assert [r["custom_id"] for r in iter_requests(f)] == ["a", "b"]
    assert f.reads <= 12
