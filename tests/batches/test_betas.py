"""Beta features through batches: checked against the beta params type, created through the beta endpoint with their
`anthropic-beta` values, refused without them (by our upload check and by the API), kept by retries."""

from __future__ import annotations

import io

from batches.models import Batch, Result
from batches.services import retry, submit, sync, uploads
from tests.builders import batch_request, jsonl

BETA = "context-management-2025-06-27"


def _beta_request(custom_id: str, marker: str = "succeeded") -> dict:
    return batch_request(custom_id, f"hi [emulate:{marker}]", context_management={"edits": []})


def _send(workspace, owner, requests, **options):
    f = io.BytesIO(jsonl(requests))
    validation = uploads.validate(f, **options)
    assert validation.ok, validation.errors
    made = submit.prepare_upload(workspace, owner, f, validation, label="beta", filename="b.jsonl", **options)
    submit.confirm(made.submission, owner)
    submit.submit(made.submission.pk)
    return made.submission


def test_a_beta_field_without_a_beta_is_refused_at_upload_with_what_to_do():
    validation = uploads.validate(io.BytesIO(jsonl([_beta_request("a")])))
    assert not validation.ok
    assert "params.context_management is a beta feature: name the anthropic-beta value" in validation.errors[0].message


def test_a_beta_upload_is_created_with_its_header_and_its_retry_keeps_it(workspace, emulator, make_user):
    owner = make_user("owner", "Operator")
    submission = _send(workspace, owner, [_beta_request("a"), _beta_request("b", "errored:overloaded_error")],
                       betas=[BETA], user_profile_id="uprof_1")  # fmt: skip
    part = submission.parts.get()
    assert part.status == "created", part.error  # the emulator refuses context_management without the header
    batch = Batch.objects.get(pk=part.batch_id)
    assert batch.betas == [BETA] and batch.user_profile_id == "uprof_1"

    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    plan = retry.plan(Result.objects.filter(batch=batch))
    made = retry.create(plan, owner, overrides={}, edits={}, include_needs_fix=False)
    assert made.submission.betas == [BETA] and made.submission.user_profile_id == "uprof_1"
    submit.submit(made.submission.pk)  # what the worker does once the retry commits
    child = made.submission.parts.get()
    assert child.status == "created", child.error


def test_without_the_header_the_api_refuses_the_same_requests(workspace, emulator):
    from batches import client
    from batches.errors import PermanentAPIError

    creds = workspace.credentials
    try:
        client.create_batch(creds, [_beta_request("a")])
    except PermanentAPIError as exc:
        assert exc.status == 400 and "context_management" in exc.message
    else:
        raise AssertionError("the emulator took a beta field without its header")
    assert client.create_batch(creds, [_beta_request("a")], betas=[BETA]).processing_status == "in_progress"


def test_a_conflicting_user_profile_and_a_user_profile_bill_are_flagged_at_upload():
    requests = [batch_request("a", user_profile_id="uprof_other"),
                batch_request("b", billing_policy={"type": "billing_policy", "bill_to": "user_profile"})]  # fmt: skip
    validation = uploads.validate(io.BytesIO(jsonl(requests)), betas=["user-profiles-2026-09-04"],
                                  user_profile_id="uprof_1")  # fmt: skip
    messages = [e.message for e in validation.errors]
    assert any("conflicts with the batch's user profile" in m for m in messages)
    assert any('bill_to "user_profile" is not supported in a batch' in m for m in messages)
