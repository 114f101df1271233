"""The mirror refuses the impossible: an id it holds for another workspace or another batch, an ended batch said to
run again, ids and timestamps no API sends. Each refusal is kept, counted, shown on the health bar and in /metrics.

The collisions are real: two emulators started with the same seed give the same ids (as a stand-in restarted with
its seed would), each behind its own workspace.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from django.contrib.auth.models import User

from batches.client import RemoteBatch
from batches.models import AuditEvent, Batch, MirrorRefusal, NotificationEvent, Result, SubmissionPart, Workspace
from batches.result_lines import CUSTOM_ID
from batches.services import ingest, submit, sync, uploads
from batches.services.upsert import upsert
from emulator import Emulator
from tests.builders import batch_request, jsonl, workspace_on
from tests.html import element, text


def test_a_batch_never_changes_workspace(emulator, twin, db, settings):
    first, second = workspace_on(emulator, "first"), workspace_on(twin, "second")
    held = emulator.seed_batch(first.test_api_key, 20, status="ended")
    sync.sync_workspace(first.pk)
    assert ingest.ingest_batch(held).complete
    same = twin.seed_batch(second.test_api_key, 5, status="in_progress")
    assert same == held  # the collision

    sync.sync_workspace(second.pk)

    batch = Batch.objects.get(pk=held)
    assert batch.workspace_id == first.pk and batch.processing_status == "ended" and batch.request_total == 20
    assert Result.objects.filter(batch=batch).count() == 20
    refusal = MirrorRefusal.objects.get(workspace=second)
    assert refusal.batch_id == held and "another workspace" in refusal.reason
    sync.sync_workspace(second.pk, full=True)
    refusal.refresh_from_db()
    assert refusal.count == 2  # counted, one row per id


def test_a_restarted_stand_in_cannot_set_an_ingested_batch_running_again(emulator, db, client):
    workspace = workspace_on(emulator, "restarted")
    held = emulator.seed_batch(workspace.test_api_key, 30, status="ended")
    sync.sync_workspace(workspace.pk)
    assert ingest.ingest_batch(held).complete
    restarted = Emulator(seed=1, speed=0.0)  # the same seed, the same key: the same id for a new, running batch
    restarted.start(host="127.0.0.1", port=0)
    try:
        restarted.add_workspace(api_key=workspace.test_api_key, name="restarted")
        assert restarted.seed_batch(workspace.test_api_key, 7, status="in_progress") == held
        Workspace.objects.filter(pk=workspace.pk).update(base_url=restarted.base_url)

        sync.sync_workspace(workspace.pk, full=True)
    finally:
        restarted.stop()

    batch = Batch.objects.get(pk=held)
    assert (batch.processing_status, batch.request_total, batch.results_ingested_at is not None) == ("ended", 30, True)
    assert Result.objects.filter(batch=batch).count() == 30
    assert "another batch under an id" in MirrorRefusal.objects.get(batch_id=held).reason
    # Shown on the health bar, and counted in /metrics.
    client.force_login(User.objects.create_superuser("root", "", "pw"))
    bar = text(element(client.get("/health/").content.decode(), "span", class_="refused"))
    assert "refused" in bar and held in bar


def test_an_ended_batch_never_goes_back_to_running(emulator, workspace):
    held = emulator.seed_batch(workspace.test_api_key, 5, status="ended")
    sync.sync_workspace(workspace.pk)
    mirrored = Batch.objects.get(pk=held)
    running_again = RemoteBatch(
        id=held, processing_status="in_progress", request_counts={"processing": 5, "succeeded": 0, "errored": 0,
                                                                 "canceled": 0, "expired": 0},
        created_at=mirrored.created_at, expires_at=mirrored.expires_at, ended_at=None, cancel_initiated_at=None,
        archived_at=None, results_url=None,
    )  # fmt: skip

    refused = upsert(workspace, [running_again])

    assert refused and "ended batch" in refused[0][1]
    assert Batch.objects.get(pk=held).processing_status == "ended"


def _hostile(batch_id: str, created_at: datetime) -> RemoteBatch:
    counts = {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0}
    return RemoteBatch(id=batch_id, processing_status="ended", request_counts=counts, created_at=created_at,
                       expires_at=created_at, ended_at=created_at, cancel_initiated_at=None,
                       archived_at=None, results_url=None)  # fmt: skip


HOSTILE_IDS = ["msgbatch_../../admin", "a/b", "msgbatch_x\nINFO forged line", "", "x" * 300, "<script>", "a b", "é"]


def test_hostile_ids_are_refused_and_odd_timestamps_clamped_so_no_page_fails(workspace, client):
    far = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    early = datetime(1, 1, 1, tzinfo=UTC)
    refused = upsert(workspace, [*(_hostile(i, far) for i in HOSTILE_IDS), _hostile("msgbatch_far", far),
                                 _hostile("msgbatch_early", early)])  # fmt: skip

    assert sorted(r[0] for r in refused) == sorted(HOSTILE_IDS)
    assert set(Batch.objects.values_list("id", flat=True)) == {"msgbatch_far", "msgbatch_early"}
    assert Batch.objects.get(pk="msgbatch_far").created_at.year == 2100
    client.force_login(User.objects.create_superuser("root", "", "pw"))
    for url in ("/", "/batches/msgbatch_far/", "/batches/msgbatch_early/", "/health/", "/errors/", "/spend/"):
        assert client.get(url).status_code in (200, 302), url


def test_a_create_whose_id_the_mirror_holds_fails_visibly(emulator, twin, db, make_user, settings):
    first, second = workspace_on(emulator, "holder"), workspace_on(twin, "sender")
    held = emulator.seed_batch(first.test_api_key, 3, status="ended")  # the seed's first id
    sync.sync_workspace(first.pk)
    owner = make_user("owner", "Operator")
    f = io.BytesIO(jsonl([batch_request("a"), batch_request("b")]))
    submission = submit.prepare_upload(second, owner, f, uploads.validate(f), label="collide",
                                       filename="r.jsonl").submission  # fmt: skip
    assert submit.confirm(submission, owner).created

    assert submit.submit(submission.pk) is False  # the twin's create answers the same id: nothing sent again

    part = SubmissionPart.objects.get(submission=submission)
    assert part.status == "failed" and held in part.error and "could not record it" in part.error
    assert Batch.objects.get(pk=held).workspace_id == first.pk
    assert "another workspace" in MirrorRefusal.objects.get(workspace=second, batch_id=held).reason  # on its health bar
    assert AuditEvent.objects.filter(outcome="error", target__contains=f"submission {submission.pk}").exists()
    assert NotificationEvent.objects.filter(kind="submission.failed").exists()
    assert twin.calls["create"] == 1


def test_refusals_are_counted_in_metrics(workspace, client, settings):
    settings.METRICS_TOKEN = "metrics-token"
    upsert(workspace, [_hostile("a/b", datetime(2026, 1, 1, tzinfo=UTC))])
    upsert(workspace, [_hostile("a/b", datetime(2026, 1, 1, tzinfo=UTC))])

    body = client.get("/metrics", headers={"Authorization": "Bearer metrics-token"}).content.decode()

    assert f'batch_dashboard_mirror_refusals_total{{workspace="{workspace.name}"}} 2.0' in body


HOSTILE_TEXT = ["<script>alert(1)</script>", "line\nINFO forged", '=HYPERLINK("http://evil")', "é\u2028\x00", ""]
HOSTILE_CUSTOM_IDS = ["a/b", "../../admin", "x\ny", "<b>", "x" * 65, "=1+1", "é", " ", "ok_"]


def _fuzzed_line(rng, n: int) -> bytes:
    """One results line with hostile values where the API's own would be: ids, texts, numbers, types."""
    import json as std_json

    # Each line's own: results of one batch have distinct custom_ids (the same id twice is stored once).
    custom_id = rng.choice([*(f"{hostile}{n}" for hostile in HOSTILE_CUSTOM_IDS), f"r{n}", f"r{n}", 7, None, ["r"]])
    number = rng.choice([0, 12, -5, 10**30, 1.5, "12", None, True])
    usage = {"input_tokens": number, "output_tokens": rng.choice([3, -1, "x", 10**20]),
             "cache_read_input_tokens": rng.choice([0, None, {}]),
             "service_tier": rng.choice(HOSTILE_TEXT)}  # fmt: skip
    message = {"id": rng.choice(HOSTILE_TEXT), "model": rng.choice(["claude-haiku-4-5", *HOSTILE_TEXT]),
               "stop_reason": rng.choice(["end_turn", *HOSTILE_TEXT]), "usage": usage,
               "content": [{"type": "text", "text": rng.choice(HOSTILE_TEXT)}]}  # fmt: skip
    error = {"type": "error", "error": {"type": rng.choice(["invalid_request_error", *HOSTILE_TEXT]),
                                        "message": rng.choice(HOSTILE_TEXT)}}  # fmt: skip
    other = {"type": rng.choice(["canceled", "expired", *HOSTILE_TEXT])}
    result = rng.choice([{"type": "succeeded", "message": message}, {"type": "errored", "error": error}, other,
                         {"type": "succeeded"}])  # fmt: skip
    return std_json.dumps({"custom_id": custom_id, "result": result, "line": n}).encode()


