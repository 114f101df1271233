"""What the REST API answers, field by field: the API's own words (processing_status, request_counts, custom_id)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from batches.models import AuditEvent, Batch, Submission, SubmissionPart
from batches.services import estimates


class RequestCounts(serializers.Serializer):
    processing = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    errored = serializers.IntegerField()
    canceled = serializers.IntegerField()
    expired = serializers.IntegerField()


class BatchSerializer(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="name", read_only=True)
    submitted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    request_counts = RequestCounts(read_only=True)
    shown_status = serializers.CharField(
        read_only=True,
        help_text="As the list page shows it: canceling once a cancel is asked; deleted for a batch deleted in the "
        "API before it ended",
    )
    results_available_until = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Batch
        fields = [
            "id", "workspace", "label", "model", "submitted_by", "processing_status", "shown_status", "request_counts",
            "request_total", "created_at", "expires_at", "ended_at", "cancel_initiated_at", "archived_at",
            "results_available_until", "results_ingested_at", "items_ingested", "malformed_count",
            "cancel_requested_at", "cancel_error", "refresh_requested_at", "gone_from_api_at",
        ]  # fmt: skip


class ErrorTypeCount(serializers.Serializer):
    error_type = serializers.CharField()
    count = serializers.IntegerField()


class Cost(serializers.Serializer):
    """Decimal figures as strings, never floats; null while nothing is priced."""

    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True, coerce_to_string=True)
    standard_cost_usd = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    unpriced_requests = serializers.IntegerField()
    unpriced_models = serializers.ListField(child=serializers.CharField())


class Lineage(serializers.Serializer):
    retry_of = serializers.CharField(allow_null=True, help_text="The batch whose failed items this one retries")
    retried_by = serializers.ListField(child=serializers.CharField(), help_text="Batches that retried its items")
    items = serializers.IntegerField()
    succeeded = serializers.IntegerField(help_text="Counting items that succeeded on a retry")
    recovered = serializers.IntegerField()
    still_failing = serializers.IntegerField()
    inputs_kept = serializers.BooleanField(help_text="Its requests are kept, so failed items can be retried")


class BatchDetailSerializer(BatchSerializer):
    errors_by_type = ErrorTypeCount(many=True, read_only=True)
    cost = Cost(read_only=True, allow_null=True)
    lineage = Lineage(read_only=True)

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "errors_by_type", "cost", "lineage"]


class PartSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubmissionPart
        fields = ["index", "request_count", "status", "error", "batch"]


class ModelEstimate(serializers.Serializer):
    model = serializers.CharField()
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField(allow_null=True, help_text="null: its tokens could not be counted")
    priced = serializers.BooleanField()
    error = serializers.CharField()


class Estimate(serializers.Serializer):
    """The draft's pre-flight estimate at today's batch prices (priced models only; see unpriced_models)."""

    requests = serializers.IntegerField()
    counted = serializers.IntegerField()
    exact = serializers.BooleanField()
    input_tokens = serializers.IntegerField()
    max_output_tokens = serializers.IntegerField()
    cost_low_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    cost_high_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    unpriced_models = serializers.ListField(child=serializers.CharField())
    models = ModelEstimate(many=True)


class SubmissionSerializer(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    parts = PartSerializer(many=True, read_only=True)
    is_draft = serializers.BooleanField(read_only=True)
    estimating = serializers.BooleanField(read_only=True)
    estimate = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id", "workspace", "kind", "label", "created_by", "created_at", "request_count", "filename",
            "parent_batch", "is_draft", "confirmed_at", "discarded_at", "estimating", "estimate", "estimated_at",
            "estimate_error", "parts",
        ]  # fmt: skip

    @extend_schema_field(Estimate(allow_null=True))
    def get_estimate(self, submission: Submission) -> dict | None:
        preview = estimates.preview(submission)
        return preview and Estimate({
            "requests": preview.requests, "counted": preview.counted, "exact": preview.exact,
            "input_tokens": preview.input_tokens, "max_output_tokens": preview.max_tokens,
            "cost_low_usd": preview.cost_low, "cost_high_usd": preview.cost_high,
            "unpriced_models": [line.model for line in preview.unpriced],
            "models": [vars(line) for line in preview.lines],
        }).data  # fmt: skip


class AuditEventSerializer(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor_name", "workspace", "action", "target", "params", "outcome", "detail"]


class Message(serializers.Serializer):
    message = serializers.CharField()


class ErrorDetail(serializers.Serializer):
    type = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False, help_text="Each wrong field and what is wrong with it")


class ErrorSerializer(serializers.Serializer):
    """Every error: the Anthropic API's own shape."""

    type = serializers.CharField()
    error = ErrorDetail()


def paged(item: type[serializers.Serializer], name: str) -> serializers.Serializer:
    """A cursor page of `item`: `next` and `previous` are the URLs of the neighbouring pages (null at the ends)."""
    return type(name, (serializers.Serializer,), {
        "next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
    })()  # fmt: skip
