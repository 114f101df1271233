"""/metrics: the Prometheus text format, computed from the database at scrape time.

Web, worker and beat are separate processes, so nothing is counted in this one: a custom collector
reads what they wrote. Every query is a grouped read of the batch, workspace, rollup or counter
tables (thousands of rows), never of the results (millions).
"""

from __future__ import annotations

import hmac
import math
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from batches.models import ApiRequestCount, Batch, Delivery, Heartbeat, MirrorRefusal, UsageRollup, Workspace

RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")  # the request_counts of an ended batch


@require_safe
@never_cache
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("no METRICS_TOKEN set")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return HttpResponse("Bearer token required\n", status=401, headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse("wrong token\n", status=403)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


class DashboardCollector:
    def collect(self):
        yield from self._batches()
        yield from self._workspaces()
        yield from self._api_requests()
        yield from self._spend()
        yield from self._heartbeats()
        yield from self._deliveries()

    def _batches(self):
        batches = _gauge("batches", "Mirrored batches", "workspace", "processing_status")
        results = _counter("results", "Requests by result type (request_counts)", "workspace", "result_type")
        incomplete = _counter("results_incomplete", "Succeeded requests whose answer was cut off, paused or refused",
                              "workspace")  # fmt: skip
        lag = _gauge("ingest_pending_batches", "Ended batches whose results are not ingested yet", "workspace")
        lag_age = _gauge("ingest_lag_seconds", "Since the oldest ended, not yet ingested batch ended", "workspace")
        pending = Q(processing_status=Batch.Status.ENDED, results_ingested_at=None, results_unavailable_at=None,
                    gone_from_api_at=None)  # fmt: skip
        rows = Batch.objects.values("workspace__name", "processing_status").annotate(
            n=Count("pk"), pending=Count("pk", filter=pending), oldest=Min("ended_at", filter=pending),
            **{kind: Sum(f"{kind}_count") for kind in RESULT_TYPES}, incomplete=Sum("incomplete_count"),
        ).order_by()  # fmt: skip
        totals: dict[tuple[str, str], int] = {}
        waiting: dict[str, tuple[int, datetime | None]] = {}
        for row in rows:
            workspace = row["workspace__name"]
            batches.add_metric([workspace, row["processing_status"]], row["n"])
            for kind in (*RESULT_TYPES, "incomplete"):
                totals[workspace, kind] = totals.get((workspace, kind), 0) + (row[kind] or 0)
            if row["pending"]:
                waiting[workspace] = (row["pending"], row["oldest"])
        for (workspace, kind), n in sorted(totals.items()):
            if kind == "incomplete":
                incomplete.add_metric([workspace], n)
            else:
                results.add_metric([workspace, kind], n)
        now = timezone.now()
        for workspace in sorted({w for w, _ in totals}):
            n, oldest = waiting.get(workspace, (0, None))
            lag.add_metric([workspace], n)
            lag_age.add_metric([workspace], (now - oldest).total_seconds() if oldest else 0)
        yield from (batches, results, incomplete, lag, lag_age)

    def _workspaces(self):
        since = _gauge("seconds_since_last_sync", "Since the last good sync (+Inf: never)", "workspace")
        failures = _gauge("sync_consecutive_failures", "Failed syncs in a row", "workspace")
        now = timezone.now()
        for name, synced, failed in Workspace.objects.filter(is_active=True).values_list(
            "name", "last_synced_at", "consecutive_failures"
        ):
            since.add_metric([name], (now - synced).total_seconds() if synced else math.inf)
            failures.add_metric([name], failed)
        yield from (since, failures)
        refused = _counter("mirror_refusals", "API answers the mirror refused (mirror_rules)", "workspace")
        rows = MirrorRefusal.objects.values("workspace__name").annotate(n=Sum("count"))
        for row in rows.order_by("workspace__name"):
            refused.add_metric([row["workspace__name"]], row["n"])
        yield refused

    def _api_requests(self):
        calls = _counter("api_requests", "Calls to the Anthropic API, retries included", "endpoint", "status")
        for endpoint, status, count in ApiRequestCount.objects.order_by("endpoint", "status").values_list(
            "endpoint", "status", "count"
        ):
            calls.add_metric([endpoint, status], count)
        yield calls

    def _spend(self):
        spend = _gauge("spend_month_to_date_usd", "Cost of this UTC month's usage (priced)", "workspace")
        month_start = datetime.now(UTC).date().replace(day=1)
        rows = UsageRollup.objects.filter(day__gte=month_start).values("workspace__name").annotate(cost=Sum("cost"))
        for row in rows.order_by("workspace__name"):
            spend.add_metric([row["workspace__name"]], float(row["cost"] or 0))
        yield spend

    def _heartbeats(self):
        age = _gauge("heartbeat_age_seconds", "Since beat sent, or a worker ran, the heartbeat", "process")
        now = timezone.now()
        for name, at in Heartbeat.objects.order_by("name").values_list("name", "at"):
            age.add_metric([name], (now - at).total_seconds())
        yield age

    def _deliveries(self):
        # By channel kind, not name: a personal channel is named after its owner.
        deliveries = _gauge("notification_deliveries", "Notification deliveries by outcome", "kind", "status")
        attempts = _counter("notification_attempts", "Attempts to deliver notifications", "kind", "status")
        rows = Delivery.objects.values("channel__kind", "status").annotate(n=Count("pk"), tries=Sum("attempts"))
        for row in rows.order_by("channel__kind", "status"):
            deliveries.add_metric([row["channel__kind"], row["status"]], row["n"])
            attempts.add_metric([row["channel__kind"], row["status"]], row["tries"] or 0)
        yield from (deliveries, attempts)


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"batch_dashboard_{name}", documentation, labels=list(labels))


def _counter(name: str, documentation: str, *labels: str) -> CounterMetricFamily:
    return CounterMetricFamily(f"batch_dashboard_{name}", documentation, labels=list(labels))


# auto_describe off: registering must not run the queries; each scrape runs them once.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(DashboardCollector())
