from django.contrib import admin
from django.urls import include, path

from dashboard.views import metrics, probes

urlpatterns = [
    path("admin/", admin.site.urls),
    # No login: probes and Prometheus (token-guarded) reach these.
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include("api.urls")),
    path("", include("dashboard.urls")),
]

handler500 = "dashboard.views.server_error.server_error"
