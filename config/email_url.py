"""EMAIL_URL, as Django's email settings: `smtp://user:password@host:587?starttls=true`.

- `smtp://host:25`                plain SMTP (add `?starttls=true` to upgrade the connection)
- `smtp+tls://host:587`           STARTTLS (the same as `smtp://…?starttls=true`)
- `smtps://host:465`              SMTP over TLS from the first byte (`ssl=true`)
- `console://` or unset           the console backend: messages are printed, nothing is sent
- `locmem://`                     Django's in-memory outbox (tests)
Options: `starttls`, `ssl`, `timeout` (seconds, default 10), `from` (DEFAULT_FROM_EMAIL). The user name and
password are percent-decoded; keep the whole URL in EMAIL_URL_FILE to keep the password out of the process list.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
TRUE = ("1", "true", "yes", "on")


def email_settings(url: str) -> dict:
    """The EMAIL_* settings for `url` (empty: the console backend)."""
    if not url:
        return {"EMAIL_BACKEND": BACKENDS["console"]}
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = parts.scheme.lower()
    if scheme in ("console", "locmem"):
        return {"EMAIL_BACKEND": BACKENDS[scheme]}
    if scheme not in ("smtp", "smtps", "smtp+tls"):
        raise ImproperlyConfigured(
            f"EMAIL_URL must start smtp://, smtp+tls://, smtps:// or console://, not {scheme}://"
        )
    ssl = scheme == "smtps" or query.get("ssl", "").lower() in TRUE
    starttls = scheme == "smtp+tls" or query.get("starttls", query.get("tls", "")).lower() in TRUE
    if ssl and starttls:
        raise ImproperlyConfigured("EMAIL_URL asks for both ssl (smtps) and starttls: choose one")
    try:
        port = parts.port or (465 if ssl else 587 if starttls else 25)
        timeout = float(query.get("timeout", "10"))
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL has a port or timeout that is not a number") from None
    found = {
        "EMAIL_BACKEND": BACKENDS["smtp"],
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": ssl,
        "EMAIL_USE_TLS": starttls,
        "EMAIL_TIMEOUT": timeout,
    }
    if query.get("from"):
        found["DEFAULT_FROM_EMAIL"] = query["from"]
    return found
