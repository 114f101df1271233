"""The dashboard's WSGI app behind two test paths, for the request watchdog's tests under a real gunicorn
(tests/deploy/test_request_watchdog.py): a request that never ends, and a long answer that keeps streaming."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from config.wsgi import application as dashboard


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/_test/stuck":
        # Work that never looks at its socket and never ends, as the upload check of 5 GB of blank lines did.
        # (It sleeps rather than spins so the shared test machine keeps its cores.)
        while True:
            time.sleep(0.05)
    if path == "/_test/stream":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        chunks, every = int(query["chunks"][0]), float(query["every"][0])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream(chunks, every)
    return dashboard(environ, start_response)


def _stream(chunks: int, every: float):
    for n in range(chunks):
        time.sleep(every)
        yield f"chunk {n}\n".encode()
