"""A real OpenID provider for the tests: npm's oidc-provider (tests/oidc/provider.mjs) on 127.0.0.1.

Its users and their groups are set by the test (`idp.user("alice", groups=[...])`), re-read at each sign-in.
`sign_in()` walks the whole code flow with an HTTP client standing in for the browser: the dashboard's button,
the IdP's login and consent pages, the return to the callback. The browser tests walk it in Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from tests.processes import ROOT, Processes, free_port, listening, wait_for

HERE = ROOT / "tests" / "oidc"
CLIENT_ID, CLIENT_SECRET = "batch-dashboard", "test-client-secret-0123456789"


def backchannel_uri(callback: str) -> str:
    # Node resolves localhost to ::1 first; the live server listens on 127.0.0.1.
    return callback.replace("/callback/", "/backchannel-logout/").replace("//localhost:", "//127.0.0.1:")


class Idp:
    def __init__(self, processes: Processes, directory: Path, redirect_uris: list[str]) -> None:
        self.processes, self.port = processes, free_port()
        self.path = directory / "idp.json"
        self.config = {
            "port": self.port,
            "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris,
                         "backchannel_logout_uri": backchannel_uri(redirect_uris[0]),
                         "backchannel_logout_session_required": True}],
            "users": {},
        }  # fmt: skip
        self.process = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write(self) -> None:
        self.path.write_text(json.dumps(self.config))

    def start(self) -> Idp:
        assert shutil.which("node"), "Node.js is needed for the real OpenID provider"
        assert (HERE / "node_modules" / "oidc-provider").exists(), "run `npm ci` in tests/oidc (bin/test does)"
        self._write()
        self.process = self.processes.start("oidc-provider", ["node", str(HERE / "provider.mjs"), str(self.path)])
        wait_for(lambda: listening(self.port), 30, self.process.output)
        return self

    def stop(self) -> None:
        self.process.stop()

    def user(self, sub: str, *, groups: list[str], email: str | None = None) -> None:
        self.config["users"][sub] = {"email": email or f"{sub}@example.com", "preferred_username": sub,
                                     "name": sub.title(), "groups": groups}  # fmt: skip
        self._write()

    def app(self, **settings) -> dict:
        """The SOCIALACCOUNT_PROVIDERS entry config/sso.py would make from OIDC_* for this IdP."""
        return {
            "openid_connect": {
                "OAUTH_PKCE_ENABLED": True,
                "APPS": [
                    {
                        "provider_id": "idp", "name": "Test IdP", "client_id": CLIENT_ID, "secret": CLIENT_SECRET,
                        "settings": {"server_url": self.issuer, "scope": ["openid", "email", "profile", "groups"],
                                     "oauth_pkce_enabled": True, **settings},
                    }
                ],
            }
        }  # fmt: skip


def form_of(html: str) -> tuple[str, dict[str, str]]:
    """The first form of an IdP page: its action and its hidden fields."""
    action = unescape(re.search(r'<form[^>]*action="([^"]*)"', html).group(1))
    fields = {
        unescape(n): unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', html)
    }
    return action, fields


def through_idp(authorize_url: str, sub: str, session: requests.Session | None = None) -> str:
    """Sign in at the IdP as `sub` (its login page, then its consent page); the URL it sends the browser back to."""
    http = session or requests.Session()
    url = authorize_url
    for _ in range(10):
        response = http.get(url, allow_redirects=False, timeout=10)
        if response.status_code in (302, 303):
            location = urljoin(url, response.headers["Location"])
            if urlsplit(location).netloc != urlsplit(authorize_url).netloc:
                return location
            url = location
            continue
        action, fields = form_of(response.text)
        if fields.get("prompt") == "login":
            fields.update(login=sub, password="any")
        response = http.post(urljoin(url, action), data=fields, allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), response.text[:500]
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("the IdP never sent the browser back")
