"""Model aliases and unserved models, the params the API allows (and the extra fields it refuses), and
usage.inference_geo: through the official SDK."""

from __future__ import annotations

import json
from datetime import timedelta

import anthropic
import pytest
from anthropic.types import message_create_params, model
from anthropic.types.messages import batch_create_params

from emulator import Emulator, validation

from .conftest import KEY, request

ADMIN = "sk-ant-admin-models-1"


def _results(emu: Emulator, client: anthropic.Anthropic, requests: list[dict]) -> dict:
    batch_id = emu.create_batch(KEY, requests, duration=60)
    emu.advance(60)
    return {line.custom_id: line.result for line in client.messages.batches.results(batch_id)}


def _sdk_fields(typed_dict) -> set[str]:
    return set(typed_dict.__required_keys__ | typed_dict.__optional_keys__)


# -- aliases and unserved models ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alias", "dated"),
    [("claude-haiku-4-5", "claude-haiku-4-5-20251001"), ("claude-opus-4-5", "claude-opus-4-5-20251101")],
)
def test_results_of_an_alias_report_the_dated_id_it_resolves_to(emu, client, alias: str, dated: str):
    results = _results(emu, client, [request("a", "[emulate:succeeded] hi", model=alias)])
    assert results["a"].type == "succeeded"
    assert results["a"].message.model == dated


@pytest.mark.parametrize(
    "name", ["claude-haiku-4-5-20251001", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5"]
)
def test_dated_ids_and_ids_without_an_alias_pass_through(emu, client, name: str):
    results = _results(emu, client, [request("a", "[emulate:succeeded] hi", model=name)])
    assert results["a"].type == "succeeded"
    assert results["a"].message.model == name


def test_every_model_the_sdk_lists_is_served(emu: Emulator, client: anthropic.Anthropic):
    names = [n for n in model.Model.__args__[0].__args__]  # the Literal of anthropic.types.Model
    assert len(names) >= 20
    results = _results(emu, client, [request(f"m{i}", "[emulate:succeeded] hi", model=n) for i, n in enumerate(names)])
    assert {r.type for r in results.values()} == {"succeeded"}


@pytest.mark.parametrize(
    "name",
    ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-3-haiku-20240307", "gpt-4"],
)
def test_a_model_the_api_does_not_serve_ends_errored_not_found(emu, client, name: str):
    batch = client.messages.batches.create(requests=[request("a", "[emulate:succeeded] hi", model=name)])
    assert batch.processing_status == "in_progress"  # accepted at create, as the API does
    emu.advance(600)
    ended = client.messages.batches.retrieve(batch.id)
    assert (ended.request_counts.errored, ended.request_counts.succeeded) == (1, 0)
    (line,) = list(client.messages.batches.results(batch.id))
    assert line.result.type == "errored"
    assert line.result.error.error.type == "not_found_error"
    assert line.result.error.error.message == f"model: {name}"


def test_one_unserved_model_does_not_spoil_the_rest_of_the_batch(emu, client):
    results = _results(
        emu,
        client,
        [request("ok", "[emulate:succeeded] hi", model="claude-haiku-4-5"), request("old", model="claude-3-opus")],
    )
    assert (results["ok"].type, results["old"].type) == ("succeeded", "errored")


def test_seeded_batches_resolve_aliases_too(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 20, model="claude-haiku-4-5", outcomes={"succeeded": 1.0})
    assert {line.result.message.model for line in client.messages.batches.results(batch_id)} == {
        "claude-haiku-4-5-20251001"
    }


def test_the_cost_report_keys_on_the_resolved_model_family(emu: Emulator, client: anthropic.Anthropic):
    emu.add_admin_key(ADMIN)
    started = emu.now()
    requests = [request(f"h{i}", "[emulate:succeeded] hi", model="claude-haiku-4-5") for i in range(3)]
    requests += [request("gone", "[emulate:succeeded] hi", model="claude-sonnet-4-5")]  # retired: not charged
    _results(emu, client, requests)
    cost = anthropic.Anthropic(api_key=ADMIN, base_url=emu.base_url, max_retries=0).beta.organization.analytics.cost
    span = {"starting_at": started - timedelta(days=1), "ending_at": started + timedelta(days=1)}
    rows = cost.list(**span, time_bucket_width="1d", group_by=["model"]).data
    assert {r.group.model for r in rows} == {"claude-haiku-4-5"}
    assert sum(r.cost.requests for r in rows) == 3
    by_id = cost.list(**span, time_bucket_width="1d", models=["claude-haiku-4-5-20251001"]).data
    assert sum(r.cost.requests for r in by_id) == 3


# -- allowed fields and extra ones ---------------------------------------------------------------------------
def test_the_allowed_params_are_exactly_the_sdk_message_create_params():
    assert set(validation.PARAMS_FIELDS) == _sdk_fields(message_create_params.MessageCreateParamsNonStreaming)
    assert len(validation.PARAMS_FIELDS) == len(set(validation.PARAMS_FIELDS))
    assert set(validation.REQUEST_FIELDS) == _sdk_fields(batch_create_params.Request)
    # The SDK sends its create's workspace_id / user_profile_id as headers: the body holds `requests` only.
    assert set(validation.CREATE_FIELDS) == _sdk_fields(batch_create_params.BatchCreateParams) - {
        "workspace_id",
        "user_profile_id",
    }


def test_every_param_the_sdk_knows_is_accepted(emu: Emulator, client: anthropic.Anthropic):
    params = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "[emulate:succeeded] hi"}],
        "cache_control": {"type": "ephemeral"},
        "container": None,
        "diagnostics": None,
        "inference_geo": "us",
        "metadata": {"user_id": "u-1"},
        "output_config": {"effort": "low"},
        "service_tier": "auto",
        "speed": "standard",
        "stop_sequences": ["END"],
        "system": "Be brief.",
        "thinking": {"type": "adaptive"},
        "tool_choice": {"type": "auto"},
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
        "user_profile_id": "uprof_1",
        "workspace_id": emu.workspace_id(KEY),
        "stream": False,
    }
    assert set(params) == _sdk_fields(message_create_params.MessageCreateParamsNonStreaming)
    results = _results(emu, client, [{"custom_id": "all", "params": params}])
    assert results["all"].type == "succeeded"


