"""The site's URLs plus one that fails, for the 500 page's test."""

from django.urls import path

from config.urls import handler500
from config.urls import urlpatterns as site


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [*site, path("boom/", boom)]
__all__ = ["handler500", "urlpatterns"]
