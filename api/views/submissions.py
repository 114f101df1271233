"""Submissions through the REST API: a JSONL (or gzipped) file kept as a draft, its estimate, send, discard.
The upload page's own form, validation and services (batches/services/submit.py): nothing is sent twice."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api import serializers as s
from api.auth import needs
from api.views.common import answers, submission_for
from batches.models import Submission
from batches.services import submit, uploads
from dashboard import access
from dashboard.forms import UploadForm

UPLOAD = inline_serializer("Upload", {
    "workspace": serializers.CharField(), "label": serializers.CharField(required=False),
    "file": serializers.FileField(), "again": serializers.BooleanField(required=False),
})  # fmt: skip


@extend_schema(request={"multipart/form-data": UPLOAD},
               responses=answers(s.SubmissionSerializer, 400, more={201: s.SubmissionSerializer}))  # fmt: skip
@api_view(["POST"])
@parser_classes([MultiPartParser])
@permission_classes([needs("submit_batch")])
def submission_create(request: Request) -> Response:
    """Keep a file of requests as a draft (validated while streamed; nothing sent). The same file for the same
    workspace answers 200 with the submission it made before, unless `again`."""
    form = UploadForm(request.POST, request.FILES, workspaces=access.visible_workspaces(request, "submit_batch"))
    if not form.is_valid():
        raise ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})
    upload, data = form.cleaned_data["file"], form.cleaned_data
    validation = uploads.validate(upload)
    if not validation.ok:
        shown = [f"line {e.line}: {e.message}" if e.line else e.message for e in validation.errors]
        raise ValidationError({"file": [f"{validation.error_count} problem(s), nothing kept.", *shown]})
    made = submit.prepare_upload(data["workspace"], request.user, upload, validation, label=data["label"],
                                 filename=upload.name, again=data["again"])  # fmt: skip
    return Response(_shown(made.submission), status=201 if made.created else 200)


@extend_schema(responses=answers(s.SubmissionSerializer, 404))
@api_view(["GET"])
@permission_classes([needs("view_batch")])
def submission_detail(request: Request, submission_id: int) -> Response:
    """A submission, its parts (and their batches) and, for a draft, the estimate once the worker made it."""
    return Response(_shown(submission_for(request, submission_id)))


@extend_schema(request=None, responses=answers(None, 404, 409, more={202: s.SubmissionSerializer}))
@api_view(["POST"])
@permission_classes([needs("submit_batch")])
def submission_send(request: Request, submission_id: int) -> Response:
    """Send a draft: the worker creates its batches, once however often this is called."""
    submission = submission_for(request, submission_id, "submit_batch")
    made = submit.confirm(submission, request.user)
    if not made.created:
        gone = "discarded" if submission.discarded_at else "sent already"
        return _conflict(f"This submission was {gone}: nothing more is sent.")
    return Response(_shown(submission), status=202)


@extend_schema(request=None, responses=answers(s.SubmissionSerializer, 404, 409))
@api_view(["POST"])
@permission_classes([needs("submit_batch")])
def submission_discard(request: Request, submission_id: int) -> Response:
    """Give up a draft: its kept requests are deleted."""
    submission = submission_for(request, submission_id, "submit_batch")
    if not submit.discard(submission, request.user):
        return _conflict("Only a draft can be discarded: this one was " +
                         ("discarded already." if submission.discarded_at else "sent."))  # fmt: skip
    return Response(_shown(submission))


def _shown(submission: Submission) -> dict:
    fresh = Submission.objects.select_related("workspace", "created_by").get(pk=submission.pk)
    return s.SubmissionSerializer(fresh).data


def _conflict(message: str) -> Response:
    return Response({"type": "error", "error": {"type": "conflict_error", "message": message}}, status=409)
