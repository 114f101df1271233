"""Batches created through the Anthropic-compatible pass-through (api/passthrough.py), kept as if made here.

A create's body is kept as the inputs of a confirmed one-part submission, with its submitter and a fingerprint,
in one transaction *before* it is forwarded (as it came; split into a row per request after the answer, by
kept_bodies.py); the batch is linked when the API answers. So:
- an answer that never comes (a 5xx, a cut connection, a dead process) leaves the part "creating" with the reason,
  and the create-once rules of submit.py resolve it (adopt the batch it made, or send it once), never twice;
- the client's retry of the same body (the SDK retries a cut connection, a 5xx) within
  PASSTHROUGH_SAME_BODY_SECONDS finds that submission and gets its batch, not a second one;
- a refusal the API makes before creating anything (429, 529, another 4xx) keeps nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from batches import client
from batches.errors import RetryableAPIError
from batches.models import Submission, SubmissionPart, Workspace
from batches.services import durable, handoff, kept_bodies, mirror_rules, submit
from batches.services.request_stream import BodyError

log = logging.getLogger(__name__)
# Refusals that create nothing: the request was not taken (rate limit, overload), or not acceptable.
NOTHING_MADE = {400, 401, 403, 404, 413, 422, 429, 529}
LABEL = "via API"


@dataclass
class Spooled:
    """A request body kept on disk while it is read and forwarded."""

    path: Path
    size: int
    sha256: str


@dataclass
class Answer:
    """What goes back to the client: the API's own answer (streamed), or one of ours in its shape."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    forwarded: client.Forwarded | None = None

    @classmethod
    def error(cls, status: int, kind: str, message: str, **headers: str) -> Answer:
        import json

        body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        return cls(status, {"content-type": "application/json", **headers}, body)


def _file_chunks(path: Path, size: int = 1 << 18) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


def create(
    workspace: Workspace, user, spooled: Spooled, headers: dict[str, str], *, label: str = LABEL,
    creds: client.Credentials | None = None, first_attempt: bool = False,
) -> Answer:  # fmt: skip
    """Keep, forward, link: the create-batch call of the pass-through. `creds`: the workspace's, when the caller has
    them already (a key is decrypted once a call). `first_attempt`: the client says this call is not a retry (the
    SDK's `x-stainless-retry-count: 0`), so the same body again is a second batch asked on purpose, as the API
    would make it."""
    key = submit.fingerprint("passthrough", workspace.pk, user.pk, spooled.sha256)
    window = timedelta(seconds=settings.PASSTHROUGH_SAME_BODY_SECONDS)
    existing = Submission.objects.filter(fingerprint=key).first()
    if existing and (first_attempt or existing.created_at < timezone.now() - window or _refused(existing)):
        _set_aside(existing, key)  # a new create, not a retry
    elif existing:
        answer = _again(existing, headers)
        if answer is not None:
            return answer
        _set_aside(existing, key)  # the batch it made is deleted: the API would make a new one
    try:
        submission, part, model = _keep(workspace, user, spooled, key, label, headers)
    except BodyError as exc:
        return Answer.error(400, "invalid_request_error", f"The request body could not be read: {exc}.")
    except IntegrityError:  # the same body, a moment earlier, from a client retry racing this one
        return _again(Submission.objects.get(fingerprint=key), headers) or _being_made()
    return _send(submission, part, spooled, headers, model, creds or workspace.credentials)


def _keep(
    workspace, user, spooled: Spooled, key: str, label: str, headers: dict[str, str]
) -> tuple[Submission, SubmissionPart, str]:
    """The submission, its one part ("creating", this call's attempt) and the body as it came, in one transaction;
    and the model of its first request. It keeps the create's betas and user profile, as an upload does: the batch
    is spent under that profile, and a retry from the dashboard sends both again. The body is split into a row per
    request after the forward (kept_bodies.py says why that is safe): in series, that made a create 10x slower."""
    params = (kept_bodies.first_request(spooled.path) or {}).get("params")  # BodyError: not a create body
    model = str(params.get("model") or "")[:128] if isinstance(params, dict) else ""
    now = timezone.now()
    betas = [name.strip() for name in headers.get("anthropic-beta", "").split(",") if name.strip()]
    with transaction.atomic():
        submission = Submission.objects.create(
            workspace=workspace, kind=Submission.Kind.UPLOAD, label=label, created_by=user, fingerprint=key,
            request_count=0, filename="(pass-through)", confirmed_at=now, betas=betas,
            user_profile_id=headers.get("anthropic-user-profile-id", "")[:128],
        )  # fmt: skip
        part = SubmissionPart.objects.create(
            submission=submission, index=0, request_count=0, status=SubmissionPart.Status.CREATING,
            attempted_at=now, attempts=1,
        )  # fmt: skip
        kept_bodies.keep(part, spooled.path)
    return submission, part, model


