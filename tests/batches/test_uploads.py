"""Upload validation and splitting: every problem with its line number, parts within the API's limits, streamed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches.services.uploads import (
    CUSTOM_ID_RE,
    MAX_REPORTED_ERRORS,
    LineError,
    Part,
    Splitter,
    iter_requests,
    limits,
    validate,
)
from tests.builders import jsonl

PARAMS = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello"}]}


def line(custom_id: str = "req-1", **overrides) -> bytes:
    request = {"custom_id": custom_id, "params": PARAMS} | overrides
    return json.dumps(request).encode() + b"\n"


def params_line(**params) -> bytes:
    return json.dumps({"custom_id": "req-1", "params": params}).encode() + b"\n"


def lines(n: int) -> bytes:
    return b"".join(line(f"req-{i}") for i in range(1, n + 1))


def errors_of(data: bytes, **kwargs) -> list[tuple[int, str]]:
    return [(e.line, e.message) for e in validate(io.BytesIO(data), **kwargs).errors]


def test_the_limits_are_the_apis_by_default():
    assert limits() == (100_000, 256 * 1024 * 1024)
    assert CUSTOM_ID_RE.pattern == r"^[A-Za-z0-9_-]{1,64}$"


def test_a_valid_file_is_ok_and_fits_in_one_part():
    v = validate(io.BytesIO(lines(3)))

    assert v.ok and v.request_count == 3 and v.errors == [] and v.error_count == 0
    assert [(p.first_line, p.last_line, p.request_count) for p in v.parts] == [(1, 3, 3)]


def test_sha256_is_of_the_bytes_exactly_as_uploaded():
    data = b"\xef\xbb\xbf" + line("a").replace(b"\n", b"\r\n") + b"  \n" + line("b").rstrip(b"\n")

    assert validate(io.BytesIO(data)).sha256 == hashlib.sha256(data).hexdigest()


def test_sha256_covers_a_file_with_errors_too():
    data = b"not json\n" + line("a")

    assert validate(io.BytesIO(data)).sha256 == hashlib.sha256(data).hexdigest()


def test_blank_lines_are_skipped_and_real_line_numbers_kept():
    data = b"\n   \n" + line("a") + b"\t\r\n" + b"[]\n"

    v = validate(io.BytesIO(data))

    assert v.request_count == 2
    assert [e.line for e in v.errors] == [5]


def test_a_utf8_bom_at_the_start_is_tolerated():
    assert validate(io.BytesIO(b"\xef\xbb\xbf" + lines(2))).ok


def test_a_bom_later_in_the_file_is_an_error_on_its_line():
    assert errors_of(line("a") + b"\xef\xbb\xbf" + line("b"))[0][0] == 2


def test_crlf_line_endings_and_no_final_newline_are_fine():
    data = lines(3).replace(b"\n", b"\r\n").rstrip()

    assert validate(io.BytesIO(data)).ok


def test_invalid_json_is_reported_with_the_parsers_message():
    assert errors_of(line("a") + b'{"custom_id": "b", \n') == [
        (2, "invalid JSON: Expecting property name enclosed in double quotes (column 19)")
    ]


def test_nan_and_infinity_are_not_json():
    data = b'{"custom_id": "a", "params": {"model": "m", "max_tokens": 5, "messages": [1], "temperature": NaN}}\n'

    assert errors_of(data) == [(1, "invalid JSON: NaN is not a valid JSON value")]


def test_json_that_is_not_an_object_is_reported():
    assert errors_of(line("a") + b'["custom_id", "b"]\n' + b"42\n") == [
        (2, 'expected a JSON object {"custom_id": ..., "params": ...}, got a list'),
        (3, 'expected a JSON object {"custom_id": ..., "params": ...}, got 42'),
    ]


def test_invalid_utf8_is_an_error_on_its_line():
    bad = line("b").replace(b"Hello", b"H\xe9llo")

    position = bad.index(b"\xe9") + 1

    assert errors_of(line("a") + bad) == [(2, f"not valid UTF-8: byte 0xe9 at byte {position} of the line")]


def test_a_missing_custom_id_is_reported():
    data = json.dumps({"params": PARAMS}).encode()

    assert errors_of(data) == [(1, "custom_id is missing; expected 1 to 64 characters from A-Z a-z 0-9 _ -")]


def test_a_custom_id_that_is_not_a_string_is_reported():
    assert errors_of(line(17)) == [(1, "custom_id must be a string, got 17")]


def test_an_empty_custom_id_is_reported():
    assert errors_of(line("")) == [(1, "custom_id is empty; expected 1 to 64 characters from A-Z a-z 0-9 _ -")]


def test_a_custom_id_over_64_characters_is_reported_with_its_length():
    assert errors_of(line("x" * 65)) == [(1, "custom_id is 65 characters long; the API takes at most 64")]


def test_a_custom_id_of_64_characters_is_accepted():
    assert validate(io.BytesIO(line("x" * 64))).ok


def test_a_custom_id_with_other_characters_is_reported():
    assert errors_of(line("a b")) == [(1, 'custom_id "a b" has characters outside A-Z a-z 0-9 _ -')]


def test_a_custom_id_ending_in_a_newline_is_reported():
    # CUSTOM_ID_RE.match() alone would accept it: `$` matches before a trailing newline.
    assert errors_of(line("abc\n")) == [(1, 'custom_id "abc\\n" has characters outside A-Z a-z 0-9 _ -')]


def test_a_custom_id_both_too_long_and_with_other_characters_gets_both_messages():
    messages = [m for _, m in errors_of(line("é" * 65))]

    assert messages[0] == "custom_id is 65 characters long; the API takes at most 64"
    assert messages[1].endswith("has characters outside A-Z a-z 0-9 _ -")


def test_a_duplicate_custom_id_names_the_line_it_was_first_seen_on():
    data = line("a") + b"\n" + line("b") + line("a") + line("a")

    assert errors_of(data) == [
        (4, 'duplicate custom_id "a", first seen on line 1'),
        (5, 'duplicate custom_id "a", first seen on line 1'),
    ]


def test_missing_params_is_reported():
    data = json.dumps({"custom_id": "a"}).encode()

    assert errors_of(data) == [(1, "params is missing; expected an object with model, max_tokens and messages")]


def test_params_that_is_not_an_object_is_reported():
    assert errors_of(line("a", params=["claude"])) == [
        (1, "params must be an object with model, max_tokens and messages, got a list")
    ]


def test_each_missing_params_field_is_its_own_error():
    assert errors_of(params_line()) == [
        (1, "params.model is missing; expected a model name"),
        (1, "params.max_tokens is missing; expected a positive integer"),
        (1, "params.messages is missing; expected a non-empty list of messages"),
    ]


def test_a_model_that_is_not_a_name_is_reported():
    assert errors_of(params_line(**(PARAMS | {"model": 3}))) == [(1, "params.model must be a model name, got 3")]


@pytest.mark.parametrize(
    ("max_tokens", "shown"), [(0, "0"), (-5, "-5"), (1.5, "1.5"), ("100", 'the string "100"'), (True, "true")]
)
def test_max_tokens_must_be_a_positive_integer(max_tokens, shown):
    assert errors_of(params_line(**(PARAMS | {"max_tokens": max_tokens}))) == [
        (1, f"params.max_tokens must be a positive integer, got {shown}")
    ]


@pytest.mark.parametrize(("messages", "shown"), [([], "an empty list"), ({"role": "user"}, "an object")])
def test_messages_must_be_a_non_empty_list(messages, shown):
    assert errors_of(params_line(**(PARAMS | {"messages": messages}))) == [
        (1, f"params.messages must be a non-empty list of messages, got {shown}")
    ]


def test_an_unexpected_top_level_key_is_reported():
    assert errors_of(line("a", method="POST")) == [
        (1, 'unexpected key "method": a request has only "custom_id" and "params"')
    ]


def test_an_empty_file_is_one_error():
    v = validate(io.BytesIO(b""))

    assert not v.ok and v.request_count == 0 and v.error_count == 1
    assert v.errors[0].line == 0 and v.errors[0].message.startswith("the file holds no requests")


def test_a_file_of_blank_lines_holds_no_requests():
    assert [e.line for e in validate(io.BytesIO(b"\n  \n\r\n")).errors] == [0]


def test_every_problem_is_reported_in_line_order_not_just_the_first():
    data = line("a") + b"oops\n" + line("a b") + line("c") + params_line() + line("a")

    assert [e for e, _ in errors_of(data)] == [2, 3, 5, 5, 5, 6]


def test_error_count_goes_beyond_the_errors_kept():
    v = validate(io.BytesIO(b"x\n" * 2500))

    assert v.error_count == 2500 and len(v.errors) == MAX_REPORTED_ERRORS
    assert v.errors[0] == LineError(1, "invalid JSON: Expecting value (column 1)") and v.errors[-1].line == 1000


def test_there_are_no_parts_when_there_are_errors():
    v = validate(io.BytesIO(lines(5) + b"{}\n"))

    assert not v.ok and v.parts == []


def test_it_splits_by_request_count():
    data = line("r1") + line("r2") + b"\n" + line("r3") + line("r4") + line("r5") + line("r6") + b"\n\n" + line("r7")

    v = validate(io.BytesIO(data), max_requests=3)

    assert [(p.first_line, p.last_line, p.request_count) for p in v.parts] == [(1, 4, 3), (5, 7, 3), (10, 10, 1)]


def test_body_bytes_is_the_size_of_the_requests_body_built_from_the_lines():
    raw = [line(f"r{i}").strip() for i in range(1, 5)]

    (part,) = validate(io.BytesIO(b"\n".join(raw))).parts

    body = b'{"requests": [' + b",".join(raw) + b"]}"
    assert part.body_bytes == len(body) == 16 + sum(map(len, raw)) + 3


def test_body_bytes_is_never_less_than_what_the_sdk_sends():
    # httpx2 sends json.dumps(..., separators=(",", ":"), ensure_ascii=False): never more than the lines as written.
    raw = [line(f"r{i}", params=PARAMS | {"system": "Réponds en français ✓"}) for i in range(1, 4)]

    (part,) = validate(io.BytesIO(b"".join(raw))).parts

    requests = [request for _, request in iter_requests(io.BytesIO(b"".join(raw)))]
    sent = json.dumps({"requests": requests}, separators=(",", ":"), ensure_ascii=False).encode()
    assert part.body_bytes >= len(sent)


def test_it_splits_by_body_bytes():
    size = len(line("r1").strip())  # all lines below have the same length
    data = b"".join(line(f"r{i}") for i in range(1, 8))

    v = validate(io.BytesIO(data), max_bytes=16 + 3 * size + 2)

    assert [(p.first_line, p.last_line) for p in v.parts] == [(1, 3), (4, 6), (7, 7)]
    assert [p.body_bytes for p in v.parts] == [16 + 3 * size + 2, 16 + 3 * size + 2, 16 + size]


def test_a_part_one_byte_over_the_limit_is_split():
    size = len(line("r1").strip())

    v = validate(io.BytesIO(lines(3)), max_bytes=16 + 3 * size + 1)

    assert [p.request_count for p in v.parts] == [2, 1]


def test_a_request_too_large_for_any_batch_is_an_error():
    large = line("r1", params=PARAMS | {"system": "x" * 100})
    size = len(large.strip())
    max_bytes = 16 + size - 1

    assert errors_of(large + line("r2"), max_bytes=max_bytes) == [
        (
            1,
            f"this request alone is {size:,} bytes ({size + 16:,} as a batch request body); "
            f"the API takes at most {max_bytes:,} bytes per batch",
        )
    ]


def test_a_request_exactly_at_the_limit_is_accepted():
    size = len(line("r1").strip())

    assert validate(io.BytesIO(line("r1")), max_bytes=16 + size).parts == [Part(1, 1, 1, 16 + size)]


def test_the_too_large_message_gives_a_limit_of_whole_megabytes_in_mb():
    v = validate([b"x" * 1024 * 1024], max_bytes=1024 * 1024)

    assert v.errors[0].message.endswith("; the API takes at most 1 MB per batch")


def test_a_100001_line_file_splits_into_100000_and_1(tmp_path):
    path = tmp_path / "big.jsonl"
    message = '{"role": "user", "content": "x"}'
    request = '{"custom_id": "r%d", "params": {"model": "m", "max_tokens": 1, "messages": [' + message + "]}}\n"
    path.write_text("".join(request % i for i in range(100_001)))

    with path.open("rb") as f:
        v = validate(f)

    assert v.ok and v.request_count == 100_001
    assert [(p.first_line, p.last_line, p.request_count) for p in v.parts] == [
        (1, 100_000, 100_000),
        (100_001, 100_001, 1),
    ]


def test_iter_requests_yields_each_request_with_its_line_number_and_skips_blanks():
    data = b"\xef\xbb\xbf" + line("a") + b"\n \n" + line("b").rstrip()

    assert list(iter_requests(io.BytesIO(data))) == [
        (1, {"custom_id": "a", "params": PARAMS}),
        (4, {"custom_id": "b", "params": PARAMS}),
    ]


def test_it_reads_a_django_upload_without_a_final_newline():
    data = lines(2).replace(b"\n", b"\r\n") + line("req-3").rstrip()
    upload = SimpleUploadedFile("requests.jsonl", data, content_type="application/jsonl")

    v = validate(upload)

    assert v.ok and v.request_count == 3 and v.sha256 == hashlib.sha256(data).hexdigest()
    upload.seek(0)
    assert [n for n, _ in iter_requests(upload)] == [1, 2, 3]


def test_it_refuses_a_file_opened_in_text_mode(tmp_path):
    path = tmp_path / "requests.jsonl"
    path.write_bytes(lines(1))

    with path.open() as f, pytest.raises(TypeError, match="binary mode"):
        validate(f)


class GeneratedFile:
    """A file object made of lines produced one at a time: there is never a whole file to hold."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.digest = hashlib.sha256()
        self.size = 0

    def __iter__(self):
        padding = "x" * 2000
        for i in range(self.n):
            raw = line(f"r{i}", params=PARAMS | {"system": padding})
            self.digest.update(raw)
            self.size += len(raw)
            yield raw


