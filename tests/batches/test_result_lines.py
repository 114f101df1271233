"""The results line format, in its one place: parsed to Result fields, its text, kept in packed runs."""

from __future__ import annotations

import json

import pytest

from batches import result_lines


@pytest.mark.parametrize(
    "line",
    [b"not json", b'{"custom_id": "a"}', b'{"custom_id": "a", "result": {"type": "weird"}}',
     b'{"custom_id": "a", "result": {"type": "succeeded", "message": {}}}', b"[1, 2]"],
)  # fmt: skip
def test_a_line_that_is_not_a_result_is_malformed(line):
    assert result_lines.parse(line)["result_type"] == "malformed"


@pytest.mark.parametrize(
    "usage",
    [{"input_tokens": -1, "output_tokens": 2}, {"input_tokens": 2**31, "output_tokens": 2},
     {"input_tokens": 1.5, "output_tokens": 2}, {"input_tokens": "x", "output_tokens": 2}, [1, 2], "usage"],
)  # fmt: skip
def test_a_count_no_column_can_hold_makes_its_line_malformed_not_a_failed_ingest(usage):
    message = {"id": "msg_1", "model": "claude-haiku-4-5", "stop_reason": "end_turn", "usage": usage}
    line = json.dumps({"custom_id": "a", "result": {"type": "succeeded", "message": message}}).encode()
    fields = result_lines.parse(line)
    assert (fields["custom_id"], fields["result_type"]) == ("a", "malformed")


def test_the_largest_count_a_column_holds_is_read():
    usage = {"input_tokens": 2**31 - 1, "output_tokens": "12"}  # a number as text was always read
    line = json.dumps({"custom_id": "a", "result": {"type": "succeeded", "message": {"usage": usage}}}).encode()
    assert (result_lines.parse(line)["input_tokens"], result_lines.parse(line)["output_tokens"]) == (2**31 - 1, 12)


def test_a_nul_in_any_text_is_shown_as_a_replacement_character_postgresql_can_store():
    error = {"type": "error", "error": {"type": "api\u0000error", "message": "bad \u0000 text"}}
    line = b'{"custom_id": "a", "result": {"type": "errored", "error": ' + json.dumps(error).encode() + b"}}"
    fields = result_lines.parse(line)
    assert (fields["error_type"], fields["error_message"]) == ("api\ufffderror", "bad \ufffd text")


def test_every_usage_field_is_read():
    line = (
        b'{"custom_id":"x","result":{"type":"succeeded","message":{"id":"msg_1","model":"claude-sonnet-4-5",'
        b'"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":20,"cache_creation_input_tokens":30,'
        b'"cache_read_input_tokens":40,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20},'
        b'"server_tool_use":{"web_search_requests":2,"web_fetch_requests":1},"service_tier":"batch","inference_geo":"us","speed":"standard"}}}}'
    )
    fields = result_lines.parse(line)
    assert fields["input_tokens"] == 10 and fields["output_tokens"] == 20
    assert fields["cache_creation_input_tokens"] == 30 and fields["cache_read_input_tokens"] == 40
    assert (fields["cache_creation_5m_input_tokens"], fields["cache_creation_1h_input_tokens"]) == (10, 20)
    assert (fields["web_search_requests"], fields["web_fetch_requests"]) == (2, 1)
    assert fields["service_tier"] == "batch" and fields["stop_reason"] == "end_turn"
    assert (fields["inference_geo"], fields["speed"]) == ("us", "standard")  # both change the price


def test_a_malformed_line_gets_the_same_key_each_time_it_is_read():
    line = b'{"custom_id": "a", "result": '
    assert result_lines.parse(line)["custom_id"] == result_lines.parse(line)["custom_id"]
    assert result_lines.parse(line)["custom_id"].startswith("malformed:")


