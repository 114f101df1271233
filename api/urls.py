"""The REST API under /api/v1/, its schema and docs page; the Anthropic pass-through under /anthropic/."""

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import passthrough
from api.views import batches, reports, submissions
from api.views.common import not_found

app_name = "api"
urlpatterns = [
    path("api/v1/batches", batches.batch_list, name="batch_list"),
    path("api/v1/batches/<str:batch_id>", batches.batch_detail, name="batch_detail"),
    path("api/v1/batches/<str:batch_id>/results", batches.batch_results, name="batch_results"),
    path("api/v1/batches/<str:batch_id>/cancel", batches.batch_cancel, name="batch_cancel"),
    path("api/v1/batches/<str:batch_id>/refresh", batches.batch_refresh, name="batch_refresh"),
    path("api/v1/errors", batches.errors_summary, name="errors"),
    path("api/v1/retry", reports.retry_items, name="retry"),
    path("api/v1/spend", reports.spend, name="spend"),
    path("api/v1/audit", reports.audit_log, name="audit"),
    path("api/v1/submissions", submissions.submission_create, name="submission_create"),
    path("api/v1/submissions/<int:submission_id>", submissions.submission_detail, name="submission_detail"),
    path("api/v1/submissions/<int:submission_id>/send", submissions.submission_send, name="submission_send"),
    path("api/v1/submissions/<int:submission_id>/discard", submissions.submission_discard, name="submission_discard"),
    # The Anthropic-compatible pass-through: Anthropic(base_url="<dashboard>/anthropic", api_key=<token>).
    path("anthropic/v1/messages/batches", passthrough.batches, name="anthropic_batches"),
    path("anthropic/v1/messages/batches/<str:batch_id>", passthrough.batch, name="anthropic_batch"),
    path("anthropic/v1/messages/batches/<str:batch_id>/results", passthrough.results, name="anthropic_results"),
    path("anthropic/v1/messages/batches/<str:batch_id>/cancel", passthrough.cancel, name="anthropic_cancel"),
    path("anthropic/v1/messages/count_tokens", passthrough.count_tokens, name="anthropic_count_tokens"),
    path("api/v1/<path:rest>", not_found),
    path("anthropic/<path:rest>", not_found),
    *(path(root, not_found) for root in ("api/v1", "api/v1/", "anthropic", "anthropic/")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page for people: the login page first, as every page (the schema it reads needs the same session).
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
]
