"""The site's URLs plus one that fails, for the 500 page's test."""

from django.urls import path

from config.urls import handler500
from config.urls import urlpatterns as site


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), path("api/v1/boom", boom), path("anthropic/v1/boom", boom), *site]
__all__ = ["handler500", "urlpatterns"]
