"""The REST API's JSON parser: DRF's, with a body too deeply nested for Python refused as any unreadable body is."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # DRF turns a ValueError into a 400, not this: 100,000 nested brackets were a 500.
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
