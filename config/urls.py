from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from dashboard.views import metrics, probes

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's): the dashboard's own, not a 404.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("dashboard/favicon.svg")), name="favicon"),
    # No login: probes and Prometheus (token-guarded) reach these.
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include("api.urls")),
    path("", include("dashboard.urls")),
]

handler400 = "api.errors.bad_request"  # as handler500: JSON for code, a page that says why for people
handler500 = "api.errors.server_error"  # JSON for the REST API and the pass-through, the page for people
