"""gunicorn's gthread worker with a request watchdog: no request holds a thread longer than WEB_REQUEST_TIMEOUT
(settings) without progress (config/gunicorn.py names this worker class; docs/hardening.md says why).

gthread answers the arbiter's heartbeat from its main loop, so gunicorn's own `timeout` never fires for a request
running in a thread, and `kill -TERM` waits for it: a 4.9 MB upload once held a thread at 100% CPU for 6,300 s.
Python cannot stop a thread, so the watchdog does what can be done, cheapest first:

1. It closes the request's connection (a socket shutdown). A thread waiting on a client that stalled or has gone
   (half-sent headers or body, an answer nobody reads) wakes at once with an error and is free again. Logged.
2. If that thread is still busy with the request STUCK_GRACE_SECONDS later (work that never touches its socket),
   the process is recycled: it stops accepting, lets every other request in flight finish (up to gunicorn's
   graceful_timeout), logs by name any that could not, and exits; the arbiter starts a fresh process, and the other
   processes serve meanwhile. Logged, so no request is dropped silently.

Progress: a request must be read and its answer started within the bound; a streamed answer (downloads, exports,
the pass-through) may run longer, as long as no chunk waits longer than the bound. Application loops bound
themselves more tightly where they can answer clearly (SUBMIT_VALIDATE_SECONDS for the upload check).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# How long a thread may take to notice that its connection was closed before the process is recycled. Reading,
# writing or the next chunk notices at once; only work that never touches the socket takes longer.
STUCK_GRACE_SECONDS = 5.0


@dataclass
class Flight:
    """One request in a thread: its connection, when it last made progress, and what to call it in a log line."""

    sock: socket.socket
    started: float
    progress: float
    label: str = "a request whose request line was not yet read"
    environ: dict[str, Any] | None = None
    cut_at: float | None = None

    def name(self, now: float) -> str:
        rid = (self.environ or {}).get("dashboard.request_id", "")
        return f"{self.label} ({'request id ' + rid + ', ' if rid else ''}running {now - self.started:.0f} s)"


class WatchdogWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = 0.0  # read with the settings, once the app is loaded
        self.flights: dict[int, Flight] = {}
        self.recycling_since: float | None = None

    def load_wsgi(self) -> None:
        super().load_wsgi()
        from django.conf import settings  # configured by loading the app (config/wsgi.py)

        self.request_timeout = settings.WEB_REQUEST_TIMEOUT
        self.wsgi = _watched(self.wsgi, self.flights)

    def run(self) -> None:
        threading.Thread(target=self._watch, name="request-watchdog", daemon=True).start()
        super().run()
        # The loop ends after graceful_timeout even with a request still running; the interpreter would then wait
        # for that thread forever (until the arbiter kills the process), so leave now, naming what is abandoned.
        self._exit_naming(list(self.flights.values()), "abandoned at shutdown")

    def handle(self, conn: Any) -> Any:
        now = time.monotonic()
        me = threading.get_ident()
        self.flights[me] = Flight(conn.sock, now, now)
        try:
            return super().handle(conn)
        finally:
            self.flights.pop(me, None)

    def handle_request(self, req: Any, conn: Any) -> Any:
        flight = self.flights.get(threading.get_ident())
        if flight is not None:
            flight.label = f"{req.method} {req.path}"
        return super().handle_request(req, conn)

    def handle_http2(self, conn: Any) -> Any:
        # One HTTP/2 connection carries many requests for its whole life: not one request to bound. (gunicorn
        # speaks HTTP/1.1 only unless http_protocols says otherwise; config/gunicorn.py does not.)
        self.flights.pop(threading.get_ident(), None)
        return super().handle_http2(conn)

    def _watch(self) -> None:
        tick = min(1.0, self.request_timeout / 4)
        while True:
            time.sleep(tick)
            try:
                self._check(time.monotonic())
            except Exception:  # the watchdog must outlive any surprise; say so and go on
                self.log.exception("Request watchdog check failed")

    def _check(self, now: float) -> None:
        for flight in list(self.flights.values()):
            if flight.cut_at is None and now - flight.progress > self.request_timeout:
                self._cut(flight, now)
            elif flight.cut_at is not None and now - flight.cut_at > STUCK_GRACE_SECONDS:
                self._recycle(flight, now)
        if self.recycling_since is not None:
            self._exit_when_drained(now)

    def _cut(self, flight: Flight, now: float) -> None:
        flight.cut_at = now
        self.log.error(
            "Request cut: %s made no progress for %.1f s (WEB_REQUEST_TIMEOUT is %g s); its connection is closed",
            flight.name(now), now - flight.progress, self.request_timeout,
        )  # fmt: skip
        try:
            flight.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by its thread

    def _recycle(self, flight: Flight, now: float) -> None:
        if self.recycling_since is not None:
            return
        self.recycling_since = now
        others = [f for f in self.flights.values() if f.cut_at is None]
        self.log.error(
            "Worker recycling: %s is still running %.0f s after its connection was closed; %d other request(s) in "
            "flight finish first (up to %g s), then a new worker takes over",
            flight.name(now), now - (flight.cut_at or now), len(others), self.cfg.graceful_timeout,
        )  # fmt: skip
        self.alive = False
        self.method_queue.defer(lambda: None)  # wake the main loop, as a SIGTERM does

    def _exit_when_drained(self, now: float) -> None:
        flights = list(self.flights.values())
        others = [f for f in flights if f.cut_at is None]
        # Connections still open besides the stuck requests' own: an answer not yet closed, a kept-alive client.
        drained = not others and self.nr_conns <= len(flights)
        if drained or now - (self.recycling_since or now) > self.cfg.graceful_timeout - 1:
            self._exit_naming(flights, "abandoned by the recycle")

    def _exit_naming(self, flights: list[Flight], why: str) -> None:
        if not flights:
            return
        now = time.monotonic()
        for flight in flights:
            self.log.error("Request %s: %s", why, flight.name(now))
        for stream in (sys.stderr, sys.stdout):
            stream.flush()
        # Not sys.exit: the interpreter would wait for the stuck thread, which never ends.
        os._exit(1)


def _watched(app: Callable[..., Any], flights: dict[int, Flight]) -> Callable[..., Any]:
    """The WSGI app, noting each request's environ (for its request id) and each chunk of its answer as progress."""

    def watched_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        flight = flights.get(threading.get_ident())
        if flight is None:
            return app(environ, start_response)
        flight.environ = environ
        body = app(environ, start_response)
        if isinstance(body, environ.get("wsgi.file_wrapper", ())):
            return body  # sent by sendfile, in one call
        return _Progressing(body, flight)

    return watched_app


class _Progressing:
    """An answer's chunks, each stamped as progress when it is handed to the server."""

    def __init__(self, body: Iterable[bytes], flight: Flight) -> None:
        self.body = body
        self.flight = flight

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.flight.progress = time.monotonic()
            yield chunk

    def close(self) -> None:
        # Django's close() ends the request (request_finished: database connections returned).
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
