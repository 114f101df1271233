"""Make what the settings point at: DASHBOARD_VAR_DIR, a generated secret key, the embedded broker's folders."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand
from django.core.management.utils import get_random_secret_key


class Command(BaseCommand):
    help = (
        "Create DASHBOARD_VAR_DIR and what lives in it: the secret key (when SECRET_KEY is not set), the embedded "
        "broker's folders, the static folder for DEBUG. Safe to run again; ./bin/start runs it first."
    )

    def handle(self, *args, **options) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        if not _secret_key_set():
            write_secret(settings.SECRET_KEY_PATH, get_random_secret_key())
            # This process read its settings before the key existed: what it runs next (./bin/start's `startup`,
            # a worker) signs with the kept key, the one another process may have linked into place first.
            settings.SECRET_KEY = settings.SECRET_KEY_PATH.read_text(encoding="utf-8").strip()
            self.stdout.write(f"Generated a secret key, kept in {settings.SECRET_KEY_PATH}")
        for key, folder in settings.CELERY_BROKER_TRANSPORT_OPTIONS.items():
            if "folder" in key:  # the embedded broker's (config/settings.py broker_folders)
                Path(folder).mkdir(parents=True, exist_ok=True)
        if settings.WHITENOISE_USE_FINDERS:
            Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def _secret_key_set() -> bool:
    try:
        return bool(settings.SECRET_KEY)
    except ImproperlyConfigured:  # Django's answer to an empty one
        return False


def write_secret(path: Path, secret: str) -> None:
    """Keep `secret` in `path`, readable by its owner only from the start (never world-readable for a moment).
    Web, worker and beat may start at once: written aside, then linked into place, so a reader never sees a
    half-written file and the first process to link wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    try:
        os.link(aside, path)
    except FileExistsError:
        pass
    finally:
        aside.unlink()
