"""POST /v1/messages/count_tokens through the SDK's `client.messages.count_tokens(...)`."""

from __future__ import annotations

import json

import anthropic
import pytest
from anthropic.types import message_count_tokens_params

from emulator import Emulator, validation

from .conftest import KEY, request

MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def test_count_tokens_answers_input_tokens(client: anthropic.Anthropic):
    count = client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES)
    assert count.input_tokens > 0
    assert count.model_dump() == {"input_tokens": count.input_tokens}


def test_count_tokens_is_deterministic_and_grows_with_the_input(client: anthropic.Anthropic):
    first = client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES).input_tokens
    assert client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES).input_tokens == first
    with_system = client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES, system="Be terse. " * 40)
    assert with_system.input_tokens > first + 50


def test_results_report_the_counted_tokens_plus_1_to_64(emu: Emulator, client: anthropic.Anthropic):
    system = "You answer geography questions."
    texts = [f"[emulate:succeeded] Question {i}: " + "words " * (i * 7) for i in range(30)]
    counts = [
        client.messages.count_tokens(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": t}], system=system
        ).input_tokens
        for t in texts
    ]
    requests = [request(f"q{i}", t, model="claude-haiku-4-5", system=system) for i, t in enumerate(texts)]
    batch_id = emu.create_batch(KEY, requests, duration=60)
    emu.advance(60)
    usage = {line.custom_id: line.result.message.usage for line in client.messages.batches.results(batch_id)}
    extras = [usage[f"q{i}"].input_tokens - counts[i] for i in range(30)]
    assert all(1 <= extra <= 64 for extra in extras), extras
    assert len(set(extras)) > 5  # the 1..64 part varies per request


@pytest.mark.parametrize("system", [None, "Be terse.", [{"type": "text", "text": "Be terse."}]])
def test_count_tokens_is_a_quarter_of_the_json_size_of_messages_and_system(client: anthropic.Anthropic, system):
    messages = [{"role": "user", "content": "Bonjour ! " * 25}, {"role": "assistant", "content": "Salut."}]
    kwargs = {} if system is None else {"system": system}
    count = client.messages.count_tokens(model="claude-sonnet-4-6", messages=messages, **kwargs).input_tokens
    assert count == (len(json.dumps(messages)) + len(json.dumps(system or ""))) // 4


def test_count_tokens_takes_system_and_tools(client: anthropic.Anthropic):
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
    count = client.messages.count_tokens(model="claude-opus-4-7", messages=MESSAGES, system="Hi", tools=tools)
    assert count.input_tokens > 0


def test_max_tokens_is_not_required_and_not_allowed(client: anthropic.Anthropic):
    assert client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES).input_tokens > 0
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES, extra_body={"max_tokens": 10})
    assert excinfo.value.api_message == "max_tokens: Extra inputs are not permitted"


@pytest.mark.parametrize("field", ["foo", "temperature", "stream", "inference_geo"])
def test_count_tokens_refuses_fields_its_params_do_not_have(client: anthropic.Anthropic, field: str):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES, extra_body={field: 1})
    assert excinfo.value.type == "invalid_request_error"
    assert excinfo.value.api_message == f"{field}: Extra inputs are not permitted"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": MESSAGES}, "model: Field required"),
        ({"model": "claude-sonnet-4-6"}, "messages: Field required"),
        ({"model": "claude-sonnet-4-6", "messages": []}, "messages: List should have at least 1 item"),
        ({"model": 5, "messages": MESSAGES}, "model: Input should be a valid string"),
    ],
)
def test_model_and_messages_are_required(client: anthropic.Anthropic, body: dict, message: str):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.post("/v1/messages/count_tokens", body=body, cast_to=object)
    assert excinfo.value.api_message.startswith(message)


def test_the_allowed_fields_are_exactly_the_sdk_count_tokens_params():
    sdk = message_count_tokens_params.MessageCountTokensParams
    assert set(validation.COUNT_TOKENS_FIELDS) == set(sdk.__required_keys__ | sdk.__optional_keys__)


def test_a_model_the_api_does_not_serve_is_a_404(client: anthropic.Anthropic):
    with pytest.raises(anthropic.NotFoundError) as excinfo:
        client.messages.count_tokens(model="claude-3-opus-20240229", messages=MESSAGES)
    assert (excinfo.value.type, excinfo.value.api_message) == ("not_found_error", "model: claude-3-opus-20240229")


def test_count_tokens_needs_a_workspace_key(emu: Emulator):
    stranger = anthropic.Anthropic(api_key="sk-ant-nobody", base_url=emu.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        stranger.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES)


def test_count_tokens_is_counted_in_calls(emu: Emulator, client: anthropic.Anthropic):
    client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES)
    client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES)
    assert emu.calls["count_tokens"] == 2
    assert emu.calls["create"] == 0


def test_a_fault_on_count_tokens_applies_to_it_only(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="count_tokens", status=529)
    client.messages.batches.list()
    with pytest.raises(anthropic.OverloadedError):
        client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES)
    assert client.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES).input_tokens > 0