def test_it_streams_a_file_that_only_yields_lines():
    f = GeneratedFile(20_000)

    v = validate(f)

    assert v.ok and v.request_count == 20_000 and f.size > 40_000_000
    assert v.sha256 == f.digest.hexdigest()


def test_its_peak_memory_stays_far_below_the_file_size(tmp_path):
    path = tmp_path / "large.jsonl"
    padding = "x" * 10_000
    with path.open("wb") as out:
        for i in range(5_000):
            out.write(line(f"r{i}", params=PARAMS | {"system": padding}))
    size = path.stat().st_size

    tracemalloc.start()
    try:
        with path.open("rb") as f:
            v = validate(f)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert v.ok and size > 50_000_000
    print(f"tracemalloc peak {peak:,} bytes for a {size:,}-byte file")
    assert peak < 2_000_000, f"peak {peak:,} bytes for a {size:,}-byte file"


def test_the_limits_come_from_the_settings_when_used(settings):
    settings.SUBMIT_MAX_REQUESTS = 2
    assert [p.request_count for p in validate(io.BytesIO(lines(5))).parts] == [2, 2, 1]
    splitter = Splitter()
    assert [splitter.add(n, 10) for n in range(1, 6)] == [True, False, True, False, True]


def test_a_file_checked_without_splitting_has_no_parts_and_no_size_limit(settings):
    settings.SUBMIT_MAX_BYTES = 100  # smaller than one line
    v = validate(io.BytesIO(lines(3)), split=False)
    assert v.ok and v.parts == [] and v.request_count == 3
    assert not validate(io.BytesIO(lines(3))).ok


