"""Result downloads: streamed from the kept copy, filtered like the item table, explained when absent."""

from __future__ import annotations

import csv
import io
import json
import zlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat, timezone
from django.utils.html import strip_tags

from batches.models import Batch, Result, ResultChunk
from batches.result_lines import parse as parse_line
from dashboard.exports import CSV_COLUMNS
from dashboard.results import render_result


def url(batch: Batch, fmt: str, query: str = "") -> str:
    return f"/batches/{batch.id}/download.{fmt}" + (f"?{query}" if query else "")


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def jsonl(response) -> list[dict]:
    text = body(response).decode()
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert all(lines), "no blank lines"
    return [json.loads(line) for line in lines]


def csv_table(response) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(body(response).decode(), newline=""))
    header, *rows = list(reader)
    assert header == CSV_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in rows]


def kept_batch(workspace, lines: list[dict]) -> Batch:
    """An ended batch whose results were kept, as the ingest keeps them: one chunk and its rows."""
    now = timezone.now()
    batch = Batch.objects.create(
        id="msgbatch_hostile", workspace=workspace, processing_status=Batch.Status.ENDED, succeeded_count=len(lines),
        request_total=len(lines),
        created_at=now, expires_at=now + timedelta(days=1), ended_at=now, results_ingested_at=now,
    )  # fmt: skip
    raw = [json.dumps(line).encode() for line in lines]
    chunk = ResultChunk.objects.create(
        batch=batch, data=zlib.compress(b"\n".join(raw)), line_count=len(raw), raw_bytes=len(b"\n".join(raw))
    )
    Result.objects.bulk_create(
        Result(batch=batch, chunk=chunk, line_index=i, **parse_line(line)) for i, line in enumerate(raw)
    )
    return batch


def succeeded(custom_id: str, *texts: str) -> dict:
    message = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": t} for t in texts], "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }  # fmt: skip
    return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}


def errored(custom_id: str, message: str) -> dict:
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    return {"custom_id": custom_id, "result": {"type": "errored", "error": error}}


