"""Login protection: a username is locked from an address after repeated failures, audited, and unlocked
by an Admin; passwords are validated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from batches.models import AuditEvent

PASSWORD = "pw-viewer-123"


def _log_in(password: str, client: Client | None = None, **extra):
    return (client or Client()).post("/login/", {"username": "viewer", "password": password}, **extra)


def _fail(times: int, **extra) -> None:
    for _ in range(times):
        _log_in("wrong", **extra)


@pytest.fixture
def limit_3(settings):
    """Three failures instead of the default ten: each refused password costs a full hash check."""
    settings.AXES_FAILURE_LIMIT = 3


def test_nine_failures_still_let_the_right_password_in(viewer, settings):
    assert settings.AXES_FAILURE_LIMIT == 10 and settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    for _ in range(9):
        assert _log_in("wrong").status_code == 200
    assert _log_in(PASSWORD).status_code == 302


def test_the_last_allowed_failure_locks_the_user_out_even_with_the_right_password(viewer, limit_3):
    _fail(2)
    locked = _log_in("wrong")
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "Too many failed logins" in body and "15 minutes" in body and 'name="username"' in body
    client = Client()
    response = _log_in(PASSWORD, client)
    assert response.status_code == 429 and "_auth_user_id" not in client.session


def test_a_lockout_is_audited_once_without_the_password(viewer, limit_3):
    _fail(5)
    _log_in(PASSWORD)
    events = list(AuditEvent.objects.filter(action="lockout"))
    assert len(events) == 1
    assert events[0].target == "viewer" and events[0].params == {"username": "viewer", "ip_address": "127.0.0.1"}
    assert events[0].actor is None and PASSWORD not in str(events[0].__dict__)


def test_the_lockout_ends_after_the_cool_off(viewer, limit_3):
    _fail(3)
    assert _log_in(PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert _log_in(PASSWORD).status_code == 302


def test_the_lockout_is_per_address(viewer, limit_3):
    _fail(3, REMOTE_ADDR="10.1.1.1")
    assert _log_in(PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 429
    assert _log_in(PASSWORD, REMOTE_ADDR="10.1.1.2").status_code == 302


def test_behind_a_proxy_failures_count_against_the_address_it_saw(viewer, settings, limit_3):
    settings.TRUSTED_PROXY_COUNT = 1
    # What a client writes into X-Forwarded-For itself is ignored; the proxy appends the real address.
    _fail(3, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7")
    assert _log_in(PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7").status_code == 429
    assert _log_in(PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert _log_in(PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


@pytest.fixture
def admin_role_client(db, make_user):
    """Staff, in the Admin group, not a superuser."""
    user = make_user("lead", "Admin")
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_sees_the_lockout_and_unlocks_it(viewer, admin_role_client, limit_3):
    _fail(3)
    assert _log_in(PASSWORD).status_code == 429
    page = admin_role_client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "viewer" in page.content.decode()
    attempt = AccessAttempt.objects.get(username="viewer")
    response = admin_role_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _log_in(PASSWORD).status_code == 302


def test_the_admin_role_holds_the_unlock_permissions(db):
    perms = set(Group.objects.get(name="Admin").permissions.values_list("content_type__app_label", "codename"))
    assert {("axes", "view_accessattempt"), ("axes", "delete_accessattempt")} <= perms


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short1!", "too short"), ("password123", "too common"), ("83749201746", "entirely numeric"),
     ("viewer12", "too similar")],
)  # fmt: skip
def test_passwords_are_validated_by_djangos_four_validators(viewer, password, reason):
    with pytest.raises(ValidationError, match=reason):
        password_validation.validate_password(password, viewer)


def test_spraying_many_usernames_from_one_address_is_refused(viewer, settings, limit_3):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 5
    for name in ("ann", "bob", "cy", "dee", "eve", "fay"):  # one try each: no username reaches its own limit
        Client().post("/login/", {"username": name, "password": "Winter2026!"}, REMOTE_ADDR="10.7.7.7")

    assert _log_in(PASSWORD, REMOTE_ADDR="10.7.7.7").status_code != 302  # the right password, the same address
    assert _log_in(PASSWORD, REMOTE_ADDR="10.7.7.8").status_code == 302  # another address is not held back


def test_forwarded_for_counts_only_from_a_trusted_proxy(viewer, settings, limit_3):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    # Straight from the internet, a client's own X-Forwarded-For is ignored: a new value each try changes nothing.
    for n in range(3):
        _log_in("wrong", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert _log_in(PASSWORD, REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429