def test_a_field_the_api_does_not_take_is_reported_before_anything_is_sent():
    assert errors_of(params_line(**PARAMS, temperatur=0.5)) == [
        (1, 'params has an unknown field "temperatur": the API takes only the Messages API\'s fields')
    ]
    assert errors_of(params_line(**PARAMS, stream=True)) == [
        (1, "params.stream must not be true: a batch's requests are not streamed")
    ]
    assert validate(io.BytesIO(params_line(**PARAMS, system="Be brief.", stop_sequences=["END"]))).ok


# --- gzip -----------------------------------------------------------------------------------------------
def test_a_gzip_file_is_read_decompressed_whatever_its_name():
    data = lines(3)
    upload = SimpleUploadedFile("requests.jsonl", gzip.compress(data), content_type="application/jsonl")

    v = validate(upload)

    assert v.ok and v.request_count == 3 and v.errors == []
    assert [(p.first_line, p.last_line, p.body_bytes) for p in v.parts] == [
        (1, 3, validate(io.BytesIO(data)).parts[0].body_bytes)
    ]
    assert v.sha256 == hashlib.sha256(data).hexdigest()  # the same requests gzipped or not are the same upload
    upload.seek(0)
    assert [(n, r["custom_id"]) for n, r in iter_requests(upload)] == [(1, "req-1"), (2, "req-2"), (3, "req-3")]


