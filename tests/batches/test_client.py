"""batches/client.py against the emulator: plain data out, domain errors, and never the key."""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading

import pytest

from batches import client
from batches.errors import APIError, NotFoundAPIError, PermanentAPIError, ResultsUnavailableError, RetryableAPIError
from batches.models import Credentials


@pytest.fixture
def creds(emulator):
    emulator.add_workspace(api_key="sk-ant-client-test-abcd", name="client")
    return Credentials(api_key="sk-ant-client-test-abcd", base_url=emulator.base_url)


def test_list_returns_plain_batches_newest_first(emulator, creds):
    ids = emulator.seed_batches(creds.api_key, 5, status="ended", n_requests=2)
    page = client.list_batches(creds, limit=3)
    assert [b.id for b in page.batches] == ids[:3]  # seed_batches returns newest first
    assert page.has_more and page.last_id == page.batches[-1].id
    rest = client.list_batches(creds, limit=3, after_id=page.last_id)
    assert len(rest.batches) == 2 and not rest.has_more


def test_a_wrong_key_is_a_permanent_authentication_error(emulator):
    bad = Credentials(api_key="sk-ant-wrong-key-9999", base_url=emulator.base_url)
    with pytest.raises(PermanentAPIError) as excinfo:
        client.list_batches(bad)
    assert excinfo.value.error_type == "authentication_error" and excinfo.value.status == 401
    assert "9999" not in str(excinfo.value)


def test_an_unknown_batch_is_not_found(creds):
    with pytest.raises(NotFoundAPIError):
        client.retrieve_batch(creds, "msgbatch_nope")


def test_results_of_a_running_batch_are_unavailable(emulator, creds):
    batch_id = emulator.seed_batch(creds.api_key, 3, status="in_progress")
    with pytest.raises(ResultsUnavailableError):
        with client.stream_results(creds, batch_id) as lines:
            list(lines)


def test_a_closed_port_is_a_retryable_connection_error(settings):
    settings.ANTHROPIC_MAX_RETRIES = 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RetryableAPIError) as excinfo:
        client.list_batches(Credentials(api_key="sk-ant-x-1234", base_url=f"http://127.0.0.1:{port}"))
    assert excinfo.value.error_type == "connection_error"


def test_cancel_returns_canceling(emulator, creds):
    batch_id = emulator.seed_batch(creds.api_key, 3, status="in_progress")
    remote = client.cancel_batch(creds, batch_id)
    assert remote.processing_status == "canceling" and remote.cancel_initiated_at


def test_the_key_never_reaches_the_logs(emulator, creds, caplog):
    caplog.set_level(logging.DEBUG)
    emulator.faults.add(op="list", status=529, times=1)
    client.list_batches(creds)
    assert creds.api_key not in caplog.text
    assert creds.api_key not in repr(creds)


# --- what the API says about retrying wins -----------------------------------------------------------
def test_x_should_retry_false_on_a_500_is_not_retried(emulator, creds):
    emulator.faults.add(op="list", status=500, should_retry=False)
    with pytest.raises(PermanentAPIError) as excinfo:
        client.list_batches(creds)
    assert excinfo.value.status == 500 and emulator.calls["list"] == 1


def test_x_should_retry_true_on_a_400_is_retried(emulator, creds):
    emulator.faults.add(op="list", status=400, should_retry=True)
    assert client.list_batches(creds).batches == []
    assert emulator.calls["list"] == 2


@pytest.mark.parametrize(
    ("fault", "low", "high"),
    [({"retry_after": 0.4}, 0.35, 0.45), ({"retry_after_ms": 300}, 0.25, 0.35), ({"retry_after_date": 2}, 0.5, 3.1)],
)
def test_retry_after_is_read_as_seconds_milliseconds_or_a_date(emulator, creds, settings, fault, low, high):
    settings.ANTHROPIC_MAX_RETRY_WAIT_SECONDS = 0.01  # too short to wait: the error carries the wait back
    emulator.faults.add(op="list", status=429, **fault)
    with pytest.raises(RetryableAPIError) as excinfo:
        client.list_batches(creds)
    assert low <= excinfo.value.retry_after <= high


def test_a_coded_error_is_permanent_and_named_even_when_marked_retryable(emulator, creds):
    emulator.faults.add(op="list", status=429, error_code="enforced_spend_limit_reached", message="Spend limit",
                        should_retry=True)  # fmt: skip
    with pytest.raises(PermanentAPIError) as excinfo:
        client.list_batches(creds)
    assert excinfo.value.error_code == "enforced_spend_limit_reached" and emulator.calls["list"] == 1
    assert "enforced_spend_limit_reached" in str(excinfo.value)


