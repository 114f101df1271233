"""What an SSO sign-in does once the user is known: roles recomputed from the claims, the session's end set,
the sign-in kept in the history and the audit log."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from batches.services import audit, sign_ins, sso_roles
from dashboard.security import client_ip
from dashboard.sso.adapters import GRANTS_ATTR

SSO_UNTIL = "sso_until"  # the session key holding when an SSO session ends (dashboard/sso/middleware.py)


def on_sso_login(sender, request, user, sociallogin=None, **kwargs) -> None:
    if sociallogin is None or not hasattr(request, GRANTS_ATTR):
        return
    grants, provider, idp_session = getattr(request, GRANTS_ATTR)
    changes = sso_roles.apply(user, grants, provider=provider)
    request.session[SSO_UNTIL] = time.time() + settings.SSO_SESSION_HOURS * 3600
    if not request.session.session_key:
        request.session.save()
    sign_ins.record(user, method="sso", provider=provider, ip_address=client_ip(request),
                    session_key=request.session.session_key, idp_session=idp_session)  # fmt: skip
    audit.record(user, "sso_sign_in", user.get_username(),
                 params={"provider": provider, "roles": sorted(map(str, grants)), **changes})  # fmt: skip


def check_role_rules() -> None:
    """A malformed SSO_ROLE_RULES stops every process at start, saying which rule: never a sign-in refused later."""
    try:
        sso_roles.parse_rules(settings.SSO_ROLE_RULES)
    except sso_roles.RuleError as error:
        raise ImproperlyConfigured(str(error)) from None
