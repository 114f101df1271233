"""The request headers every /v1/ call is checked for (anthropic-version, anthropic-beta,
anthropic-workspace-id) and the anthropic-workspace-id every answer carries."""

from __future__ import annotations

import http.client
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args, get_origin
from urllib.parse import urlsplit

import anthropic
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION
from anthropic.types import anthropic_beta_param

from emulator import Emulator, headers

from .conftest import KEY, OTHER_KEY, request

ADMIN = "sk-ant-admin-headers-1"
BETA_MESSAGE = (
    "Unexpected value(s) `{}` for the `anthropic-beta` header. Please consult our documentation at "
    "docs.claude.com or try again without the header."
)


def raw(emu: Emulator, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
    """(status, headers, parsed JSON body) of one plain HTTP call: for what the SDK cannot send."""
    parts = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        conn.close()


# -- anthropic-version ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/messages/batches"),
        ("POST", "/v1/messages/batches"),
        ("GET", "/v1/messages/batches/msgbatch_x/results"),
        ("POST", "/v1/messages/count_tokens"),
        ("GET", "/v1/organizations/analytics/cost"),
        ("GET", "/v1/no/such/route"),
    ],
)
def test_a_v1_call_without_anthropic_version_is_a_400_saying_the_header_is_required(emu: Emulator, method, path):
    status, headers, body = raw(emu, method, path, {"x-api-key": KEY}, b"{}" if method == "POST" else None)
    assert status == 400
    assert body["error"] == {"type": "invalid_request_error", "message": "anthropic-version: header is required"}
    assert headers["x-should-retry"] == "false"


