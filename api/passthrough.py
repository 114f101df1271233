"""The Anthropic-compatible pass-through: `Anthropic(base_url="<dashboard>/anthropic", api_key="<dashboard token>")`
works unchanged. The token picks the user and the workspace; the request goes on with that workspace's own key;
the API's answer comes back as it came (status, body, request-id, retry-after, x-should-retry), so the SDK's own
retries work through it. Creates are kept (batches/services/passthrough.py); results are served from the kept copy
once ingested. Keys and bodies are never logged."""

from __future__ import annotations

import os

from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from api.auth import UNKNOWN, as_token_user, token_text
from api.spool import LengthRequired, TooLarge, Unreadable, body_of, read, spool
from batches import client
from batches.errors import PermanentAPIError, RetryableAPIError
from batches.models import Batch, Workspace
from batches.services import audit, mirror_rules, passthrough, tokens
from batches.services.passthrough import Answer
from batches.services.upsert import upsert
from dashboard import exports
from dashboard.access import needed_roles

WORKSPACE_HEADER = "HTTP_ANTHROPIC_WORKSPACE_ID"
COUNT_TOKENS_MAX_BYTES = 32 * 1024 * 1024  # the Messages API's own limit on a request


class Refused(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


def _caller(request, need: str, batch_id: str | None = None) -> tuple[object, Workspace]:
    """The token's user and the workspace this call acts in, or Refused with the API's error shape."""
    token = tokens.authenticate(token_text(request.META))
    if token is None:
        raise Refused(Answer.error(401, "authentication_error", UNKNOWN))
    if batch_id is not None and not mirror_rules.BATCH_ID.fullmatch(batch_id):
        # Never forwarded: ".." or "." would take the workspace's key to another path of the API (/v1/messages).
        raise Refused(_batch_not_found(batch_id[:100]))
    user = as_token_user(token)
    rights, held = user._workspace_roles, tokens.held_workspaces(token)  # read by as_token_user: no query here
    named = request.META.get(WORKSPACE_HEADER, "")
    if batch_id and (mirrored := Batch.objects.filter(pk=batch_id).values_list("workspace_id", flat=True).first()):
        # Another workspace's batch, or one outside the workspace the header names: not confirmed to exist.
        if mirrored not in rights or (named and held[mirrored].name != named):
            raise Refused(_batch_not_found(batch_id))
        chosen = mirrored
    elif len(rights) == 1 and not named:
        chosen = next(iter(rights))
    else:
        # Named, even by a token of one workspace: the API refuses a header naming another workspace than the key's,
        # and a create meant for that one must not land in this one.
        found = next((pk for pk in rights if held[pk].name == named), None)
        if found is None:
            raise Refused(_no_workspace(named, [held[pk] for pk in rights]))
        chosen = found
    if need not in rights.get(chosen, frozenset()):
        raise Refused(
            Answer.error(403, "permission_error", needed_roles(need).removesuffix(".") + " in this workspace.")
        )
    return user, held[chosen]


def _batch_not_found(batch_id: str) -> Answer:
    # The API's own words for an id it does not have: other wording would tell that the dashboard holds the batch.
    return Answer.error(404, "not_found_error", f"Message batch {batch_id} not found.")


def _credentials(workspace: Workspace):
    """The workspace's key and URL, or Refused: a key stored under another secret, or a base URL refused, is the
    dashboard's to fix (an Admin enters it again), so no retry is advised and the API is not asked."""
    try:
        return workspace.credentials
    except PermanentAPIError as exc:
        message = f"The dashboard cannot use the API key of workspace {workspace.name}: {exc.message}."
        raise Refused(Answer.error(502, "api_error", message, **{"x-should-retry": "false"})) from None


def _no_workspace(named: str, workspaces: list[Workspace]) -> Answer:
    held = ", ".join(sorted(workspace.name for workspace in workspaces))
    if not named:
        message = f"This token holds several workspaces ({held}): name one in the anthropic-workspace-id header."
        return Answer.error(400, "invalid_request_error", message)
    return Answer.error(403, "permission_error", f"This token does not hold a workspace {named!r} (it holds: {held}).")


def _length_required() -> Answer:
    return Answer.error(411, "invalid_request_error", "This server cannot read a chunked body: send Content-Length.")


def _too_large() -> Answer:
    return Answer.error(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.")


def _unreadable(exc: Unreadable) -> Answer:
    return Answer.error(400, "invalid_request_error", f"The request body could not be read whole ({exc}).")


def _headers(request) -> dict[str, str]:
    # `anthropic-user-profile-id` too: which end customer a create's requests are for (the SDK's user_profile_id).
    names = {"anthropic-version": "HTTP_ANTHROPIC_VERSION", "anthropic-beta": "HTTP_ANTHROPIC_BETA",
             "anthropic-user-profile-id": "HTTP_ANTHROPIC_USER_PROFILE_ID", "content-type": "CONTENT_TYPE",
             "accept": "HTTP_ACCEPT"}  # fmt: skip
    headers = {name: request.META[key] for name, key in names.items() if request.META.get(key)}
    for name, value in headers.items():
        if not value.isascii():  # the SDK's HTTP client sends ASCII alone: a 500 as it encoded one
            raise Refused(Answer.error(400, "invalid_request_error", f"The {name} header must be ASCII."))
    return headers


def _respond(answer: Answer, request=None, workspace: Workspace | None = None) -> HttpResponse:
    if answer.forwarded is not None and answer.body is None and request is None:
        response = StreamingHttpResponse(answer.forwarded.iter_bytes(), status=answer.status)
        if answer.forwarded.length is not None:  # sent as it comes, not re-framed in chunks (nor held)
            response["Content-Length"] = str(answer.forwarded.length)
    else:
        body = answer.body if answer.body is not None else answer.forwarded.read()
        if request is not None and workspace is not None:
            body = _own_results_url(body, request, workspace)
        response = HttpResponse(body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def _own_results_url(body: bytes, request, workspace: Workspace) -> bytes:
    """An absolute results_url (the real API's) pointed at this pass-through, so the SDK's `results()` comes here
    with the dashboard token; a relative one (joined to base_url by the SDK) is left as it is."""
    upstream = (workspace.base_url or client.DEFAULT_BASE_URL).rstrip("/").encode()
    ours = request.build_absolute_uri("/anthropic").encode()
    return body.replace(upstream + b"/v1/messages/batches/", ours + b"/v1/messages/batches/")


def _forward(request, workspace: Workspace, method: str, path: str, endpoint: str, *, stream: bool = False):
    try:
        forwarded = client.forward(_credentials(workspace), method, path, query=request.META.get("QUERY_STRING", ""),
                                   headers=_headers(request), endpoint=endpoint)  # fmt: skip
    except RetryableAPIError as exc:
        return Answer.error(502, "api_error", f"The API could not be reached: {exc.error_type}.",
                            **{"x-should-retry": "true"})  # fmt: skip
    return Answer(forwarded.status, forwarded.headers, forwarded=forwarded)


def _guarded(view):
    def run(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Refused as refused:
            return _respond(refused.answer)

    run.__name__, run.__doc__ = view.__name__, view.__doc__
    return csrf_exempt(run)


@_guarded
def batches(request) -> HttpResponse:
    """POST: create (kept, then forwarded); GET: list the workspace's batches."""
    if request.method == "POST":
        return _create(request)
    if request.method != "GET":
        return _respond(
            Answer.error(405, "invalid_request_error", "Use GET to list or POST to create.", Allow="GET, POST")
        )
    _, workspace = _caller(request, "view_batch")
    return _respond(_forward(request, workspace, "GET", "/v1/messages/batches", "passthrough.list"), request, workspace)


def _create(request) -> HttpResponse:
    user, workspace = _caller(request, "submit_batch")
    creds = _credentials(workspace)  # before anything is kept: a create that cannot be forwarded keeps nothing
    headers = _headers(request)  # and before up to 256 MB is read: a header that cannot be sent refuses it
    try:
        spooled = spool(request)
    except TooLarge:
        return _respond(_too_large())
    except LengthRequired:
        return _respond(_length_required())
    except Unreadable as exc:
        return _respond(_unreadable(exc))
    try:
        # The SDK numbers its attempts: 0 is a create asked on purpose, even of a body sent before; a retry (1 and
        # up) of one whose answer was lost gets the batch the first made. A client that does not say is deduplicated.
        first_attempt = request.META.get("HTTP_X_STAINLESS_RETRY_COUNT", "").strip() == "0"
        answer = passthrough.create(workspace, user, spooled, headers,
                                    label=f"via API ({user.api_token.name})"[:200], creds=creds,
                                    first_attempt=first_attempt)  # fmt: skip
        return _respond(answer, request, workspace)
    finally:
        os.unlink(spooled.path)


@_guarded
def batch(request, batch_id: str) -> HttpResponse:
    """GET: retrieve; DELETE: delete (audited)."""
    if request.method == "DELETE":
        user, workspace = _caller(request, "cancel_batch", batch_id)
        answer = _forward(request, workspace, "DELETE", f"/v1/messages/batches/{batch_id}", "passthrough.delete")
        audit.record(user, "delete", batch_id, workspace=workspace, params={"via": "pass-through"},
                     outcome="ok" if answer.status == 200 else "error")  # fmt: skip
        return _respond(answer, request, workspace)
    if request.method != "GET":
        return _respond(
            Answer.error(405, "invalid_request_error", "Use GET to retrieve or DELETE to delete.", Allow="GET, DELETE")
        )
    _, workspace = _caller(request, "view_batch", batch_id)
    answer = _forward(request, workspace, "GET", f"/v1/messages/batches/{batch_id}", "passthrough.retrieve")
    return _respond(answer, request, workspace)


@_guarded
def cancel(request, batch_id: str) -> HttpResponse:
    """POST: cancel, forwarded; the mirror takes the API's answer at once; audited."""
    if request.method != "POST":
        return _respond(Answer.error(405, "invalid_request_error", "Use POST to cancel.", Allow="POST"))
    user, workspace = _caller(request, "cancel_batch", batch_id)
    answer = _forward(request, workspace, "POST", f"/v1/messages/batches/{batch_id}/cancel", "passthrough.cancel")
    response = _respond(answer, request, workspace)
    if answer.status == 200:
        upsert(workspace, [client.parse_batch(response.content)])
    audit.record(user, "cancel", batch_id, workspace=workspace, params={"via": "pass-through"},
                 outcome="ok" if answer.status == 200 else "error")  # fmt: skip
    return response


@_guarded
def results(request, batch_id: str) -> HttpResponse:
    """GET: the kept copy once ingested (so results outlive the API's 29 days); until then the API's stream,
    passed on as it comes, never held whole."""
    if request.method != "GET":
        return _respond(Answer.error(405, "invalid_request_error", "Use GET.", Allow="GET"))
    _, workspace = _caller(request, "view_batch", batch_id)
    kept = Batch.objects.filter(pk=batch_id, workspace=workspace).exclude(results_ingested_at=None).first()
    if kept is not None:
        return exports.sized(*exports.kept_jsonl(kept), "application/binary")
    answer = _forward(request, workspace, "GET", f"/v1/messages/batches/{batch_id}/results", "passthrough.results")
    return _respond(answer)


@_guarded
def count_tokens(request) -> HttpResponse:
    if request.method != "POST":
        return _respond(Answer.error(405, "invalid_request_error", "Use POST.", Allow="POST"))
    _, workspace = _caller(request, "view_batch")
    headers = _headers(request)
    if int(request.META.get("CONTENT_LENGTH") or 0) > COUNT_TOKENS_MAX_BYTES:  # refused unread, as a create is
        return _respond(_too_large())
    try:
        body = read(body_of(request), COUNT_TOKENS_MAX_BYTES + 1)
    except LengthRequired:
        return _respond(_length_required())
    except Unreadable as exc:
        return _respond(_unreadable(exc))
    if len(body) > COUNT_TOKENS_MAX_BYTES:
        return _respond(_too_large())
    try:
        forwarded = client.forward(_credentials(workspace), "POST", "/v1/messages/count_tokens", body=body,
                                   query=request.META.get("QUERY_STRING", ""), headers=headers,
                                   endpoint="passthrough.count_tokens")  # fmt: skip
    except RetryableAPIError as exc:
        return _respond(Answer.error(502, "api_error", f"The API could not be reached: {exc.error_type}.",
                                     **{"x-should-retry": "true"}))  # fmt: skip
    return _respond(Answer(forwarded.status, forwarded.headers, forwarded=forwarded), request, workspace)
