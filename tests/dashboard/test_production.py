"""./bin/start as a newcomer runs it, measured from outside over real HTTP: gunicorn, whitenoise, login.

Each test starts the whole system (emulator, migrations, worker with beat, web server) in its own var
directory on free ports, and stops it.
"""

from __future__ import annotations

import http.client
import os
import re
import time
from pathlib import Path

import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "r8Vq2kLw9-ZpT4xN7bYc3HdF6sJm1GaE5uQeW0oKiR_yXvBnC7"
# The outside environment (a PostgreSQL or Redis run of the suite) stays out: each start is a newcomer's.
OUTSIDE = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DASHBOARD_",
           "CSRF_", "SECURE_", "ANTHROPIC_", "DJANGO_SETTINGS_MODULE", "LOG_", "METRICS_TOKEN")  # fmt: skip


class Server:
    def __init__(self, port: int, var_dir: Path, log: Path):
        self.port, self.var_dir, self.log = port, var_dir, log

    def request(self, method: str, path: str, headers: dict | None = None, body: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode(errors="replace")
        finally:
            conn.close()

    def wait_for(self, path: str, status: int, timeout: float = 240, headers: dict | None = None) -> str:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.request("GET", path, headers)
                if last[0] == status:
                    return last[2]
            except OSError:
                pass
            time.sleep(0.5)
        pytest.fail(f"{path} never answered {status} (last: {last}); log:\n{self.log.read_text()[-6000:]}")


@pytest.fixture
def start(tmp_path, processes):
    def run(**env: str) -> Server:
        n = len(processes.started)
        port, var_dir = free_port(), tmp_path / f"var{n}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(OUTSIDE)}
        env = {**clean, "PORT": str(port), "EMULATOR_PORT": str(free_port()), "DASHBOARD_VAR_DIR": str(var_dir),
               "SYNC_INTERVAL_SECONDS": "2", **env}  # fmt: skip
        started = processes.start(f"start{n}", [str(ROOT / "bin/start")], env=env)  # stops what it started on TERM
        return Server(port, var_dir, started.log)

    return run


def _cookies(headers: dict) -> dict[str, str]:
    jar = {}
    for name, value in headers.items():
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key] = rest.split(";")[0]
    return jar


def _login_form(server: Server, headers: dict) -> tuple[str, str]:
    """The CSRF cookie and the form's token, as a browser gets them."""
    status, response_headers, body = server.request("GET", "/login/", headers)
    assert status == 200, body
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    return _cookies(response_headers)["csrftoken"], token


def _log_in(server: Server, headers: dict, password: str):
    csrf_cookie, token = _login_form(server, headers)
    form = f"csrfmiddlewaretoken={token}&username=admin&password={password}&next=/"
    return server.request("POST", "/login/", {**headers, "Cookie": f"csrftoken={csrf_cookie}",
                          "Content-Type": "application/x-www-form-urlencoded"}, form)  # fmt: skip


def test_the_start_command_with_nothing_set_serves_the_dashboard_in_production_mode(start):
    server = start()
    assert server.wait_for("/healthz", 200) == "ok"
    ready = server.wait_for("/readyz", 200)  # a worker ran the heartbeat that beat sent
    assert '"status": "ok"' in ready

    status, headers, _ = server.request("GET", "/login/")
    assert status == 200 and headers["Server"].startswith("gunicorn")
    password = (server.var_dir / "admin-password.txt").read_text().strip()
    # The first password stands apart from the logs, in a ruled block with the address on the PORT given
    # (DASHBOARD_URL follows PORT: links in notifications point at this server, not at 8000).
    block = re.search(r"\n(\+-+\+)\n((?:\|.*\|\n)+)\1\n", server.log.read_text())
    assert block, server.log.read_text()[-3000:]
    assert f"| Dashboard: http://127.0.0.1:{server.port}/ " in block.group(2)
    # Into a log (not a terminal) it says where the password is kept, never the password (ensure_admin).
    assert f"| Its password is kept in {server.var_dir / 'admin-password.txt'} " in block.group(2)
    assert password not in server.log.read_text()
    status, headers, _ = _log_in(server, {"Origin": f"http://127.0.0.1:{server.port}"}, password)
    assert status == 302 and headers["Location"] == "/"
    session = _cookies(headers)["sessionid"]
    status, _, page = server.request("GET", "/", {"Cookie": f"sessionid={session}"})
    assert status == 200 and "Batches" in page
    assert "Traceback" not in page

    # Static files: hashed names, a year's caching, compressed, by whitenoise inside gunicorn.
    css = re.search(r'href="(/static/dashboard/app\.[0-9a-f]{12}\.css)"', page).group(1)
    status, headers, _ = server.request("GET", css, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert headers["Content-Encoding"] == "gzip"

    # The API docs page loads all it links (Swagger UI from the collected files, its start script from the view):
    # collectstatic leaves some of the package's files out (config/static.py), never one this page asks for.
    status, _, docs = server.request("GET", "/api/docs/", {"Cookie": f"sessionid={session}"})
    assert status == 200 and "swagger-ui" in docs
    assets = [a.replace("&amp;", "&") for a in re.findall(r'(?:src|href)="([^"]+)"', docs)]
    assert len([a for a in assets if re.match(r"/static/drf_spectacular_sidecar/.*\.[0-9a-f]{12}\.", a)]) == 4, assets
    for asset in assets:
        assert server.request("GET", asset, {"Cookie": f"sessionid={session}"})[0] == 200, asset
    assert (server.var_dir / "secret-key.txt").stat().st_mode & 0o777 == 0o600


def test_behind_a_tls_proxy_login_works_with_the_documented_settings(start):
    server = start(DEBUG="false", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="dash.example.com", DASHBOARD_HTTPS="true")
    # Exempt from the HTTPS redirect (probes speak plain HTTP), though not from ALLOWED_HOSTS.
    server.wait_for("/healthz", 200, headers={"Host": "dash.example.com"})
    password = (server.var_dir / "admin-password.txt").read_text().strip()
    proxied = {"Host": "dash.example.com", "X-Forwarded-Proto": "https", "Origin": "https://dash.example.com"}

    status, headers, _ = _log_in(server, proxied, password)
    assert status == 302 and headers["Location"] == "/", headers
    assert "Secure" in headers["Set-Cookie"]
    assert "Strict-Transport-Security" in headers
    # The same request without the proxy's word is plain HTTP: sent to https.
    status, headers, _ = server.request("GET", "/login/", {"Host": "dash.example.com"})
    assert status == 301 and headers["Location"] == "https://dash.example.com/login/"


def test_without_the_proxy_settings_a_proxied_login_is_refused_by_csrf(start):
    # What happened before DASHBOARD_HTTPS: the server believed it spoke plain HTTP, so the browser's
    # https Origin did not match and every login behind a TLS proxy failed.
    server = start(ALLOWED_HOSTS="dash.example.com")
    server.wait_for("/healthz", 200, headers={"Host": "dash.example.com"})
    password = (server.var_dir / "admin-password.txt").read_text().strip()
    proxied = {"Host": "dash.example.com", "X-Forwarded-Proto": "https", "Origin": "https://dash.example.com"}
    status, _, body = _log_in(server, proxied, password)
    assert status == 403 and "CSRF" in body