def test_a_gzip_file_keeps_real_line_numbers_and_reports_its_lines_problems():
    data = line("a") + b"\n" + b"{not json\n" + line("a")

    assert errors_of(gzip.compress(data)) == [
        (3, "invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        (4, 'duplicate custom_id "a", first seen on line 1'),
    ]


@pytest.mark.parametrize("cut", [0.5, 0.9], ids=["half", "most"])
def test_a_gzip_file_cut_short_is_one_message_not_an_error_per_line(cut):
    compressed = gzip.compress(lines(2000))
    v = validate(io.BytesIO(compressed[: int(len(compressed) * cut)]))

    assert not v.ok and v.error_count == 1 and v.parts == []
    [(at, message)] = [(e.line, e.message) for e in v.errors]
    assert at == 0 and message.startswith("this is a gzip file, but it is cut short or corrupt")
    assert "UTF-8" not in message


def test_a_corrupt_gzip_file_is_one_message():
    compressed = bytearray(gzip.compress(lines(50)))
    compressed[20:40] = b"\x00" * 20  # inside the deflate stream

    [(at, message)] = errors_of(bytes(compressed))

    assert at == 0 and "gzip file, but it is cut short or corrupt" in message


def test_a_gzip_bomb_of_one_line_is_refused_before_it_is_held():
    bomb = gzip.compress(b"x" * 200_000_000, compresslevel=1)  # 200 MB in under 1 MB
    assert len(bomb) < 1_000_000

    tracemalloc.start()
    try:
        v = validate(io.BytesIO(bomb), max_bytes=4_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [(e.line, e.message) for e in v.errors] == [
        (0, "line 1 of the gzip file decompresses to more than 4,000,000 bytes, more than one batch may hold")
    ]
    assert peak < 12_000_000, f"peak {peak:,} bytes"


def test_a_gzip_file_that_decompresses_past_the_upload_limit_is_refused(settings):
    settings.SUBMIT_MAX_UPLOAD_BYTES = 500_000
    settings.SUBMIT_MAX_BLANK_LINES = 100_000_000  # the byte cap's own test: the blank-line budget has its own
    bomb = gzip.compress(lines(10) + b"\n" * 2_000_000, compresslevel=1)

    v = validate(io.BytesIO(bomb))

    assert not v.ok and [(e.line, e.message) for e in v.errors] == [
        (0, "the gzip file decompresses to more than 500,000 bytes, the most one upload may hold")
    ]


def test_a_plain_file_over_the_upload_limit_is_refused_too():
    v = validate(io.BytesIO(lines(100)), max_upload_bytes=5_000)

    assert [(e.line, e.message) for e in v.errors] == [
        (0, "the file is more than 5,000 bytes, the most one upload may hold")
    ]


def test_a_gzip_of_billions_of_newlines_stops_at_the_blank_line_budget(settings):
    settings.SUBMIT_MAX_BLANK_LINES = 1_000
    # 400 MB of newlines in under 1 MB: a hundred gzip members of 4 MB each (a gzip file may hold several, one after
    # another), which compressing whole at once would spend 2 s of the suite's CPU on.
    bomb = gzip.compress(lines(2)) + gzip.compress(b"\n" * 4_000_000, compresslevel=9) * 100
    assert len(bomb) < 1_000_000

    v = validate(io.BytesIO(bomb))

    assert [(e.line, e.message) for e in v.errors] == [
        (0, "the file has more than 1,000 blank lines (at line 1,003); remove them and upload it again")
    ]


def test_a_plain_line_longer_than_the_line_budget_is_skipped_never_held(settings):
    settings.SUBMIT_MAX_LINE_BYTES = 1_000_000
    data = lines(1) + b'{"custom_id": "big", "params": "' + b"x" * 30_000_000 + b'"}\n' + line("req-3")
    upload = SimpleUploadedFile("requests.jsonl", data, content_type="application/jsonl")

    tracemalloc.start()
    try:
        v = validate(upload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [(e.line, e.message) for e in v.errors] == [
        (2, "this request alone is 30,000,034 bytes; the most one line may be is 1,000,000 bytes")
    ]
    assert v.request_count == 3 and v.sha256 != ""  # the lines after it were read on
    assert peak < 3_000_000, f"peak {peak:,} bytes"


def test_a_long_line_that_is_kept_costs_about_the_line_in_memory():
    padding = "x" * 30_000_000
    data = line("big", params=PARAMS | {"system": padding})
    upload = SimpleUploadedFile("requests.jsonl", data, content_type="application/jsonl")

    tracemalloc.start()
    try:
        v = validate(upload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert v.ok
    # The line's bytes, its text, and the parsed request, each about the line's size; never the quadratic joins.
    assert peak < 4.5 * len(data), f"peak {peak:,} bytes for a {len(data):,}-byte line"


def test_the_check_stops_at_its_time_budget(settings):
    settings.SUBMIT_VALIDATE_SECONDS = 0

    v = validate(io.BytesIO(lines(50)))

    assert not v.ok and v.errors[0].line == 0 and "took longer than 0 s" in v.errors[0].message


def test_a_request_nested_too_deep_is_one_error_not_a_recursion_in_the_worker():
    deep = {"custom_id": "deep", "params": PARAMS | {"metadata": json.loads("[" * 700 + "]" * 700)}}

    v = validate(io.BytesIO(jsonl([deep])))

    assert [(e.line, e.message) for e in v.errors] == [(1, "the request is nested more than 64 levels deep")]


@pytest.mark.parametrize(
    ("messages", "said"),
    [
        ([{"role": "bot", "content": "Hi"}], 'params.messages.0.role must be "user" or "assistant", got "bot"'),
        ([{"role": "user", "content": ""}], "params.messages.0.content is empty"),
        ([{"role": "user", "content": [{"type": "text", "text": ""}]}], "params.messages.0.content.0.text is empty"),
    ],
)
def test_messages_the_api_refuses_are_caught_before_sending(messages, said):
    """Issue 21, point 7: "text content blocks must be non-empty" was the demo's most common error (744 items)."""
    [(line_no, message)] = errors_of(params_line(model="claude-sonnet-4-5", max_tokens=16, messages=messages))
    assert line_no == 1 and said in message


def test_an_empty_final_assistant_message_is_a_prefill_and_fine():
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]
    assert errors_of(params_line(model="claude-sonnet-4-5", max_tokens=16, messages=messages)) == []
