"""What `collectstatic` collects, and how: every start of ./bin/start copies, hashes and gzips it all again.

Left out are the files no page ever asks for: the Redoc bundle (the API docs page is Swagger UI's) and source
maps, which only a browser's developer tools fetch: 8 of the 13.5 MB of static files the packages bring.
"""

from django.contrib.staticfiles.apps import StaticFilesConfig as DjangoStaticFilesConfig
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesConfig(DjangoStaticFilesConfig):
    ignore_patterns = [*DjangoStaticFilesConfig.ignore_patterns, "drf_spectacular_sidecar/redoc/*", "*.map"]


class ManifestStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's storage, minus the rewriting of `sourceMappingURL` comments: the maps are not collected, and
    Django would otherwise stop at the first comment naming one ("could not be found"). The comment stays as the
    package wrote it; developer tools get a 404 for the map, and nothing else asks."""

    patterns = tuple(
        (glob, tuple(p for p in rules if "sourceMappingURL" not in (p if isinstance(p, str) else p[0])))
        for glob, rules in CompressedManifestStaticFilesStorage.patterns
    )
