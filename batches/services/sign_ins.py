"""The sign-in history, and ending a user's sessions (an Admin's action, or the IdP's back-channel logout).

Every sign-in keeps the key of the session it opened: ending a user's sessions deletes those sessions from the
session store, whatever the engine, so the next request of each is signed out at once.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.utils import timezone

from batches.models import SignIn
from batches.services import audit


def record(user, *, method: str, username: str = "", provider: str = "", ok: bool = True, reason: str = "",
           ip_address: str | None = None, session_key: str = "", idp_session: str = "") -> SignIn:  # fmt: skip
    return SignIn.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=(username or getattr(user, "get_username", lambda: "")())[:200],
        method=method, provider=provider[:200], ok=ok, reason=reason[:300], ip_address=ip_address,
        session_key=session_key or "", idp_session=idp_session[:200],
    )  # fmt: skip


def _end(sign_ins) -> int:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for sign_in in sign_ins.filter(ok=True, ended_at__isnull=True).exclude(session_key=""):
        session = store(session_key=sign_in.session_key)
        if session.exists(sign_in.session_key):
            session.delete(sign_in.session_key)
            ended += 1
    sign_ins.filter(ended_at__isnull=True).update(ended_at=timezone.now())
    return ended


def end_sessions(user, *, by=None, reason: str = "ended by an Admin") -> int:
    """End every session the user opened; returns how many were still open. Audited."""
    ended = _end(SignIn.objects.filter(user=user))
    audit.record(by, "sessions_ended", user.get_username(), params={"sessions": ended}, detail=reason)
    return ended


def end_idp_session(*, provider: str, user=None, idp_session: str = "") -> int:
    """The IdP said a session ended (back-channel logout): end ours opened by it (its `sid`), or else every SSO
    session of the user. Audited."""
    sign_ins = SignIn.objects.filter(method=SignIn.Method.SSO, provider=provider, ok=True)
    if idp_session:
        sign_ins = sign_ins.filter(idp_session=idp_session)
    elif user is not None:
        sign_ins = sign_ins.filter(user=user)
    else:
        return 0
    users = {s.user for s in sign_ins.filter(ended_at__isnull=True).select_related("user") if s.user}
    ended = _end(sign_ins)
    for each in users:
        audit.record(None, "sessions_ended", each.get_username(), params={"sessions": ended},
                     detail=f"back-channel logout from {provider}")  # fmt: skip
    return ended