def _send(
    submission: Submission, part: SubmissionPart, spooled: Spooled, headers: dict[str, str], model: str,
    creds: client.Credentials,
) -> Answer:  # fmt: skip
    try:
        answer = client.forward(creds, "POST", "/v1/messages/batches", headers=headers, endpoint="passthrough.create",
                                body=_file_chunks(spooled.path), content_length=spooled.size,
                                timeout=client.CREATE_TIMEOUT_SECONDS)  # fmt: skip
    except RetryableAPIError as exc:
        _unknown(part, str(exc))
        handoff.enqueue(handoff.SPLIT_KEPT_BODY, part.pk)
        return Answer.error(502, "api_error", "The API could not be reached; retrying this same request is safe: it "
                            "never makes a second batch.", **{"x-should-retry": "true"})  # fmt: skip
    if answer.status == 200:
        try:
            body = answer.read()
            remote = client.parse_batch(body)
        except (RetryableAPIError, ValueError) as exc:  # the answer was cut, or unreadable: what was made is unknown
            _unknown(part, f"the API's answer was lost: {exc}")
            handoff.enqueue(handoff.SPLIT_KEPT_BODY, part.pk)
            return Answer.error(502, "api_error", "The API's answer was lost; retrying this same request is safe.",
                                **{"x-should-retry": "true"})  # fmt: skip
        refused = None
        try:
            # One commit for the link, its audit and the count the API gave (each commit waits for the disk).
            with transaction.atomic():
                # The API counted the requests it took: the submission says so until the split counts them itself.
                count = sum(remote.request_counts.values())
                try:
                    submit.link(submission, part, remote, model=model, counted=count)
                except mirror_rules.MirrorRefused as exc:  # raised once its refusal is written: kept with this commit
                    refused = exc
                else:
                    Submission.objects.filter(pk=submission.pk, request_count=0).update(request_count=count)
        except Exception as exc:  # noqa: BLE001 - the API made the batch: the client gets it whatever befell the link
            # An error here (the database gone, a value it refuses) must not become a 500: the SDK would retry, and
            # the retry could only be told "being created". The part stays "creating" with the reason; the
            # create-once rules adopt the batch the API made (submit.py), here on a retry or by the beat's sweep.
            log.exception("pass-through create, part %s: the API made %s, but linking it failed", part.pk, remote.id)
            reason = f"the API made {remote.id}; recording it failed: {exc}"
            _quietly(lambda: _unknown(part, reason), f"part {part.pk}: noting why")
            _quietly(lambda: handoff.enqueue(handoff.SPLIT_KEPT_BODY, part.pk), f"part {part.pk}: queueing its split")
            return Answer(200, answer.headers, body)
        if refused is not None:
            # The API made it, under an id the mirror holds for another batch: its answer still goes back as it came
            # (an error would have the SDK retry, and make a second batch); the submission says it was not recorded,
            # and the workspace's health bar shows the refusal.
            log.warning("pass-through create, part %s: the API made %s, but the mirror refused it", part.pk, remote.id)
            submit.fail_unrecorded(submission, part, remote, refused)
        handoff.enqueue(handoff.SPLIT_KEPT_BODY, part.pk)
        return Answer(200, answer.headers, body)
    if answer.status in NOTHING_MADE:
        with transaction.atomic():  # nothing was made: nothing is kept (the inputs go with the submission)
            Submission.objects.filter(pk=submission.pk).delete()
    else:  # a 5xx: the API may have made the batch before failing
        _unknown(part, f"the API answered {answer.status}")
        handoff.enqueue(handoff.SPLIT_KEPT_BODY, part.pk)
    return Answer(answer.status, answer.headers, forwarded=answer)


def _quietly(work, what: str) -> None:
    """Bookkeeping after the API has made a batch: tried (once more on a new connection), never raised."""
    try:
        durable.reconnecting(work, f"pass-through create, {what}")
    except Exception:  # noqa: BLE001 - the beat's sweep settles the part and splits its body all the same
        log.exception("pass-through create, %s: failed", what)


def _unknown(part: SubmissionPart, reason: str) -> None:
    """Left "creating" with the reason: submit.py's create-once rules settle it (here on a retry, or the beat)."""
    log.info("pass-through create, part %s: %s; the create-once rules will settle it", part.pk, reason)
    SubmissionPart.objects.filter(pk=part.pk, status=SubmissionPart.Status.CREATING).update(error=reason[:500])


def _set_aside(existing: Submission, key: str) -> None:
    """The earlier submission of this body no longer answers for it (it keeps its row and its batch)."""
    Submission.objects.filter(pk=existing.pk).update(fingerprint=submit.fingerprint(key, existing.pk))


def _refused(submission: Submission) -> bool:
    return submission.parts.filter(status=SubmissionPart.Status.FAILED).exists()


def _again(submission: Submission, headers: dict[str, str]) -> Answer | None:
    """The same body again: the batch it made (retrieved from the API, its answer verbatim), once settled; None if
    the API no longer has that batch (deleted since)."""
    part = submission.parts.first()
    Status = SubmissionPart.Status
    # Settle a lost answer now, by the create-once rules: adopt what the first call made, or (once the API has had
    # SUBMIT_LIST_GRACE_SECONDS to list it) conclude it made nothing and send it once.
    for _ in range(2):
        if part is None or part.batch_id or not (part.status == Status.PENDING or part.error):
            break
        submit.submit_part(submission, part)
        part.refresh_from_db()
    if part and part.batch_id:
        forwarded = client.forward(submission.workspace.credentials, "GET", f"/v1/messages/batches/{part.batch_id}",
                                   headers=headers, endpoint="passthrough.retrieve")  # fmt: skip
        if forwarded.status == 404:
            forwarded.close()
            return None
        return Answer(forwarded.status, forwarded.headers, forwarded=forwarded)
    return _being_made()


def _being_made() -> Answer:
    return Answer.error(409, "conflict_error", "This same request is being created already; retry shortly to get "
                        "its batch.", **{"retry-after": "2", "x-should-retry": "true"})  # fmt: skip