def test_the_fields_come_in_the_columns_order():
    error = {"type": "error", "error": {"type": "api_error", "message": "boom"}, "request_id": "req_1"}
    line = json.dumps({"custom_id": "e", "result": {"type": "errored", "error": error}}).encode()
    fields = result_lines.parse(line)
    assert tuple(fields) == result_lines.FIELDS
    assert (fields["error_type"], fields["error_message"], fields["request_id"]) == ("api_error", "boom", "req_1")


def test_the_text_is_every_text_block_of_a_succeeded_message_and_nothing_else():
    message = {
        "content": [{"type": "text", "text": "one"}, {"type": "tool_use", "id": "t"}, {"type": "text", "text": "two"}]
    }
    succeeded = json.dumps({"custom_id": "a", "result": {"type": "succeeded", "message": message}})
    assert result_lines.text_of(succeeded) == "one\n\ntwo"
    assert result_lines.text_of('{"custom_id": "a", "result": {"type": "expired"}}') == ""
    assert result_lines.text_of("not json") == "" and result_lines.load("not json") is None


def test_packed_lines_come_back_as_they_went_in():
    lines = [b'{"a": 1}', '{"é": "x"}'.encode(), b"not json, kept anyway"]
    assert result_lines.unpack(result_lines.pack(lines)) == lines


def test_runs_kept_before_zstd_still_read_back():
    """Chunks stored by earlier versions are zlib streams; the upgrade rewrites none of them."""
    import zlib

    lines = [b'{"custom_id":"a"}', b'{"custom_id":"b","x":"\xc3\xa9"}']
    assert result_lines.unpack(zlib.compress(b"\n".join(lines), 1)) == lines
    assert result_lines.unpack(memoryview(zlib.compress(b"\n".join(lines), 6))) == lines
    assert result_lines.pack(lines) != zlib.compress(b"\n".join(lines), 1)  # new runs are zstd


def test_the_newer_usage_fields_and_a_refusals_stop_details_are_read():
    message = {
        "id": "msg_1", "model": "claude-opus-4-6", "stop_reason": "refusal", "content": [],
        "stop_details": {"type": "refusal", "category": "cyber", "explanation": "Exploit development."},
        "usage": {"input_tokens": 5, "output_tokens": 9, "inference_geo": "us", "speed": "fast",
                  "output_tokens_details": {"thinking_tokens": 7}},
    }  # fmt: skip
    line = json.dumps({"custom_id": "r", "result": {"type": "succeeded", "message": message}}).encode()
    fields = result_lines.parse(line)
    assert (fields["inference_geo"], fields["speed"], fields["thinking_tokens"]) == ("us", "fast", 7)
    assert fields["stop_reason"] == "refusal"
    assert (fields["stop_details_type"], fields["stop_details_category"]) == ("refusal", "cyber")
    assert fields["stop_details_explanation"] == "Exploit development."


def test_null_stop_details_and_missing_newer_fields_read_as_empty():
    message = {"id": "m", "model": "x", "stop_reason": "refusal", "stop_details": None,
               "usage": {"input_tokens": 1, "output_tokens": 1}}  # fmt: skip
    fields = result_lines.parse(json.dumps({"custom_id": "r", "result": {"type": "succeeded", "message": message}}))
    assert fields["result_type"] == "succeeded"
    assert (fields["inference_geo"], fields["speed"], fields["stop_details_category"]) == ("", "", "")


@pytest.mark.parametrize("custom_id", ["a\nb", "../../admin", "a/b", "x" * 65, "", "<script>", "é", "a b", 7])
def test_a_custom_id_outside_the_apis_pattern_makes_the_line_malformed_kept_raw(custom_id):
    line = json.dumps({"custom_id": custom_id, "result": {"type": "expired"}}).encode()

    fields = result_lines.parse(line)

    assert fields["result_type"] == "malformed" and fields["custom_id"].startswith("malformed:")
    assert fields["custom_id"] == result_lines.parse(line)["custom_id"]  # stable: a resumed ingest skips it
