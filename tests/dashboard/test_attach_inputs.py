"""Attaching a batch's original request file makes its failed items retryable."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import AuditEvent, RequestInput
from tests.builders import batch_request, jsonl
from tests.html import prose


def _file(custom_ids: list[str], extra: str = "") -> SimpleUploadedFile:
    return SimpleUploadedFile("orig.jsonl", jsonl([batch_request(c) for c in custom_ids]) + extra.encode())


def test_requests_are_matched_by_custom_id_and_reported(operator_client, mirrored):
    batch = mirrored["ended"]  # created outside the dashboard: no inputs kept
    response = operator_client.post(f"/batches/{batch.id}/inputs/", {"file": _file(["over-0", "over-1", "nope-1"])})

    body = response.content.decode()
    said = prose(body)
    assert "2 requests matched a result and are now kept." in said and "1 request matches no result" in said
    assert "nope-1" in said and "123 results of the batch still have no inputs." in said
    assert sorted(RequestInput.objects.filter(batch=batch).values_list("custom_id", flat=True)) == ["over-0", "over-1"]
    assert AuditEvent.objects.get(action="attach_inputs").params["matched"] == 2


def test_attached_items_become_retryable(operator_client, mirrored):
    batch = mirrored["ended"]
    before = operator_client.get(f"/retry/?batch={batch.id}&kind=overloaded_error").content.decode()
    assert "3 items have no kept inputs" in prose(before)
    operator_client.post(f"/batches/{batch.id}/inputs/", {"file": _file(["over-0", "over-1", "over-2"])})
    after = operator_client.get(f"/retry/?batch={batch.id}&kind=overloaded_error").content.decode()
    assert "3 items can be sent again" in prose(after) and "no kept inputs" not in prose(after)


def test_attaching_twice_keeps_one_copy(operator_client, mirrored):
    url = f"/batches/{mirrored['ended'].id}/inputs/"
    operator_client.post(url, {"file": _file(["over-0"])})
    body = operator_client.post(url, {"file": _file(["over-0"])}).content.decode()
    assert "1 was kept already." in prose(body) and RequestInput.objects.count() == 1


def test_a_malformed_file_attaches_nothing_and_says_where(operator_client, mirrored):
    response = operator_client.post(f"/batches/{mirrored['ended'].id}/inputs/", {"file": _file(["over-0"], "{bad\n")})
    assert response.status_code == 400 and '<td class="num">2</td>' in response.content.decode()
    assert not RequestInput.objects.exists()


def test_viewers_cannot_attach(viewer_client, mirrored):
    assert (
        viewer_client.post(f"/batches/{mirrored['ended'].id}/inputs/", {"file": _file(["over-0"])}).status_code == 403
    )