def test_fuzzed_hostile_results_are_stored_or_refused_and_no_page_or_download_fails(workspace, client):
    import random

    from batches.services import result_store

    rng = random.Random(20)
    lines = [_fuzzed_line(rng, n) for n in range(300)]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    batch = Batch.objects.create(id="msgbatch_fuzzed", workspace=workspace, processing_status="ended", created_at=now,
                                 expires_at=now, ended_at=now, succeeded_count=len(lines))  # fmt: skip
    result_store.store(batch, lines, result_store.Counts(), resuming=False, renew=lambda: None)
    result_store.finish(batch)

    stored = set(Result.objects.filter(batch=batch).values_list("custom_id", flat=True))
    for custom_id in stored:  # a kept id is the API's pattern, or the mark of a malformed line
        assert CUSTOM_ID.fullmatch(custom_id) or custom_id.startswith("malformed:"), custom_id
    assert Result.objects.filter(batch=batch).count() == len(lines)  # nothing dropped: each line is a row
    kinds = set(Result.objects.filter(batch=batch).values_list("result_type", flat=True))
    assert {"succeeded", "errored", "malformed"} <= kinds  # the fuzz reaches every branch, not only the refusals

    client.force_login(User.objects.create_superuser("root", "", "pw"))
    pages = ["/", f"/batches/{batch.id}/", f"/batches/{batch.id}/?result_type=malformed", "/errors/", "/spend/",
             f"/batches/{batch.id}/download.jsonl", f"/batches/{batch.id}/download.csv", "/health/"]  # fmt: skip
    pages += [f"/batches/{batch.id}/results/{custom_id}/" for custom_id in sorted(stored)[:40]]
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 302), url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if response["Content-Type"].startswith("text/html"):
            assert b"<script>alert(1)" not in body, url
        if url.endswith(".csv"):
            cells = [cell for row in body.decode().splitlines() for cell in row.split(",")]
            assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")], url
