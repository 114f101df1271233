"""Production mode fails loudly; the defaults need nothing installed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


STRONG_KEY = "r8Vq2kLw9-ZpT4xN7bYc3HdF6sJm1GaE5uQeW0oKiR_yXvBnC7"
# What a deployment may set: none of it leaks into these runs from the environment of the test run.
# The database and broker too: CI's PostgreSQL + Redis run sets them, and these tests read the embedded defaults.
OURS = (
    "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DASHBOARD_HTTPS", "CSRF_TRUSTED_ORIGINS", "LOG_FORMAT", "SECURE_",
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL",
)  # fmt: skip


def _python(code: str, env: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        cwd=ROOT, capture_output=True, text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DASHBOARD_VAR_DIR": str(var_dir), **env},
    )  # fmt: skip


def _django_setup(env: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    return _python("pass", env, var_dir)


def test_debug_is_off_unless_asked_for(tmp_path):
    assert _python("print(settings.DEBUG)", {}, tmp_path).stdout.strip() == "False"
    assert _python("print(settings.DEBUG)", {"DEBUG": "true"}, tmp_path).stdout.strip() == "True"


def _prepare(env: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    return subprocess.run(
        [sys.executable, "manage.py", "prepare"], cwd=ROOT, capture_output=True, text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DASHBOARD_VAR_DIR": str(var_dir), **env},
    )  # fmt: skip


def test_importing_the_settings_creates_nothing(tmp_path):
    var_dir = tmp_path / "var"
    result = _python("print(settings.DATABASES['default']['NAME'])", {}, var_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(var_dir / "db.sqlite3") and not list(tmp_path.iterdir())
    # Until `manage.py prepare` keeps one, there is no key, and Django refuses to sign anything with none.
    unsigned = _python("print(settings.SECRET_KEY)", {}, var_dir)
    assert unsigned.returncode != 0 and "The SECRET_KEY setting must not be empty" in unsigned.stderr


def test_production_mode_starts_with_nothing_set_on_a_generated_secret_key_kept_in_var(tmp_path):
    made = _prepare({}, tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "broker" / "queue").is_dir()  # the embedded broker's folders, made here too
    first = _python("print(settings.SECRET_KEY); print(settings.ALLOWED_HOSTS)", {}, tmp_path)
    assert first.returncode == 0, first.stderr
    key, hosts = first.stdout.splitlines()
    kept = tmp_path / "secret-key.txt"
    assert kept.read_text().strip() == key and len(key) >= 50 and len(set(key)) >= 5
    assert kept.stat().st_mode & 0o777 == 0o600
    assert hosts == "['localhost', '127.0.0.1', '[::1]']"
    assert _prepare({}, tmp_path).returncode == 0
    again = _python("print(settings.SECRET_KEY)", {}, tmp_path)
    assert again.stdout.strip() == key  # kept, not generated again: sessions and stored API keys survive


def test_the_process_that_generates_the_key_signs_with_it(tmp_path):
    # ./bin/start's `startup` (and a worker) imports the settings before `prepare` keeps a key, then goes on in
    # the same process: migrations, the first admin, the static files.
    code = "from django.core.management import call_command; call_command('prepare'); print(settings.SECRET_KEY)"
    made = _python(code, {}, tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-1] == (tmp_path / "secret-key.txt").read_text().strip()


def test_production_mode_starts_with_a_strong_key_and_allowed_hosts_set(tmp_path):
    result = _python(
        "print(settings.ALLOWED_HOSTS)", {"SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "dash.example.com"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['dash.example.com']" and not (tmp_path / "secret-key.txt").exists()
    assert _prepare({"SECRET_KEY": STRONG_KEY}, tmp_path).returncode == 0
    assert not (tmp_path / "secret-key.txt").exists()  # a key that is set is never replaced by a generated one


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("x", "1 characters, fewer than 50"),
        ("x" * 50, "1 distinct characters, fewer than 5"),
        ("abcde" * 9, "45 characters"),
        ("django-insecure-" + STRONG_KEY, "starts with 'django-insecure-'"),
    ],
)
def test_a_weak_secret_key_is_refused_in_production_with_the_reason(tmp_path, key, reason):
    result = _django_setup({"SECRET_KEY": key}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is too weak for production" in result.stderr and reason in result.stderr


def test_a_weak_secret_key_is_allowed_with_debug_on(tmp_path):
    assert _django_setup({"SECRET_KEY": "x", "DEBUG": "true"}, tmp_path).returncode == 0


def test_a_bad_boolean_is_refused_with_its_name(tmp_path):
    result = _django_setup({"DEBUG": "maybe"}, tmp_path)
    assert result.returncode != 0 and "DEBUG must be true or false" in result.stderr


def _check_deploy(env: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, env={**clean, "DASHBOARD_VAR_DIR": str(var_dir), **env},
    )  # fmt: skip


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path):
    env = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "dash.example.com", "DASHBOARD_HTTPS": "true"}
    result = _check_deploy(env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_names_what_plain_http_leaves_off(tmp_path):
    result = _check_deploy({"SECRET_KEY": STRONG_KEY}, tmp_path)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr  # HSTS, SSL redirect, secure session and CSRF cookies


def test_https_turns_on_the_safe_set_and_each_setting_can_still_be_set_alone(tmp_path):
    show = (
        "print(settings.SECURE_PROXY_SSL_HEADER, settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
        "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.CSRF_TRUSTED_ORIGINS)"
    )
    hosts = {"ALLOWED_HOSTS": "dash.example.com,.example.org"}
    plain = _python(show, hosts, tmp_path).stdout.strip()
    assert plain == "None False 0 False False []"
    https = _python(show, {**hosts, "DASHBOARD_HTTPS": "true"}, tmp_path).stdout.strip()
    assert https == (
        "('HTTP_X_FORWARDED_PROTO', 'https') True 31536000 True True ['https://dash.example.com', 'https://*.example.org']"
    )
    overridden = {"DASHBOARD_HTTPS": "true", "SECURE_SSL_REDIRECT": "false", "SECURE_PROXY_SSL_HEADER": "X-Scheme"}
    assert (
        _python(show, {**hosts, **overridden}, tmp_path).stdout.strip().startswith("('HTTP_X_SCHEME', 'https') False")
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: CI's second run")
@pytest.mark.django_db
def test_postgresql_sessions_run_without_jit():
    # JIT compiled the budget header's query for 193 ms on every page at 100,000 usage rows (bench/spend.py).
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_every_variable_the_settings_read_is_in_the_configuration_reference():
    import re

    read = set()
    for path in [*(ROOT / "config").glob("*.py")]:
        read |= set(re.findall(r"env(?:bool|int|float|list)?\(\s*\"([A-Z][A-Z0-9_]+)\"", path.read_text()))
    read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", (ROOT / "bin/start").read_text()))
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs/configuration.md").read_text()))
    assert len(read) > 60 and read - documented == set()


def test_an_upload_check_longer_than_the_request_watchdog_is_refused(tmp_path):
    # The check must stop with its line-numbered message before the watchdog cuts the request without one.
    result = _django_setup({"SUBMIT_VALIDATE_SECONDS": "700", "DEBUG": "true"}, tmp_path)
    assert result.returncode != 0
    assert "SUBMIT_VALIDATE_SECONDS (700) must be less than WEB_REQUEST_TIMEOUT (630)" in result.stderr
    assert _django_setup({"SUBMIT_VALIDATE_SECONDS": "700", "WEB_REQUEST_TIMEOUT": "900", "DEBUG": "true"},
                         tmp_path).returncode == 0  # fmt: skip
