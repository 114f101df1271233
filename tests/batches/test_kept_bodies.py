"""A pass-through create's body kept whole before it is forwarded, then split into a row per request: every request
back exactly as sent, whatever piece boundary it straddles; split once, however many times asked; a body left by a
dead worker split by the sweep; one that cannot be split kept, not lost."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone

from batches.models import KeptBody, RequestInput, Submission, SubmissionPart
from batches.services import kept_bodies
from tests.builders import batch_request

pytestmark = pytest.mark.django_db


def _kept(workspace, user, tmp_path, body: bytes) -> SubmissionPart:
    """A body kept as passthrough.create keeps it: a confirmed submission, its one part "creating", the pieces."""
    path = tmp_path / "body.json"
    path.write_bytes(body)
    submission = Submission.objects.create(workspace=workspace, kind=Submission.Kind.UPLOAD, label="via API",
                                           created_by=user, fingerprint=f"fp-{len(body)}", request_count=0,
                                           confirmed_at=timezone.now())  # fmt: skip
    part = SubmissionPart.objects.create(submission=submission, index=0, request_count=0,
                                         status=SubmissionPart.Status.CREATING)  # fmt: skip
    kept_bodies.keep(part, path)
    return part


def test_a_body_in_many_pieces_splits_into_each_request_as_sent(workspace, make_user, tmp_path, monkeypatch):
    monkeypatch.setattr(kept_bodies, "PIECE", 257)  # pieces end inside requests, and inside "é" and "日本"
    requests = [batch_request(f"r-{i}", f"question {i}: café 日本 " * (i % 5)) for i in range(60)]
    body = json.dumps({"requests": requests}, ensure_ascii=False).encode()
    part = _kept(workspace, make_user("olga", "Operator"), tmp_path, body)
    assert KeptBody.objects.filter(part=part).count() == -(-len(body) // 257)

    assert kept_bodies.split(part.pk)
    rows = list(RequestInput.objects.filter(part=part).order_by("line"))
    assert [(r.line, r.custom_id, r.unpack()) for r in rows] == [
        (i + 1, r["custom_id"], r["params"]) for i, r in enumerate(requests)
    ]
    part.refresh_from_db()
    assert part.request_count == part.submission.request_count == 60
    assert not KeptBody.objects.exists()  # the rows are the inputs now
    assert not kept_bodies.split(part.pk)  # asked again (the task after a reader did it): nothing twice
    assert RequestInput.objects.filter(part=part).count() == 60


def test_a_body_kept_in_zlib_pieces_before_zstd_still_splits(workspace, make_user, tmp_path, monkeypatch):
    """Pieces kept by the previous release (zlib) and not split yet when this one starts are still read."""
    monkeypatch.setattr(kept_bodies, "PIECE", 100)
    requests = [batch_request(f"r-{i}", f"question {i}") for i in range(5)]
    body = json.dumps({"requests": requests}).encode()
    part = _kept(workspace, make_user("olga", "Operator"), tmp_path, body)
    for piece in KeptBody.objects.filter(part=part):
        piece.data = zlib.compress(body[piece.index * 100 : (piece.index + 1) * 100], 1)
        piece.save()

    assert kept_bodies.split(part.pk)
    assert [r.unpack() for r in RequestInput.objects.filter(part=part).order_by("line")] == [
        r["params"] for r in requests
    ]


def test_the_sweep_splits_a_body_a_dead_worker_left_and_not_one_just_kept(workspace, make_user, tmp_path):
    olga = make_user("olga", "Operator")
    old = _kept(workspace, olga, tmp_path, json.dumps({"requests": [batch_request("a")]}).encode())
    Submission.objects.filter(pk=old.submission_id).update(created_at=timezone.now() - timedelta(minutes=6))
    new = _kept(workspace, olga, tmp_path, json.dumps({"requests": [batch_request("b"), batch_request("c")]}).encode())

    assert kept_bodies.split_all() == 1
    assert list(RequestInput.objects.values_list("custom_id", flat=True)) == ["a"]
    assert list(KeptBody.objects.values_list("part_id", flat=True).distinct()) == [new.pk]


def test_a_body_that_is_not_a_create_body_is_kept_and_said_not_lost(workspace, make_user, tmp_path, caplog):
    part = _kept(workspace, make_user("olga", "Operator"), tmp_path, b'{"requests": [{"custom_id": "a"}, 7]}')
    Submission.objects.filter(pk=part.submission_id).update(created_at=timezone.now() - timedelta(minutes=6))

    assert kept_bodies.split_all() == 0
    assert KeptBody.objects.filter(part=part).exists() and not RequestInput.objects.exists()  # nothing half-written
    assert f"part {part.pk}: its kept body cannot be split" in caplog.text
    assert "custom_id" not in caplog.text  # the body itself is never logged
