"""batches/client.py against the emulator: plain data out, domain errors, and never the key."""

from __future__ import annotations

import logging
import socket

import pytest

from batches import client
from batches.errors import NotFoundAPIError, PermanentAPIError, ResultsUnavailableError, RetryableAPIError
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