def test_an_unknown_anthropic_version_is_a_400_naming_the_value(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.list(extra_headers={"anthropic-version": "2023-10-01"})
    assert excinfo.value.type == "invalid_request_error"
    assert excinfo.value.api_message == 'anthropic-version: "2023-10-01" is not a valid version'


def test_the_anthropic_version_header_sent_twice_is_not_a_valid_version(emu: Emulator):
    parts = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.putrequest("GET", "/v1/messages/batches")
    for name, value in (("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("anthropic-version", "2023-06-01")):
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["error"]["message"] == (
        'anthropic-version: "2023-06-01, 2023-06-01" is not a valid version'
    )


@pytest.mark.parametrize("version", ["2023-01-01", "2023-06-01", ANTHROPIC_API_VERSION])
def test_the_documented_versions_and_the_one_the_sdk_sends_are_accepted(emu: Emulator, version: str):
    status, _, body = raw(emu, "GET", "/v1/messages/batches", {"x-api-key": KEY, "anthropic-version": version})
    assert (status, body["data"]) == (200, [])


def test_the_sdk_sends_2026_10_21_and_is_served(emu: Emulator, client: anthropic.Anthropic):
    assert ANTHROPIC_API_VERSION == "2026-10-21"  # the version SDK 2.15.0 sends; the emulator must know it
    assert client.messages.batches.list().data == []


def test_control_endpoints_need_no_anthropic_headers(emu: Emulator):
    with urllib.request.urlopen(f"{emu.base_url}/_emulator/health", timeout=5) as response:
        assert json.load(response)["status"] == "ok"
        assert response.headers["anthropic-workspace-id"] is None


def test_a_bad_version_refuses_an_after_fault_create_too(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="create", status=500, after=True)
    body = json.dumps({"requests": [request("a")]}).encode()
    headers = {"x-api-key": KEY, "anthropic-version": "1999-01-01", "content-type": "application/json"}
    assert raw(emu, "POST", "/v1/messages/batches", headers, body)[0] == 500
    assert client.messages.batches.list().data == []  # the create was not carried out
    emu.faults.add(op="create", status=500, after=True)
    assert raw(emu, "POST", "/v1/messages/batches", {**headers, "anthropic-version": "2023-06-01"}, body)[0] == 500
    assert len(client.messages.batches.list().data) == 1  # with a good version it is


# -- anthropic-beta -----------------------------------------------------------------------------------
def test_an_unknown_beta_is_a_400_in_the_api_message_style(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.beta.messages.batches.list(betas=["message-batches-2024-09-24", "no-such-beta-2020-01-01"])
    assert excinfo.value.type == "invalid_request_error"
    assert excinfo.value.api_message == BETA_MESSAGE.format("no-such-beta-2020-01-01")


def test_every_unknown_beta_is_named_once_in_order(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.list(extra_headers={"anthropic-beta": "zeta-1, files-api-2025-04-14,alpha-2,zeta-1"})
    assert excinfo.value.api_message == BETA_MESSAGE.format("zeta-1`, `alpha-2")


def test_an_empty_beta_header_is_an_unexpected_empty_value(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.beta.messages.batches.list(betas=[])  # the SDK then sends `anthropic-beta: `
    assert excinfo.value.api_message == BETA_MESSAGE.format("")


def test_known_betas_are_accepted_on_the_batch_routes(emu: Emulator, client: anthropic.Anthropic):
    betas = ["message-batches-2024-09-24", "prompt-caching-2024-07-31", "extended-cache-ttl-2025-04-11"]
    batch = client.beta.messages.batches.create(requests=[request("a")], betas=betas)
    assert client.beta.messages.batches.retrieve(batch.id, betas=betas).id == batch.id


def test_the_beta_the_sdk_adds_to_the_cost_report_is_accepted(emu: Emulator):
    emu.add_admin_key(ADMIN)
    admin = anthropic.Anthropic(api_key=ADMIN, base_url=emu.base_url, max_retries=0)
    starting_at = emu.now() - timedelta(days=1)
    response = admin.beta.organization.analytics.cost.with_raw_response.list(starting_at=starting_at)
    assert response.http_request.headers["anthropic-beta"] == "analytics-usage-cost-2026-08-24"
    assert response.status_code == 200


def test_the_beta_the_sdk_adds_to_beta_count_tokens_is_accepted(client: anthropic.Anthropic):
    messages = [{"role": "user", "content": "Hello"}]
    raw_response = client.beta.messages.with_raw_response.count_tokens(model="claude-sonnet-4-6", messages=messages)
    assert raw_response.http_request.headers["anthropic-beta"] == "token-counting-2024-11-01"
    assert raw_response.parse().input_tokens > 0


# -- anthropic-workspace-id ---------------------------------------------------------------------------------
def test_every_answer_names_the_key_workspace(emu: Emulator, client: anthropic.Anthropic):
    ws1 = emu.workspace_id(KEY)
    assert ws1.startswith("wrkspc_") and ws1 != emu.workspace_id(OTHER_KEY)
    assert client.messages.batches.with_raw_response.list().headers["anthropic-workspace-id"] == ws1
    batch = client.messages.batches.create(requests=[request("a")])
    assert batch._workspace_id == ws1  # the SDK reads the header into `_workspace_id`
    with pytest.raises(anthropic.NotFoundError) as excinfo:
        client.messages.batches.retrieve("msgbatch_nope")
    assert excinfo.value.workspace_id == ws1
    other = anthropic.Anthropic(api_key=OTHER_KEY, base_url=emu.base_url, max_retries=0)
    assert other.messages.batches.with_raw_response.list().headers["anthropic-workspace-id"] == emu.workspace_id(
        OTHER_KEY
    )


def test_the_results_stream_and_fault_answers_name_the_workspace_too(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 3)
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        assert response.headers["anthropic-workspace-id"] == emu.workspace_id(KEY)
    emu.faults.add(op="list", status=529)
    with pytest.raises(anthropic.OverloadedError) as excinfo:
        client.messages.batches.list()
    assert excinfo.value.workspace_id == emu.workspace_id(KEY)


def test_an_unknown_key_gets_no_workspace_header(emu: Emulator):
    stranger = anthropic.Anthropic(api_key="sk-ant-nobody", base_url=emu.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as excinfo:
        stranger.messages.batches.list()
    assert excinfo.value.workspace_id is None


def test_naming_the_key_own_workspace_is_accepted(emu: Emulator, client: anthropic.Anthropic):
    batch = client.messages.batches.create(requests=[request("a")], workspace_id=emu.workspace_id(KEY))
    assert client.messages.batches.retrieve(batch.id, workspace_id=emu.workspace_id(KEY)).id == batch.id


def test_naming_another_workspace_is_a_403_permission_error(emu: Emulator, client: anthropic.Anthropic):
    other = emu.workspace_id(OTHER_KEY)
    with pytest.raises(anthropic.PermissionDeniedError) as excinfo:
        client.messages.batches.create(requests=[request("a")], workspace_id=other)
    assert excinfo.value.type == "permission_error"
    assert other in excinfo.value.api_message
    assert excinfo.value.workspace_id == emu.workspace_id(KEY)
    assert excinfo.value.response.headers["x-should-retry"] == "false"
    assert client.messages.batches.list().data == []  # nothing was created
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.batches.list(workspace_id="wrkspc_unknown")


def test_an_admin_key_may_name_any_workspace_of_the_organization_only(emu: Emulator):
    emu.add_admin_key(ADMIN)
    admin = anthropic.Anthropic(api_key=ADMIN, base_url=emu.base_url, max_retries=0)
    starting_at = datetime.now(UTC) - timedelta(days=1)
    cost = admin.beta.organization.analytics.cost
    assert "anthropic-workspace-id" not in cost.with_raw_response.list(starting_at=starting_at).headers
    ws2 = emu.workspace_id(OTHER_KEY)
    named = cost.with_raw_response.list(starting_at=starting_at, extra_headers={"anthropic-workspace-id": ws2})
    assert named.headers["anthropic-workspace-id"] == ws2
    with pytest.raises(anthropic.PermissionDeniedError):
        cost.list(starting_at=starting_at, extra_headers={"anthropic-workspace-id": "wrkspc_elsewhere"})


def test_the_known_betas_are_exactly_the_pinned_sdks():
    (literal,) = [a for a in get_args(anthropic_beta_param.AnthropicBetaParam) if get_origin(a) is Literal]
    assert set(headers.KNOWN_BETAS) == set(get_args(literal))
