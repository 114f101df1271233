"""Tiny helpers that read settings from the environment and fail loudly on a bad value."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env(name: str, default: str = "") -> str:
    """A string setting; `NAME_FILE` (a path) wins over `NAME`, so secrets can come from files."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = env(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: str) -> int:
    value = env(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envfloat(name: str, default: str) -> float:
    value = env(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    """A comma-separated setting, e.g. ALLOWED_HOSTS=dash.example.com,127.0.0.1."""
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def weak_secret_key(key: str) -> str | None:
    """Why a SECRET_KEY is too weak to sign sessions with, or None: Django's own rule (security.W009)."""
    from django.core.checks.security import base

    if key.startswith(base.SECRET_KEY_INSECURE_PREFIX):
        return f"it starts with {base.SECRET_KEY_INSECURE_PREFIX!r}"
    if len(key) < base.SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {base.SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < base.SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return f"it has {len(set(key))} distinct characters, fewer than {base.SECRET_KEY_MIN_UNIQUE_CHARACTERS}"
    return None


def read_kept(path: Path) -> str:
    """A secret kept in a file (by `manage.py prepare`), or "" when there is none yet. Reads only."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
