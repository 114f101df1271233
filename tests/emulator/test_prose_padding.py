"""`text="prose"`: succeeded lines padded with English-like sentences that gzip compresses as it does prose,
rather than one Lorem-ipsum sentence repeated (which gzip shrinks about twentyfold)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import zlib
from datetime import UTC, datetime

import anthropic
import pytest

from emulator import Emulator

from .conftest import KEY

START = datetime(2026, 12, 1, tzinfo=UTC)


def _body(emu: Emulator, batch_id: str) -> bytes:
    client = anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0)
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        return response.read()


def _texts(body: bytes) -> list[str]:
    return [json.loads(line)["result"]["message"]["content"][0]["text"] for line in body.splitlines()]


def _gzip_ratio(text: str) -> float:
    raw = text.encode()
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip format, level 6 as `gzip` uses
    return len(raw) / len(packer.compress(raw) + packer.flush())


def test_prose_lines_are_exactly_line_bytes(emu: Emulator):
    batch_id = emu.seed_batch(KEY, 300, outcomes={"succeeded": 1.0}, line_bytes=1200, text="prose")
    sizes = {len(line) + 1 for line in _body(emu, batch_id).split(b"\n")[:-1]}
    assert sizes == {1200}


def test_prose_is_exact_for_short_and_long_lines(emu: Emulator):
    for line_bytes in (600, 50_000):
        batch_id = emu.seed_batch(KEY, 20, outcomes={"succeeded": 1.0}, line_bytes=line_bytes, text="prose")
        assert {len(line) + 1 for line in _body(emu, batch_id).split(b"\n")[:-1]} == {line_bytes}


def test_the_same_batch_gives_the_same_bytes_on_every_build():
    bodies = []
    for _ in range(2):  # two emulators with the same seed: as a restart with the same seed, or a cache miss
        emu = Emulator(seed=1, speed=0.0, start_time=START)
        emu.add_workspace(api_key=KEY, name="ws1")
        batch_id = emu.seed_batch(KEY, 500, outcomes={"succeeded": 1.0}, line_bytes=1200, text="prose")
        first = emu.api_results(KEY, batch_id)
        emu.results_cache.discard(batch_id)
        assert emu.api_results(KEY, batch_id) == first
        bodies.append(first)
    assert bodies[0] == bodies[1]


def test_prose_varies_from_line_to_line_and_reads_as_sentences(emu: Emulator):
    batch_id = emu.seed_batch(KEY, 200, outcomes={"succeeded": 1.0}, line_bytes=1200, text="prose")
    # Each text is "Emulated reply to req-000123. " then the padding.
    paddings = [text.split(". ", 1)[1] for text in _texts(_body(emu, batch_id))]
    assert len({padding[:100] for padding in paddings}) == 200
    assert all(padding[0].isupper() and padding.isascii() for padding in paddings)
    # About 665 characters each: some 8 sentences of ~80, ended by any of . ? !, and clauses.
    assert all(sum(padding.count(end) for end in (". ", "? ", "! ")) >= 5 and "," in padding for padding in paddings)


def test_gzip_compresses_prose_as_prose_and_lorem_far_more(emu: Emulator):
    ratios = {}
    for text in ("prose", "lorem"):
        batch_id = emu.seed_batch(KEY, 1000, outcomes={"succeeded": 1.0}, line_bytes=1200, text=text)
        ratios[text] = _gzip_ratio("\n".join(_texts(_body(emu, batch_id))))
    assert 2 < ratios["prose"] < 4
    assert ratios["lorem"] > 10


def test_lorem_stays_the_default(emu: Emulator):
    default = emu.seed_batch(KEY, 5, outcomes={"succeeded": 1.0}, line_bytes=1000)
    text = _texts(_body(emu, default))[0]
    assert text.startswith("Emulated reply to req-") and "Lorem ipsum dolor sit amet" in text


def test_the_seed_control_endpoint_takes_text_and_refuses_an_unknown_one(emu: Emulator):
    def seed(text: str) -> dict:
        payload = {"api_key": KEY, "n_requests": 50, "outcomes": {"succeeded": 1.0}, "line_bytes": 1000, "text": text}
        request = urllib.request.Request(f"{emu.base_url}/_emulator/seed_batch", json.dumps(payload).encode())
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    body = _body(emu, seed("prose")["id"])
    assert "Lorem" not in body.decode() and {len(line) + 1 for line in body.split(b"\n")[:-1]} == {1000}
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        seed("poetry")
    assert excinfo.value.code == 400