# --- full and filtered JSONL ------------------------------------------------------------------------
def test_full_jsonl_has_every_item_once(viewer_client, mirrored):
    batch = mirrored["ended"]
    response = viewer_client.get(url(batch, "jsonl"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{batch.id}.jsonl"'
    items = jsonl(response)
    assert len(items) == batch.items_ingested == batch.request_total == 125
    kept = Result.objects.filter(batch=batch).values_list("custom_id", flat=True)
    assert {i["custom_id"] for i in items} == set(kept)


def test_full_jsonl_is_streamed(viewer_client, mirrored):
    response = viewer_client.get(url(mirrored["ended"], "jsonl"))
    assert response.streaming is True


def test_full_jsonl_lines_are_the_api_lines_unchanged(viewer_client, mirrored):
    batch = mirrored["ended"]
    kept = {r.custom_id: r.raw_line() for r in Result.objects.filter(batch=batch).select_related("chunk")}
    lines = body(viewer_client.get(url(batch, "jsonl"))).decode().splitlines()
    assert sorted(lines) == sorted(kept.values())


def test_filtered_jsonl_has_only_errored_items(viewer_client, mirrored):
    batch = mirrored["ended"]
    response = viewer_client.get(url(batch, "jsonl", "result_type=errored"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{batch.id}-filtered.jsonl"'
    items = jsonl(response)
    assert {i["custom_id"] for i in items} == {"over-0", "over-1", "over-2", "bad-1"}
    assert all(i["result"]["type"] == "errored" for i in items)


def test_filtered_jsonl_has_only_one_error_type(viewer_client, mirrored):
    items = jsonl(viewer_client.get(url(mirrored["ended"], "jsonl", "error_type=overloaded_error")))
    assert {i["custom_id"] for i in items} == {"over-0", "over-1", "over-2"}


def test_filters_match_the_item_tables(viewer_client, mirrored):
    items = jsonl(viewer_client.get(url(mirrored["ended"], "jsonl", "q=over-&result_type=errored")))
    assert {i["custom_id"] for i in items} == {"over-0", "over-1", "over-2"}


def test_it_reads_each_chunk_once(viewer_client, mirrored):
    batch = mirrored["ended"]
    chunks = batch.chunks.count()
    assert chunks > 1  # tests keep 50 lines a chunk
    response = viewer_client.get(url(batch, "csv"))
    with CaptureQueriesContext(connection) as queries:
        body(response)
    assert sum("resultchunk" in q["sql"] for q in queries.captured_queries) == chunks


def test_full_jsonl_declares_its_size_and_reads_chunks_a_few_at_a_time(viewer_client, mirrored):
    """A browser shows the download's progress and can tell one cut short; 8 chunks are read by one query."""
    batch = mirrored["ended"]
    response = viewer_client.get(url(batch, "jsonl"))
    with CaptureQueriesContext(connection) as queries:
        data = body(response)
    assert int(response["Content-Length"]) == len(data) and data.endswith(b"}\n") and b"\n\n" not in data
    chunk_reads = sum("resultchunk" in q["sql"] for q in queries.captured_queries)
    assert chunk_reads == 1 + -(-batch.chunks.count() // 8)  # the chunk list, then the chunks 8 at a time


def test_a_kept_chunk_of_another_size_than_recorded_stops_the_download(viewer_client, mirrored):
    """Never a file silently other than the size declared: the stream stops, and the client sees it cut short."""
    batch = mirrored["ended"]
    last = batch.chunks.order_by("pk").last()
    ResultChunk.objects.filter(pk=last.pk).update(raw_bytes=last.raw_bytes + 1)
    response = viewer_client.get(url(batch, "jsonl"))
    with pytest.raises(ValueError, match="holds"):
        body(response)


def test_it_serves_the_kept_copy_without_the_api(viewer_client, mirrored, emulator):
    emulator.stop()
    assert len(jsonl(viewer_client.get(url(mirrored["ended"], "jsonl")))) == 125


def test_invalid_filters_give_no_file(viewer_client, mirrored):
    response = viewer_client.get(url(mirrored["ended"], "csv", "result_type=bogus"))
    assert response.status_code == 400
    assert not response.has_header("Content-Disposition")
    assert b"not valid" in response.content


# --- CSV --------------------------------------------------------------------------------------------
def test_csv_has_a_header_and_a_row_per_item(viewer_client, mirrored):
    batch = mirrored["ended"]
    response = viewer_client.get(url(batch, "csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{batch.id}.csv"'
    rows = csv_table(response)
    assert len(rows) == 125
    over = next(r for r in rows if r["custom_id"] == "over-1")
    assert (over["result_type"], over["error_type"]) == ("errored", "overloaded_error")


def test_csv_text_is_the_full_message_text(viewer_client, mirrored):
    batch = mirrored["ended"]
    rows = {r["custom_id"]: r for r in csv_table(viewer_client.get(url(batch, "csv")))}
    for result in Result.objects.filter(batch=batch, result_type="succeeded").select_related("chunk"):
        row = rows[result.custom_id]
        assert row["text"] == render_result(result)["text"] != ""
        assert (row["model"], row["stop_reason"]) == (result.model, result.stop_reason)
        assert int(row["output_tokens"]) == result.output_tokens


def test_filtered_csv_has_only_matching_rows(viewer_client, mirrored):
    response = viewer_client.get(url(mirrored["ended"], "csv", "error_type=overloaded_error"))
    assert response["Content-Disposition"].endswith('-filtered.csv"')
    assert sorted(r["custom_id"] for r in csv_table(response)) == ["over-0", "over-1", "over-2"]


def test_csv_round_trips_quotes_commas_and_newlines(viewer_client, workspace):
    long_text = 'Line one, with "quotes".\nLine two; ' + "x" * 5000
    batch = kept_batch(
        workspace,
        # custom_ids follow the API's pattern (a line outside it is malformed): the text and message carry the rest.
        [succeeded("say-hi-then-bye", long_text, "second block"), errored("plain", 'Bad, "quoted"\r\nmessage')],
    )
    rows = {r["custom_id"]: r for r in csv_table(viewer_client.get(url(batch, "csv")))}
    assert rows["say-hi-then-bye"]["text"] == long_text + "\n\nsecond block"
    assert rows["plain"]["error_message"] == 'Bad, "quoted"\r\nmessage'


def test_csv_rows_are_sorted_by_custom_id_as_the_item_table_is(viewer_client, mirrored):
    batch = mirrored["ended"]
    api_order = list(
        Result.objects.filter(batch=batch).order_by("chunk_id", "line_index").values_list("custom_id", flat=True)
    )
    assert api_order != sorted(api_order)  # the emulator shuffles results, as the API may
    assert [r["custom_id"] for r in csv_table(viewer_client.get(url(batch, "csv")))] == sorted(api_order)


def test_csv_sorted_across_windows_reads_each_chunk_once_per_window(viewer_client, mirrored, monkeypatch):
    monkeypatch.setattr("dashboard.exports.CSV_WINDOW", 40)  # 125 rows: four windows, over three chunks
    batch = mirrored["ended"]
    response = viewer_client.get(url(batch, "csv"))
    with CaptureQueriesContext(connection) as queries:
        rows = csv_table(response)
    assert [r["custom_id"] for r in rows] == sorted(
        Result.objects.filter(batch=batch).values_list("custom_id", flat=True)
    )
    assert all(r["text"] for r in rows if r["result_type"] == "succeeded")
    assert sum("resultchunk" in q["sql"] for q in queries.captured_queries) <= 4 * batch.chunks.count()


def test_csv_carries_the_request_id_of_each_errored_item(viewer_client, workspace):
    line = errored("bad", "text content blocks must be non-empty")
    line["result"]["error"]["request_id"] = "req_011CSHoEeqs5C35K2UUqR7Fy"
    rows = {r["custom_id"]: r for r in csv_table(viewer_client.get(url(kept_batch(workspace, [line]), "csv")))}
    assert rows["bad"]["request_id"] == "req_011CSHoEeqs5C35K2UUqR7Fy"


def test_csv_cost_of_each_item_is_its_batch_price_worked_out_by_hand(viewer_client, workspace):
    # Haiku 4.5: $1 in, $5 out per million tokens, half at batch prices: 3 in + 5 out = $28 / 10^6 / 2 = $0.000014.
    big = succeeded("big", "x")
    big["result"]["message"]["usage"] = {"input_tokens": 2000, "output_tokens": 1000, "cache_read_input_tokens": 10000}
    batch = kept_batch(workspace, [succeeded("small", "hi"), big, errored("bad", "no")])
    rows = {r["custom_id"]: r for r in csv_table(viewer_client.get(url(batch, "csv")))}
    assert rows["small"]["cost_usd"] == "0.000014"
    # 2,000 in × $1 + 1,000 out × $5 + 10,000 cache reads × $0.10 = $8,000 per million = $0.008; half: $0.004.
    assert rows["big"]["cost_usd"] == "0.004"
    assert rows["bad"]["cost_usd"] == "0"  # an errored item costs nothing


def test_csv_leaves_the_cost_of_an_unpriced_model_empty(viewer_client, workspace):
    line = succeeded("new", "hi")
    line["result"]["message"]["model"] = "claude-opus-9-9"
    rows = csv_table(viewer_client.get(url(kept_batch(workspace, [line]), "csv")))
    assert rows[0]["cost_usd"] == ""  # unpriced, never $0


def test_csv_neutralises_formula_looking_cells(viewer_client, workspace):
    # Of the formula signs, a custom_id may only start with "-" (the API's pattern); texts may start with any.
    batch = kept_batch(
        workspace,
        [
            succeeded("-HYPERLINK", '=HYPERLINK("http://evil.example","x")'),
            succeeded("sum", "@SUM(A1:A9)"),
            succeeded("plus", "+cmd"),
            succeeded("minus", "-2+3 is one"),
            errored("-1", "=1+1"),
        ],
    )
    rows = {r["custom_id"]: r for r in csv_table(viewer_client.get(url(batch, "csv")))}
    assert set(rows) == {"'-HYPERLINK", "sum", "plus", "minus", "'-1"}
    assert rows["'-HYPERLINK"]["text"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows["sum"]["text"] == "'@SUM(A1:A9)"
    assert rows["plus"]["text"] == "'+cmd"
    assert rows["minus"]["text"] == "'-2+3 is one"
    assert rows["'-1"]["error_message"] == "'=1+1"


def test_jsonl_keeps_hostile_values_as_they_are(viewer_client, workspace):
    batch = kept_batch(workspace, [succeeded("=1+1", "@x")])
    assert jsonl(viewer_client.get(url(batch, "jsonl"))) == [succeeded("=1+1", "@x")]


# --- no file: explained, never broken ------------------------------------------------------------------
def test_running_batch_explains_there_is_no_file_yet(viewer_client, mirrored):
    response = viewer_client.get(url(mirrored["running"], "csv"))
    assert response.status_code == 409
    assert not response.has_header("Content-Disposition")
    assert response["Content-Type"].startswith("text/html")
    assert b"still in progress" in response.content


def test_ended_batch_not_yet_kept_says_it_is_being_copied(viewer_client, mirrored):
    batch = mirrored["ended"]
    Batch.objects.filter(pk=batch.pk).update(results_ingested_at=None)
    response = viewer_client.get(url(batch, "jsonl"))
    assert response.status_code == 409
    assert not response.has_header("Content-Disposition")
    assert b"being copied here" in response.content


def test_expired_batch_says_when_results_expired(viewer_client, mirrored):
    batch = mirrored["old"]
    assert batch.results_ingested_at is None
    for fmt in ("jsonl", "csv"):
        response = viewer_client.get(url(batch, fmt, "result_type=errored"))
        assert response.status_code == 410
        assert not response.has_header("Content-Disposition")
        expired_on = dateformat.format(timezone.localtime(batch.results_available_until), "j F Y")
        assert f"Results expired on {expired_on}" in strip_tags(response.content.decode())


def test_batch_deleted_in_the_api_before_it_was_kept_is_gone(viewer_client, mirrored):
    batch = mirrored["ended"]
    Batch.objects.filter(pk=batch.pk).update(results_ingested_at=None, gone_from_api_at=timezone.now())
    response = viewer_client.get(url(batch, "csv"))
    assert response.status_code == 410
    assert b"deleted in the API" in response.content


def test_unknown_format_or_batch_is_not_found(viewer_client, mirrored):
    assert viewer_client.get(url(mirrored["ended"], "xlsx")).status_code == 404
    assert viewer_client.get("/batches/msgbatch_nope/download.csv").status_code == 404


# --- access and links ---------------------------------------------------------------------------------
def test_anonymous_is_sent_to_log_in(client, mirrored):
    response = client.get(url(mirrored["ended"], "jsonl"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_rejects_post(viewer_client, mirrored):
    assert viewer_client.post(url(mirrored["ended"], "csv")).status_code == 405


def test_batch_page_links_to_downloads_with_its_filters(viewer_client, mirrored):
    batch = mirrored["ended"]
    page = viewer_client.get(f"/batches/{batch.id}/").content.decode()
    assert f'href="{url(batch, "jsonl")}"' in page and f'href="{url(batch, "csv")}"' in page
    assert "filtered (CSV)" not in page
    page = viewer_client.get(f"/batches/{batch.id}/?result_type=errored").content.decode()
    assert f'href="{url(batch, "csv", "result_type=errored")}"' in page


def test_a_download_is_on_the_record(viewer_client, viewer, mirrored):
    from batches.models import AuditEvent

    viewer_client.get(f"/batches/{mirrored['ended'].id}/download.csv?result_type=errored")
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.target) == (viewer, "download", mirrored["ended"].id)
    assert event.params == {"format": "csv", "result_type": "errored"}
