from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("dashboard.web_urls")),
]

handler500 = "dashboard.views.failures.server_error"
