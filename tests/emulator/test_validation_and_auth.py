"""Create validation messages, the 413 limit, and authentication in both header styles."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import anthropic
import pytest

from emulator import Emulator, EmulatorError

from .conftest import KEY, request


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "requests: List should have at least 1 item after validation, not 0"),
        ([request("x" * 65)], "requests.0.custom_id: String should have at most 64 characters"),
        ([request("ok"), request("")], "requests.1.custom_id: String should have at least 1 character"),
        ([request("has space")], "requests.0.custom_id: String should match pattern"),
        ([request("dup"), request("dup")], "requests.1.custom_id: Duplicate custom_id"),
        ([{"custom_id": "a"}], "requests.0.params: Field required"),
        ([{"custom_id": "a", "params": {"max_tokens": 1, "messages": []}}], "requests.0.params.model: Field"),
        (
            [{"custom_id": "a", "params": {"model": "m", "messages": []}}],
            "requests.0.params.max_tokens: Field",
        ),
        (
            [{"custom_id": "a", "params": {"model": "m", "max_tokens": 1}}],
            "requests.0.params.messages: Field",
        ),
    ],
)
def test_invalid_create_is_a_400_with_the_api_message(client: anthropic.Anthropic, requests, message):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.create(requests=requests)
    assert excinfo.value.type == "invalid_request_error"
    assert message in excinfo.value.message


def test_64_character_custom_id_is_fine(client: anthropic.Anthropic):
    assert client.messages.batches.create(requests=[request("a" * 64)]).request_counts.processing == 1


def test_more_than_100000_requests_is_a_400(emu: Emulator):
    requests = [request(f"r{i}") for i in range(100_001)]
    with pytest.raises(EmulatorError, match="at most 100000 items"):
        emu.create_batch(KEY, requests)


def test_create_batch_validates_like_the_endpoint(emu: Emulator):
    with pytest.raises(EmulatorError) as excinfo:
        emu.create_batch(KEY, [request("x" * 65)])
    assert (excinfo.value.status, excinfo.value.error_type) == (400, "invalid_request_error")


def test_a_body_over_256_mb_is_refused_with_413_unread(emu: Emulator):
    parts = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.putrequest("POST", "/v1/messages/batches")
    conn.putheader("x-api-key", KEY)
    conn.putheader("Content-Length", str(256 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert b"request_too_large" in response.read()


def test_wrong_key_with_x_api_key_is_a_401(emu: Emulator):
    client = anthropic.Anthropic(api_key="sk-ant-wrong", base_url=emu.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as excinfo:
        client.messages.batches.list()
    assert excinfo.value.type == "authentication_error"
    assert "invalid x-api-key" in excinfo.value.message
    assert excinfo.value.request_id.startswith("req_")


def test_bearer_auth_is_accepted_with_a_known_key_and_refused_with_a_wrong_one(emu: Emulator):
    # The SDK's auth_token sends "Authorization: Bearer …" instead of x-api-key.
    good = anthropic.Anthropic(api_key=None, auth_token=KEY, base_url=emu.base_url, max_retries=0)
    assert good.messages.batches.list().data == []
    wrong = anthropic.Anthropic(api_key=None, auth_token="sk-ant-wrong", base_url=emu.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as excinfo:
        wrong.messages.batches.list()
    assert excinfo.value.type == "authentication_error"


@pytest.mark.parametrize("headers", [{"x-api-key": "sk-ant-wrong"}, {}])
def test_wrong_or_missing_x_api_key_is_a_401(emu: Emulator, headers: dict[str, str]):
    parts = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", "/v1/messages/batches", headers={"anthropic-version": "2023-06-01", **headers})
    response = conn.getresponse()
    assert response.status == 401
    assert b'"authentication_error"' in response.read()


def test_x_api_key_header_is_accepted(emu: Emulator):
    parts = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "message-batches-2024-09-24"}
    conn.request("GET", "/v1/messages/batches?beta=true", headers=headers)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("request-id").startswith("req_")
    response.read()


def test_beta_client_works_too(emu: Emulator, client: anthropic.Anthropic):
    batch = client.beta.messages.batches.create(requests=[request("a")], betas=["message-batches-2024-09-24"])
    assert client.beta.messages.batches.retrieve(batch.id).id == batch.id


@pytest.mark.parametrize("path", ["/v1/messages/batches", "/v1/messages/count_tokens"])
def test_a_body_nested_too_deep_to_read_is_a_400_not_a_dropped_connection(emu: Emulator, path: str):
    """The API answers a 400 to a body it cannot read; the emulator's handler died on RecursionError, and the client
    saw its connection close (the dashboard's pass-through told a 502)."""
    body = ("[" * 100_000 + "]" * 100_000).encode()
    parts = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("POST", path, body, {"x-api-key": KEY, "anthropic-version": "2023-06-01",
                                      "content-type": "application/json"})  # fmt: skip
    response = conn.getresponse()
    assert response.status == 400 and b"invalid_request_error" in response.read()
