"""The batch tally (batches/models/tally.py): the list's tab counts, kept by triggers through every write path.

Each check compares the tally with the batches counted here, one filter per tab, and with figures by hand."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from batches.models import Batch, BatchTally, Workspace
from batches.services import sync, tally
from tests.threads import at_once

TABS = {
    "all": {},
    "in_progress": {"processing_status": "in_progress"},
    "canceling": {"processing_status": "canceling"},
    "ended": {"processing_status": "ended"},
}


def counted(workspace_ids: list[int] | None = None) -> dict[str, int]:
    """The tabs' counts by scanning the batches, as the list counted them before the tally."""
    batches = Batch.objects.all() if workspace_ids is None else Batch.objects.filter(workspace_id__in=workspace_ids)
    out = {key: batches.filter(**where).count() for key, where in TABS.items()}
    ended = batches.filter(processing_status="ended")
    out["errors"] = (
        ended.filter(errored_count__gt=0).count() + ended.filter(errored_count=0, malformed_count__gt=0).count()
    )
    out["retryable"] = ended.exclude(errored_count=0, expired_count=0, canceled_count=0).count()
    return out


def agrees(*workspaces: Workspace) -> dict[str, int]:
    for ids in [None] + [[w.pk] for w in workspaces]:
        assert BatchTally.objects.counts(ids) == counted(ids), f"workspaces {ids}"
    return BatchTally.objects.counts(None)


def _workspace(name: str) -> Workspace:
    return Workspace.objects.create(name=name, api_key_encrypted="x", api_key_hint="…")


def _batch(workspace: Workspace, name: str, status: str = "in_progress", **counts: int) -> Batch:
    now = timezone.now()
    return Batch.objects.create(
        id=f"msgbatch_{name}", workspace=workspace, processing_status=status, created_at=now,
        expires_at=now + timedelta(hours=24), **counts,
    )  # fmt: skip


@pytest.mark.django_db
def test_every_orm_write_path_moves_the_tally():
    acme, other = _workspace("acme"), _workspace("other")
    a = _batch(acme, "a")
    _batch(acme, "b", "ended", errored_count=2)
    _batch(other, "c", "canceling")
    assert agrees(acme, other) == {"all": 3, "in_progress": 1, "canceling": 1, "ended": 1, "errors": 1, "retryable": 1}

    # save() of every column, and a save that moves nothing (it adds no row)
    a.processing_status, a.expired_count = "ended", 1
    a.save()
    rows = BatchTally.objects.count()
    a.label = "renamed"
    a.save()
    assert BatchTally.objects.count() == rows
    assert agrees(acme, other) == {"all": 3, "in_progress": 0, "canceling": 1, "ended": 2, "errors": 1, "retryable": 2}

    # bulk_create, queryset.update, a malformed line alone counts as an error
    now = timezone.now()
    Batch.objects.bulk_create(
        Batch(id=f"msgbatch_bulk{i}", workspace=other, processing_status="in_progress", created_at=now,
              expires_at=now + timedelta(hours=24)) for i in range(5)
    )  # fmt: skip
    moved = Batch.objects.filter(id__in=["msgbatch_bulk0", "msgbatch_bulk1"])
    moved.update(processing_status="ended", malformed_count=1)
    assert agrees(acme, other) == {"all": 8, "in_progress": 3, "canceling": 1, "ended": 4, "errors": 3, "retryable": 2}

    # a delete, a queryset delete, and a workspace deleted with its batches
    Batch.objects.filter(id="msgbatch_b").delete()
    other.delete()
    assert agrees(acme) == {"all": 1, "in_progress": 0, "canceling": 0, "ended": 1, "errors": 0, "retryable": 1}


@pytest.mark.django_db
def test_the_syncs_upserts_move_the_tally(workspace, emulator):
    emulator.seed_batches(workspace.test_api_key, 4, status="in_progress", n_requests=2)
    emulator.seed_batches(workspace.test_api_key, 2, status="ended", n_requests=3, outcomes={"errored": 1.0})
    sync.catch_up(workspace.pk, full=True)
    assert agrees(workspace) == {"all": 6, "in_progress": 4, "canceling": 0, "ended": 2, "errors": 2, "retryable": 2}
    emulator.advance(3600 * 25)  # the running ones end (expired)
    sync.catch_up(workspace.pk, full=True)
    assert agrees(workspace)["ended"] == 6


@pytest.mark.django_db
def test_compaction_folds_rows_and_keeps_every_count():
    acme = _workspace("acme")
    for i in range(6):
        _batch(acme, f"x{i}")
    for i in range(3):  # three end with errors; one more starts and is deleted (its key sums to 0)
        Batch.objects.filter(id=f"msgbatch_x{i}").update(processing_status="ended", errored_count=1)
    _batch(acme, "gone", "canceling").delete()
    before = agrees(acme)
    assert BatchTally.objects.count() == 6 + 2 * 3 + 2

    assert tally.compact() == 14
    assert BatchTally.objects.count() == 2  # (in_progress) and (ended, errors, failed): the canceling key is 0
    assert agrees(acme) == before == {
        "all": 6, "in_progress": 3, "canceling": 0, "ended": 3, "errors": 3, "retryable": 3,
    }  # fmt: skip
    assert tally.compact() == 2 and BatchTally.objects.count() == 2


@pytest.mark.django_db
def test_install_mends_a_tally_whose_triggers_were_dropped():
    """What a later migration does on SQLite (it rebuilds the batches table without its triggers), and what
    `migrate` then puts right."""
    acme = _workspace("acme")
    _batch(acme, "a")
    with connection.cursor() as cursor:
        for name in ("batch_tally_insert", "batch_tally_delete", "batch_tally_update", "batch_tally_insert_delete"):
            cursor.execute(
                f"DROP TRIGGER IF EXISTS {name}" + (" ON batches_batch" if connection.vendor == "postgresql" else "")
            )
    _batch(acme, "unseen")
    assert BatchTally.objects.counts(None)["all"] == 1  # the write the missing trigger did not see

    call_command("migrate", verbosity=0)
    assert agrees(acme)["all"] == 2
    _batch(acme, "seen")
    assert agrees(acme)["all"] == 3


@pytest.mark.django_db(transaction=True)
def test_compaction_beside_writers_loses_and_doubles_nothing():
    """Writers add and move batches while compactions run in other threads: every count stays exact."""
    acme = _workspace("acme")
    stop, folded = threading.Event(), threading.Event()

    def write() -> int:
        for i in range(40):
            if i == 20:
                # Half way, until a compaction has folded rows: the writes after it must add to what it folded.
                # (Left to timing, a loaded machine's compactor sometimes folded only once all was written.)
                assert folded.wait(30)
            b = _batch(acme, f"{threading.get_ident()}_{i}")
            Batch.objects.filter(pk=b.pk).update(processing_status="ended", canceled_count=1)
        return 40

    def compact() -> None:
        try:
            while not stop.is_set():
                if tally.compact():
                    folded.set()
                time.sleep(0.002)  # SQLite has one writer at a time: leave the writers room
        finally:
            connection.close()  # this thread's own

    compactor = threading.Thread(target=compact)
    compactor.start()
    try:
        assert sum(at_once(2, write)) == 80
    finally:
        stop.set()
        compactor.join()
    assert agrees(acme) == {"all": 80, "in_progress": 0, "canceling": 0, "ended": 80, "errors": 0, "retryable": 80}
    assert folded.is_set()  # a compaction folded rows half way through the writes
    tally.compact()
    assert BatchTally.objects.count() == 1 and agrees(acme)["retryable"] == 80