def test_a_request_naming_another_user_profile_than_the_batchs_ends_errored(emu: Emulator, client):
    # Create a Message Batch: the header "applies to every request in the batch; an individual request whose
    # `user_profile_id` body field conflicts with this header is errored".
    ok = "[emulate:succeeded] hi"
    requests = [
        request("none", ok),
        request("same", ok, user_profile_id="uprof_1"),
        request("other", ok, user_profile_id="uprof_2"),
    ]
    made = client.messages.batches.create(requests=requests, user_profile_id="uprof_1")
    unprofiled = client.messages.batches.create(requests=requests)
    emu.advance(3600)
    results = {line.custom_id: line.result for line in client.messages.batches.results(made.id)}
    assert [results[c].type for c in ("none", "same", "other")] == ["succeeded", "succeeded", "errored"]
    assert results["other"].error.error.type == "invalid_request_error"
    # Without the header each request is its own profile's: nothing conflicts.
    assert {line.result.type for line in client.messages.batches.results(unprofiled.id)} == {"succeeded"}


def test_an_extra_top_level_field_is_refused(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.create(requests=[request("a")], extra_body={"foo": 1})
    assert excinfo.value.type == "invalid_request_error"
    assert excinfo.value.api_message == "foo: Extra inputs are not permitted"


def test_an_extra_field_in_a_request_is_refused(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.create(requests=[request("a"), {**request("b"), "foo": 1}])
    assert excinfo.value.api_message == "requests.1.foo: Extra inputs are not permitted"


@pytest.mark.parametrize("field", ["foo", "temperature", "top_p", "top_k", "max_tokens_to_sample", "betas"])
def test_an_extra_field_in_params_is_refused(emu: Emulator, client: anthropic.Anthropic, field: str):
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.create(requests=[request("a", **{field: 1})])
    assert excinfo.value.api_message == f"requests.0.params.{field}: Extra inputs are not permitted"
    assert client.messages.batches.list().data == []


def test_the_python_api_refuses_extra_params_like_the_endpoint(emu: Emulator):
    from emulator import EmulatorError

    with pytest.raises(EmulatorError, match=r"requests\.0\.params\.foo: Extra inputs are not permitted"):
        emu.create_batch(KEY, [request("a", foo=1)])


def test_stream_true_stays_refused_and_stream_false_is_fine(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError, match="requests.0.params.stream: Streaming is not supported"):
        client.messages.batches.create(requests=[request("a", stream=True)])
    assert client.messages.batches.create(requests=[request("a", stream=False)]).request_counts.processing == 1


# -- usage.inference_geo ---------------------------------------------------------------------------------------
def test_succeeded_usage_reports_inference_geo_global_by_default(emu: Emulator, client: anthropic.Anthropic):
    results = _results(emu, client, [request("a", "[emulate:succeeded] hi")])
    assert results["a"].message.usage.inference_geo == "global"
    seeded = emu.seed_batch(KEY, 5, outcomes={"succeeded": 1.0})
    assert {r.result.message.usage.inference_geo for r in client.messages.batches.results(seeded)} == {"global"}


def test_succeeded_usage_reports_the_request_inference_geo(emu: Emulator, client: anthropic.Anthropic):
    results = _results(emu, client, [request("a", "[emulate:succeeded] hi", inference_geo="us")])
    assert results["a"].message.usage.inference_geo == "us"


def test_inference_geo_must_be_a_string(client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError, match="requests.0.params.inference_geo: Input should be"):
        client.messages.batches.create(requests=[request("a", inference_geo=5)])


def test_line_bytes_stays_exact_with_inference_geo(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 40, outcomes={"succeeded": 1.0}, line_bytes=900, model="claude-haiku-4-5")
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        lines = response.read().split(b"\n")[:-1]
    assert {len(line) + 1 for line in lines} == {900}
    assert all(json.loads(line)["result"]["message"]["usage"]["inference_geo"] == "global" for line in lines)
