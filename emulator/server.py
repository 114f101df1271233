"""HTTP layer: routes, auth, faults and response formatting over http.server with HTTP/1.1 keep-alive."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .control import handle_control
from .errors import EmulatorError, error_body, error_type_for
from .faults import Fault, corrupt_lines
from .util import new_request_id
from .validation import MAX_BODY_BYTES, parse_body

if TYPE_CHECKING:
    from .core import Emulator

CHUNK = 64 * 1024
_BATCHES = "/v1/messages/batches"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(rf"^{_BATCHES}$"), "create"),
    ("GET", re.compile(rf"^{_BATCHES}$"), "list"),
    ("GET", re.compile(rf"^{_BATCHES}/([^/]+)$"), "retrieve"),
    ("DELETE", re.compile(rf"^{_BATCHES}/([^/]+)$"), "delete"),
    ("POST", re.compile(rf"^{_BATCHES}/([^/]+)/cancel$"), "cancel"),
    ("GET", re.compile(rf"^{_BATCHES}/([^/]+)/results$"), "results"),
    ("GET", re.compile(r"^/v1/organizations/analytics/cost$"), "cost"),
]


def route(method: str, path: str) -> tuple[str, str | None] | None:
    for route_method, pattern, op in _ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return op, (match.group(1) if match.groups() else None)
    return None


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, emulator: Emulator, address: tuple[str, int]) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_all(self) -> None:
        """Drop keep-alive connections too, so a stopped emulator really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()


def make_server(emulator: Emulator, host: str, port: int) -> EmulatorServer:
    return EmulatorServer(emulator, (host, port))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK's connection pool reuses connections
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body then waits for
    # the client's delayed ACK (~40 ms a request on Linux).
    disable_nagle_algorithm = True
    server_version = "AnthropicEmulator/1.0"
    server: EmulatorServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    # -- plumbing -----------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers=None) -> None:
        self.send_response(status)
        self.send_header("request-id", self.request_id)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def send_error_body(self, status: int, error_type: str | None, message: str | None, headers=None) -> None:
        body = error_body(error_type or error_type_for(status), message, self.request_id)
        self._send(status, body, headers=headers)

    def _api_key(self) -> str | None:
        key = self.headers.get("x-api-key")
        if key:
            return key
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth[:7].lower() == "bearer " else None

    # -- dispatch -----------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        self.request_id = new_request_id()
        url = urlsplit(self.path)
        # Array parameters (`group_by[]=a&group_by[]=b`) keep every value; `beta=true` is simply ignored.
        self.query_lists = parse_qs(url.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/_emulator/"):
            handle_control(self, self.server.emulator, method, url.path, self._read_body())
            return
        matched = route(method, url.path.rstrip("/") or "/")
        if matched is None:
            self._read_body()
            self.send_error_body(404, "not_found_error", f"Not found: {method} {url.path}")
            return
        op, batch_id = matched
        if op == "create" and int(self.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
            # Like Cloudflare in front of the API: refuse without reading, then drop the connection.
            self.close_connection = True
            self.send_error_body(413, "request_too_large", None)
            return
        body = self._read_body()
        emulator = self.server.emulator
        emulator.record_call(op)
        fault = emulator.faults.take(op)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.after:
            try:
                self._apply(op, batch_id, body)
            except EmulatorError:
                pass  # the operation failed on its own; the client sees the fault's answer either way
        if fault and fault.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault and fault.status:
            self._send_fault(fault)
            return
        try:
            self._dispatch(op, batch_id, query, body, fault)
        except EmulatorError as exc:
            self.send_error_body(exc.status, exc.error_type, exc.message)

    def _apply(self, op: str, batch_id: str | None, body: bytes) -> None:
        """Carry out a state-changing operation without answering (for `after` faults)."""
        emulator, key = self.server.emulator, self._api_key()
        if op == "create":
            emulator.api_create(key, parse_body(body).get("requests"))
        elif op == "cancel":
            emulator.api_cancel(key, batch_id)
        elif op == "delete":
            emulator.api_delete(key, batch_id)

    def _send_fault(self, fault: Fault) -> None:
        headers = {}
        if fault.retry_after is not None:
            headers["retry-after"] = f"{fault.retry_after:g}"
        assert fault.status is not None
        self.send_error_body(fault.status, fault.error_type, fault.message, headers)

    def _dispatch(self, op: str, batch_id: str | None, query: dict[str, str], body: bytes, fault) -> None:
        emulator, key = self.server.emulator, self._api_key()
        if op == "create":
            emulator._workspace(key)  # 401 before any body validation, like the real API
            self.send_json(200, emulator.api_create(key, parse_body(body).get("requests")))
        elif op == "list":
            try:
                limit = int(query.get("limit", "20"))
            except ValueError:
                raise EmulatorError(400, "limit: Input should be a valid integer") from None
            page = emulator.api_list(key, limit, query.get("after_id"), query.get("before_id"))
            self.send_json(200, page)
        elif op == "retrieve":
            self.send_json(200, emulator.api_retrieve(key, batch_id))
        elif op == "cancel":
            self.send_json(200, emulator.api_cancel(key, batch_id))
        elif op == "delete":
            self.send_json(200, emulator.api_delete(key, batch_id))
        elif op == "cost":
            self.send_json(200, emulator.api_cost_report(key, self.query_lists))
        else:
            self._send_results(emulator.api_results(key, batch_id), fault)

    def _send_results(self, body: bytes, fault: Fault | None) -> None:
        if fault and fault.malformed_lines:
            body = corrupt_lines(body, fault.malformed_lines)
        cut = len(body)
        if fault and fault.cut_after_lines is not None:
            cut = 0
            for _ in range(fault.cut_after_lines):
                cut = body.index(b"\n", cut) + 1 if body.find(b"\n", cut) >= 0 else len(body)
        self.send_response(200)
        self.send_header("request-id", self.request_id)
        self.send_header("Content-Type", "application/binary")
        self.send_header("Content-Length", str(len(body)))  # the full length, even when we cut
        self.end_headers()
        view = memoryview(body)
        for start in range(0, cut, CHUNK):
            self.wfile.write(view[start : min(start + CHUNK, cut)])
        if cut < len(body):
            # Abrupt close mid-body: the client sees fewer bytes than Content-Length, i.e. a read error.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
