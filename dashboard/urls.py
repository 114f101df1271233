from django.contrib import admin
from django.urls import include, path

from dashboard import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    # No login: probes and Prometheus (token-guarded) reach these.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include("dashboard.web_urls")),
]

handler500 = "dashboard.views.failures.server_error"
