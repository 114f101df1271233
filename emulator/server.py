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
from .errors import EmulatorError, error_body, error_type_for, should_retry
from .faults import Fault, corrupt_lines
from .headers import check_betas, check_version
from .util import new_request_id
from .validation import MAX_BODY_BYTES, parse_body, validate_create_body

if TYPE_CHECKING:
    from .core import EmulatorCore

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
    ("POST", re.compile(r"^/v1/messages/count_tokens$"), "count_tokens"),
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

    def __init__(self, emulator: EmulatorCore, address: tuple[str, int]) -> None:
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


def make_server(emulator: EmulatorCore, host: str, port: int) -> EmulatorServer:
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
        self._api_headers()
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _api_headers(self) -> None:
        """Headers of every answer: `request-id`, and on /v1/ the key's `anthropic-workspace-id`."""
        self.send_header("request-id", self.request_id)
        if self.workspace_header:
            self.send_header("anthropic-workspace-id", self.workspace_header)

    def send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def send_error_body(
        self,
        status: int,
        error_type: str | None,
        message: str | None,
        headers: dict[str, str] | None = None,
        *,
        error_code: str | None = None,
        retry: bool | None = None,
    ) -> None:
        """The API's error answer, with `x-should-retry` as the status implies (errors.should_retry) unless
        `retry` overrides it, and `error.details.error_code` when `error_code` is given."""
        body = error_body(error_type or error_type_for(status), message, self.request_id, error_code)
        retry = should_retry(status) if retry is None else retry
        self._send(status, body, headers={"x-should-retry": "true" if retry else "false", **(headers or {})})

    def _api_key(self) -> str | None:
        key = self.headers.get("x-api-key")
        if key:
            return key
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth[:7].lower() == "bearer " else None

    # -- dispatch -----------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        self.request_id = new_request_id()
        self.workspace_header = None
        url = urlsplit(self.path)
        # Array parameters (`group_by[]=a&group_by[]=b`) keep every value; `beta=true` is simply ignored.
        self.query_lists = parse_qs(url.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        emulator = self.server.emulator
        if url.path.startswith("/_emulator/"):  # control endpoints: no headers needed, none added
            handle_control(self, emulator, method, url.path, self._read_body())
            return
        matched = route(method, url.path.rstrip("/") or "/")
        if (
            matched is not None
            and matched[0] == "create"
            and int(self.headers.get("Content-Length") or 0) > MAX_BODY_BYTES
        ):
            # Like Cloudflare in front of the API: refuse without reading, then drop the connection. The API
            # never sees it: no x-should-retry, no anthropic-workspace-id, no call counted.
            self.close_connection = True
            self._send(413, error_body("request_too_large", None, self.request_id))
            return
        self.workspace_header = emulator.response_workspace(self._api_key(), self._requested_workspace())
        if matched is None:
            self._read_body()
            try:
                self._check_headers()
            except EmulatorError as exc:
                self.send_error_body(exc.status, exc.error_type, exc.message)
                return
            self.send_error_body(404, "not_found_error", f"Not found: {method} {url.path}")
            return
        op, batch_id = matched
        body = self._read_body()
        emulator.record_call(op)
        fault = emulator.faults.take(op, batch_id)
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
            self._check_request()
            self._dispatch(op, batch_id, query, body, fault)
        except EmulatorError as exc:
            self.send_error_body(exc.status, exc.error_type, exc.message)

    def _requested_workspace(self) -> str | None:
        return self.headers.get("anthropic-workspace-id")

    def _check_headers(self) -> None:
        """anthropic-version, then anthropic-beta (headers.py): 400 invalid_request_error."""
        check_version(self.headers.get_all("anthropic-version") or [])
        check_betas(self.headers.get_all("anthropic-beta") or [])

    def _check_request(self) -> None:
        """What every /v1/ operation checks before its own rules: the headers, then that a workspace it names
        is its key's (an unknown key passes here and gets its 401 from the operation)."""
        self._check_headers()
        self.server.emulator.check_workspace(self._api_key(), self._requested_workspace())

    def _betas(self) -> tuple[str, ...]:
        """The request's `anthropic-beta` values (checked by `_check_request` before any operation)."""
        values = self.headers.get_all("anthropic-beta") or []
        return tuple(name.strip() for value in values for name in value.split(",") if name.strip())

    def _create(self, key: str | None, body: bytes) -> dict[str, Any]:
        profile = self.headers.get("anthropic-user-profile-id")
        requests = validate_create_body(parse_body(body))
        return self.server.emulator.api_create(key, requests, betas=self._betas(), user_profile_id=profile)

    def _apply(self, op: str, batch_id: str | None, body: bytes) -> None:
        """Carry out a state-changing operation without answering (for `after` faults)."""
        self._check_request()
        emulator, key = self.server.emulator, self._api_key()
        if op == "create":
            emulator._workspace(key)
            self._create(key, body)
        elif op == "cancel":
            emulator.api_cancel(key, batch_id)
        elif op == "delete":
            emulator.api_delete(key, batch_id)

    def _send_fault(self, fault: Fault) -> None:
        assert fault.status is not None
        self.send_error_body(
            fault.status,
            fault.error_type,
            fault.message,
            fault.retry_headers(),
            error_code=fault.error_code,
            retry=fault.should_retry,
        )

    def _dispatch(self, op: str, batch_id: str | None, query: dict[str, str], body: bytes, fault) -> None:
        emulator, key = self.server.emulator, self._api_key()
        if op == "create":
            emulator._workspace(key)  # 401 before any body validation, like the real API
            self.send_json(200, self._create(key, body))
        elif op == "count_tokens":
            emulator._workspace(key)
            self.send_json(200, emulator.api_count_tokens(key, parse_body(body)))
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
        self._api_headers()
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
