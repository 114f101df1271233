"""x-should-retry on error answers, the three forms of retry-after, and coded errors
(`error.details.error_code`), as the SDK reads them."""

from __future__ import annotations

import email.utils
import json
import time
import urllib.request

import anthropic
import pytest
from anthropic.types.shared.enforced_spend_limit_reached_error import EnforcedSpendLimitReachedError
from anthropic.types.shared.organization_on_hold_error import OrganizationOnHoldError

from emulator import Emulator

from .conftest import KEY


def _client(emu: Emulator, max_retries: int) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=max_retries)


def _error(client: anthropic.Anthropic) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as excinfo:
        client.messages.batches.list()
    return excinfo.value


def _post_fault(emu: Emulator, **fault) -> dict:
    request = urllib.request.Request(f"{emu.base_url}/_emulator/faults", data=json.dumps(fault).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["fault"]


# -- x-should-retry ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_error_statuses_carry_x_should_retry_true(emu: Emulator, client: anthropic.Anthropic, status):
    emu.faults.add(op="list", status=status)
    assert _error(client).response.headers["x-should-retry"] == "true"


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 422])
def test_other_error_statuses_carry_x_should_retry_false(emu: Emulator, client: anthropic.Anthropic, status):
    emu.faults.add(op="list", status=status)
    assert _error(client).response.headers["x-should-retry"] == "false"


def test_errors_of_the_api_itself_carry_x_should_retry_false(emu: Emulator, client: anthropic.Anthropic):
    with pytest.raises(anthropic.NotFoundError) as excinfo:
        client.messages.batches.retrieve("msgbatch_missing")
    assert excinfo.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.create(requests=[])
    assert excinfo.value.response.headers["x-should-retry"] == "false"


def test_success_answers_carry_no_x_should_retry(emu: Emulator, client: anthropic.Anthropic):
    assert "x-should-retry" not in client.messages.batches.with_raw_response.list().headers


def test_a_500_marked_not_retryable_is_not_retried_by_the_sdk(emu: Emulator):
    emu.faults.add(op="list", status=500, times=-1, should_retry=False)
    error = _error(_client(emu, max_retries=2))
    assert isinstance(error, anthropic.InternalServerError)
    assert error.response.headers["x-should-retry"] == "false"
    assert emu.calls["list"] == 1


def test_a_plain_500_is_retried_by_the_sdk_twice(emu: Emulator):
    emu.faults.add(op="list", status=500, times=-1, retry_after_ms=1)
    _error(_client(emu, max_retries=2))
    assert emu.calls["list"] == 3


def test_a_400_marked_retryable_is_retried_by_the_sdk(emu: Emulator):
    emu.faults.add(op="list", status=400, times=2, should_retry=True, retry_after_ms=1)
    assert _client(emu, max_retries=2).messages.batches.list().data == []
    assert emu.calls["list"] == 3


def test_should_retry_can_be_set_through_the_control_endpoint(emu: Emulator):
    fault = _post_fault(emu, op="list", status=503, times=-1, should_retry=False)
    assert fault["should_retry"] is False
    assert _error(_client(emu, max_retries=2)).response.headers["x-should-retry"] == "false"
    assert emu.calls["list"] == 1


def test_should_retry_must_be_a_boolean():
    with pytest.raises(ValueError, match="should_retry"):
        Emulator().faults.add(op="list", status=500, should_retry="no")


# -- retry-after, retry-after-ms, HTTP-date -----------------------------------------------------------------
def test_retry_after_seconds_is_read_by_the_sdk(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=429, retry_after=7)
    headers = _error(client).response.headers
    assert headers["retry-after"] == "7"
    assert client._parse_retry_after_header(headers) == 7.0


def test_retry_after_ms_is_read_by_the_sdk_in_milliseconds(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=529, retry_after_ms=1500)
    headers = _error(client).response.headers
    assert headers["retry-after-ms"] == "1500"
    assert "retry-after" not in headers
    assert client._parse_retry_after_header(headers) == 1.5