# --- each workspace is its own client ------------------------------------------------------------------
def test_a_blank_base_url_is_the_real_api_whatever_the_environment_says(emulator, creds, monkeypatch, settings):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    settings.ANTHROPIC_MAX_RETRIES = 0
    blank = Credentials(api_key=creds.api_key, base_url=None)
    assert str(client._client(blank).base_url).rstrip("/") == "https://api.anthropic.com"
    with pytest.raises(APIError):  # this machine cannot reach the real API: what matters is where it went
        client.list_batches(blank)
    assert emulator.calls["list"] == 0


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self):  # noqa: N802 - the base class's name
        _Recorder.seen.append(dict(self.headers))
        body = b'{"data": [], "has_more": false, "first_id": null, "last_id": null}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_processes_custom_headers_are_never_sent_to_a_workspace(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Gateway-Token: secret-of-another-workspace\nX-Team: ops")
    try:
        client.list_batches(
            Credentials(api_key="sk-ant-recorder-0001", base_url=f"http://127.0.0.1:{server.server_port}")
        )
    finally:
        server.shutdown()
    (headers,) = _Recorder.seen
    names = {name.lower() for name in headers}
    assert "x-gateway-token" not in names and "x-team" not in names
    assert headers["Authorization"] == "Bearer sk-ant-recorder-0001"  # the request itself went out as usual


def test_count_tokens_takes_a_requests_own_params_and_leaves_out_what_it_does_not_take(emulator, creds):
    params = {"model": "claude-haiku-4-5", "max_tokens": 1024, "temperature": 0.2, "metadata": {"user_id": "u1"},
              "system": "Be terse.", "messages": [{"role": "user", "content": "Bonjour ! " * 30}]}  # fmt: skip

    tokens = client.count_tokens(creds, params)

    # The emulator refuses max_tokens, temperature and metadata ("Extra inputs are not permitted").
    assert tokens == (len(json.dumps(params["messages"])) + len(json.dumps(params["system"]))) // 4
    assert emulator.calls["count_tokens"] == 1


def test_count_tokens_of_a_model_no_longer_served_is_not_found(creds):
    params = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(NotFoundAPIError) as excinfo:
        client.count_tokens(creds, params)
    assert excinfo.value.error_type == "not_found_error" and "claude-sonnet-4-5" in excinfo.value.message


# --- the coded errors: one table, from the SDK's own types ----------------------------------------------
def test_the_table_holds_every_code_the_sdk_names_with_those_of_2_16_and_2_17():
    assert {"storage_not_ready", "organization_url_fetch_disabled", "enforced_spend_limit_reached",
            "organization_on_hold"} <= set(client.CODED_ERRORS)  # fmt: skip
    assert client.CODED_ERRORS["storage_not_ready"] and not client.CODED_ERRORS["organization_url_fetch_disabled"]


def test_storage_not_ready_is_retried_and_named(emulator, creds):
    emulator.faults.add(op="list", status=503, error_code="storage_not_ready", message="Try again in a minute",
                        times=1)  # fmt: skip
    assert client.list_batches(creds).batches == [] and emulator.calls["list"] == 2  # retried within the call
    emulator.faults.add(op="list", status=503, error_code="storage_not_ready", times=10)
    with pytest.raises(RetryableAPIError) as excinfo:
        client.list_batches(creds)
    assert excinfo.value.error_code == "storage_not_ready" and "storage_not_ready" in str(excinfo.value)


@pytest.mark.parametrize(
    ("status", "code", "should_retry", "retryable"),
    [
        (400, "organization_url_fetch_disabled", None, False),  # someone must act
        (503, "a_code_from_a_newer_api", None, True),  # unknown: the status's rule
        (529, "a_code_from_a_newer_api", None, True),
        (400, "a_code_from_a_newer_api", None, False),
        (503, "storage_not_ready", False, False),  # the API said no
        (429, "enforced_spend_limit_reached", None, False),
    ],
)
def test_a_coded_error_is_permanent_only_when_the_api_says_so(emulator, creds, settings, status, code, should_retry,
                                                              retryable):  # fmt: skip
    settings.ANTHROPIC_MAX_RETRIES = 0
    emulator.faults.add(op="list", status=status, error_code=code, should_retry=should_retry)
    with pytest.raises(RetryableAPIError if retryable else PermanentAPIError) as excinfo:
        client.list_batches(creds)
    assert excinfo.value.error_code == code
