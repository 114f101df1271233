"""The requests of a create-batch body (`{"requests": [{...}, ...]}`) read one at a time from a file: a 256 MB body
is never held whole, nor parsed whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 1 << 16
_decoder = json.JSONDecoder()
_SPACE = " \t\r\n"


class BodyError(ValueError):
    """Not a create-batch body: the API would refuse it too; nothing is kept."""


class _Reader:
    def __init__(self, f: BinaryIO) -> None:
        self.f, self.text, self.pos, self.decoded = f, "", 0, _Utf8()

    def fill(self, most: int = CHUNK) -> bool:
        data = self.f.read(max(CHUNK, most))
        if not data:
            return False
        self.text = self.text[self.pos :] + self.decoded.feed(data)
        self.pos = 0
        return True

    def skip_space(self) -> str:
        """The next character past whitespace ("" at the end of the file)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return ""

    def expect(self, char: str) -> None:
        if self.skip_space() != char:
            raise BodyError(f"expected {char!r}")
        self.pos += 1

    def value(self):
        """One JSON value, reading more of the file until it is whole."""
        self.skip_space()
        while True:
            try:
                value, end = _decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                # The value is not whole yet: read as much again as is held, so that a value of N bytes is decoded
                # from its start a few times, not N / CHUNK times (a 64 MB request took 22 s read 64 KB at a time).
                if not self.fill(len(self.text) - self.pos):
                    raise BodyError("the body is not valid JSON") from None
                continue
            except RecursionError:
                raise BodyError("the body is nested too deeply to read") from None
            except ValueError as exc:  # an integer of more digits than Python converts (4,300)
                raise BodyError(f"the body holds a value that cannot be read: {exc}") from None
            if end == len(self.text) and self.fill():  # a number may go on in the next chunk
                continue
            self.pos = end
            return value


class _Utf8:
    """Bytes to text across chunk boundaries."""

    def __init__(self) -> None:
        import codecs

        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, data: bytes) -> str:
        try:
            return self.decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise BodyError("the body is not UTF-8") from exc


def iter_requests(f: BinaryIO) -> Iterator[dict]:
    """Each element of the body's `requests` array, in order. Other keys are read past (the API refuses them)."""
    reader = _Reader(f)
    reader.expect("{")
    if reader.skip_space() == "}":
        return
    while True:
        key = reader.value()
        reader.expect(":")
        if key == "requests":
            reader.expect("[")
            if reader.skip_space() == "]":
                reader.pos += 1
            else:
                while True:
                    item = reader.value()
                    if not isinstance(item, dict):
                        raise BodyError("each request must be an object")
                    yield item
                    following = reader.skip_space()
                    reader.pos += 1
                    if following == "]":
                        break
                    if following != ",":
                        raise BodyError("expected ',' or ']' in requests")
        else:
            reader.value()
        following = reader.skip_space()
        reader.pos += 1
        if following == "}":
            return
        if following != ",":
            raise BodyError("expected ',' or '}'")
