"""TOTP for local accounts (allauth's MFA): the second step of a password sign-in, required of superusers when
SUPERUSER_TOTP_REQUIRED, and still there with SSO_ONLY (break-glass: a password and a code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from django.contrib.auth.models import User

from batches.models import SignIn

PASSWORD = "pw-root-12345"


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 by hand (SHA-1, 30 s, 6 digits), as an authenticator app computes it."""
    counter = int((at or time.time()) // 30)
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", password=PASSWORD)


def password_step(client):
    response = client.post("/login/?local=1", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert "_auth_user_id" not in client.session  # not signed in on a password alone
    return client.get("/login/code/").content.decode()


def test_a_required_superuser_enrolls_then_signs_in_with_a_password_and_a_code(client, root, settings, monkeypatch):
    settings.SUPERUSER_TOTP_REQUIRED = True
    page = password_step(client)
    secret = re.search(r"<code data-totp-secret>([A-Z2-7=]+)</code>", page).group(1)
    assert "otpauth://totp/" in page and "issuer=Batch%20dashboard" in page

    wrong = client.post("/login/code/", {"code": "000000" if totp(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.post("/login/code/", {"code": totp(secret)}).status_code == 302
    assert "_auth_user_id" in client.session
    assert SignIn.objects.get(user=root).provider == "password + TOTP"

    client.post("/logout/")
    page = password_step(client)  # enrolled: asked for a code, no new key shown
    assert "data-totp-secret" not in page
    used = client.post("/login/code/", {"code": totp(secret)})  # the code just used: refused
    assert "not right" in used.content.decode() and "_auth_user_id" not in client.session
    later = time.time() + 30  # the next code, 30 s on, as the server's clock sees it then
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", type("Clock", (), {"time": staticmethod(lambda: later)}))
    assert client.post("/login/code/", {"code": totp(secret, later)}).status_code == 302


def test_sso_only_still_lets_a_superuser_in_with_a_password_and_a_code(client, root, settings):
    settings.SSO_ONLY = True
    settings.SUPERUSER_TOTP_REQUIRED = True
    page = password_step(client)
    secret = re.search(r"<code data-totp-secret>([A-Z2-7=]+)</code>", page).group(1)
    assert client.post("/login/code/", {"code": totp(secret)}).status_code == 302
    assert client.get("/").status_code == 200


def test_five_wrong_codes_send_the_user_back_to_the_password(client, root, settings):
    settings.SUPERUSER_TOTP_REQUIRED = True
    password_step(client)
    for _ in range(5):
        response = client.post("/login/code/", {"code": "12345x"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/login/code/")["Location"] == "/login/"


def test_without_the_requirement_a_superuser_with_no_code_signs_in_with_the_password(client, root):
    response = client.post("/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_local_user_turns_on_two_step_sign_in_from_the_page_and_is_asked_for_a_code(client, db):
    client.force_login(User.objects.create_user("ana", password=PASSWORD))
    assert 'href="/account/two-step/"' in client.get("/tokens/").content.decode()
    page = client.get("/account/two-step/").content.decode()
    secret = re.search(r"<code data-totp-secret>([A-Z2-7=]+)</code>", page).group(1)
    assert client.get("/account/two-step/").content.decode().count(secret) >= 1  # the same key until it is confirmed
    wrong = client.post("/account/two-step/", {"code": "000000" if totp(secret) != "000000" else "111111"})
    assert "not right" in wrong.content.decode()
    assert client.post("/account/two-step/", {"code": totp(secret)}).status_code == 302
    assert "Two-step sign-in is on" in client.get("/account/two-step/").content.decode()

    client.post("/logout/")
    response = client.post("/login/", {"username": "ana", "password": PASSWORD})
    assert response["Location"] == "/login/code/" and "_auth_user_id" not in client.session
    later = time.time() + 30  # the code just used at enrolment is spent; the next one signs in
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("allauth.mfa.totp.internal.auth.time", type("Clock", (), {"time": staticmethod(lambda: later)}))
        assert client.post("/login/code/", {"code": totp(secret, later)}).status_code == 302
    assert "_auth_user_id" in client.session


def test_an_sso_account_is_sent_to_its_idp_for_a_second_step(client, db):
    user = User.objects.create_user("sso-ana")
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    page = client.get("/account/two-step/").content.decode()
    assert "company's sign-in service" in page and "data-totp-secret" not in page


def test_wrong_codes_count_toward_the_lockout_across_password_entries(client, root, settings):
    """Whoever holds the password got five codes per password entry, for ever: thirty wrong codes, then the right
    one signed in. Each wrong code is now a failed sign-in for the lockout, which then refuses the password step."""
    settings.SUPERUSER_TOTP_REQUIRED = True
    settings.AXES_FAILURE_LIMIT = 7
    for _ in range(5):  # the first pending sign-in: five codes, back to the password
        client.post("/login/?local=1", {"username": "root", "password": PASSWORD})
        client.post("/login/code/", {"code": "000000"})
    password_step(client)
    client.post("/login/code/", {"code": "000000"})
    client.post("/login/code/", {"code": "000000"})  # the seventh wrong code
    again = client.post("/login/?local=1", {"username": "root", "password": PASSWORD})
    assert again.status_code == 429 and "Too many failed logins" in again.content.decode()
    assert "_auth_user_id" not in client.session
