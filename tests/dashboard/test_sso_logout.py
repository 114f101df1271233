"""Back-channel logout: the real OpenID provider ends its session, and ours ends at once."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
import requests
from django.apps import apps

from batches.models import AuditEvent, SignIn
from batches.roles import sync_role_groups
from tests.oidc.idp import Idp, form_of, through_idp
from tests.processes import wait_for


@pytest.fixture
def idp(processes, tmp_path, settings, live_server, transactional_db) -> Idp:
    sync_role_groups(apps)  # a flush after an earlier transactional test may have emptied the role groups
    idp = Idp(processes, tmp_path, [f"{live_server.url}/sso/idp/callback/"]).start()
    settings.SOCIALACCOUNT_PROVIDERS = idp.app()
    settings.SSO_ROLE_RULES = "ops=Viewer"
    return idp


def signed_in_browser(live_server, idp: Idp, sub: str) -> requests.Session:
    """An HTTP client holding both sessions, the IdP's and ours, as a browser would."""
    http = requests.Session()
    page = http.get(f"{live_server.url}/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    start = http.post(f"{live_server.url}/sso/idp/login/", data={"csrfmiddlewaretoken": token},
                      headers={"Referer": f"{live_server.url}/login/"}, allow_redirects=False)  # fmt: skip
    assert start.status_code == 302, start.text[:300]
    back = http.get(through_idp(start.headers["Location"], sub, session=http), allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"] == "/"
    return http


def test_signing_out_at_the_idp_ends_the_dashboard_session_at_once(live_server, idp, transactional_db):
    idp.user("alice", groups=["ops"])
    http = signed_in_browser(live_server, idp, "alice")
    assert http.get(f"{live_server.url}/", allow_redirects=False).status_code == 200
    assert SignIn.objects.get(username="alice").idp_session  # the IdP's sid, kept to end it by

    confirm = http.get(f"{idp.issuer}/session/end")
    action, fields = form_of(confirm.text)
    http.post(urljoin(confirm.url, action), data={**fields, "logout": "yes"})

    wait_for(lambda: http.get(f"{live_server.url}/", allow_redirects=False).status_code == 302, 15, idp.process.output)
    assert SignIn.objects.get(username="alice").ended_at is not None
    assert "back-channel logout" in AuditEvent.objects.get(action="sessions_ended").detail


def test_a_forged_or_replayed_logout_token_ends_nothing(live_server, idp, transactional_db):
    idp.user("alice", groups=["ops"])
    http = signed_in_browser(live_server, idp, "alice")
    url = f"{live_server.url}/sso/idp/backchannel-logout/"
    assert requests.post(url, data={"logout_token": "not.a.token"}).status_code == 400
    assert requests.post(url, data={}).status_code == 400
    assert http.get(f"{live_server.url}/", allow_redirects=False).status_code == 200