def test_a_429_with_only_retry_after_ms_gets_no_default_retry_after(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=429, retry_after_ms=250)
    headers = _error(client).response.headers
    assert "retry-after" not in headers and client._parse_retry_after_header(headers) == 0.25


def test_retry_after_as_a_delta_becomes_an_http_date_the_sdk_reads(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=503, retry_after_date=30)
    headers = _error(client).response.headers
    assert headers["retry-after"].endswith(" GMT")
    assert email.utils.parsedate_to_datetime(headers["retry-after"]).tzname() == "UTC"
    assert 28 <= client._parse_retry_after_header(headers) <= 31


def test_retry_after_as_an_epoch_becomes_that_http_date(emu: Emulator, client: anthropic.Anthropic):
    when = int(time.time()) + 120
    emu.faults.add(op="list", status=429, retry_after_date=when)
    headers = _error(client).response.headers
    assert headers["retry-after"] == email.utils.formatdate(when, usegmt=True)
    assert 117 <= client._parse_retry_after_header(headers) <= 120


def test_retry_after_date_as_a_string_is_sent_verbatim(emu: Emulator, client: anthropic.Anthropic):
    _post_fault(emu, op="list", status=503, retry_after_date="Wed, 21 Oct 2037 07:28:00 GMT")
    headers = _error(client).response.headers
    assert headers["retry-after"] == "Wed, 21 Oct 2037 07:28:00 GMT"
    assert client._parse_retry_after_header(headers) > 300 * 86400


def test_the_sdk_waits_the_http_date_retry_after(emu: Emulator):
    emu.faults.add(op="list", status=503, retry_after_date=1)
    started = time.monotonic()
    assert _client(emu, max_retries=1).messages.batches.list().data == []
    assert time.monotonic() - started >= 0.5  # the date is rounded up to a whole second: 1-2 s from the answer
    assert emu.calls["list"] == 2


def test_retry_after_ms_and_date_through_the_control_endpoint(emu: Emulator, client: anthropic.Anthropic):
    fault = _post_fault(emu, op="list", status=429, retry_after_ms=40, retry_after_date=60)
    assert (fault["retry_after_ms"], fault["retry_after_date"], fault["retry_after"]) == (40, 60, None)
    headers = _error(client).response.headers
    assert headers["retry-after-ms"] == "40" and headers["retry-after"].endswith(" GMT")
    assert client._parse_retry_after_header(headers) == 0.04  # the SDK prefers retry-after-ms


# -- coded errors ---------------------------------------------------------------------------------------------
def test_an_enforced_spend_limit_429_raises_the_sdk_coded_subclass(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="create", status=429, error_code="enforced_spend_limit_reached", message="Spend limit reached")
    with pytest.raises(EnforcedSpendLimitReachedError) as excinfo:
        client.messages.batches.create(requests=[])
    error = excinfo.value
    assert isinstance(error, anthropic.RateLimitError)
    assert error.error_code == "enforced_spend_limit_reached"
    assert error.details.error_code == "enforced_spend_limit_reached"
    assert error.body["error"] == {
        "type": "rate_limit_error",
        "message": "Spend limit reached",
        "details": {"error_code": "enforced_spend_limit_reached"},
    }


def test_an_organization_on_hold_400_raises_the_sdk_coded_subclass(emu: Emulator, client: anthropic.Anthropic):
    _post_fault(emu, op="list", status=400, error_code="organization_on_hold")
    error = _error(client)
    assert type(error) is OrganizationOnHoldError
    assert isinstance(error, anthropic.BadRequestError)
    assert (error.error_code, error.type) == ("organization_on_hold", "invalid_request_error")


def test_an_error_without_a_code_has_no_details(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=429)
    error = _error(client)
    assert type(error) is anthropic.RateLimitError
    assert error.error_code is None and "details" not in error.body["error"]


def test_an_unknown_code_falls_back_to_the_status_class(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=429, error_code="something_new")
    error = _error(client)
    assert type(error) is anthropic.RateLimitError and error.error_code == "something_new"
