"""Why a sign-in was refused, in words a person can act on. Every refusal leaves no session behind."""

from __future__ import annotations

from allauth.socialaccount.providers.oauth2.client import OAuth2Error


class Refused(OAuth2Error):
    """A sign-in refused for a reason of ours (a claim checked, a rule applied): `code` names it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


TEXT = {
    "unreachable": "We can't reach the sign-in service right now. Try again in a few minutes; if it lasts, "
    "tell your administrator (the identity provider may be down).",
    "wrong_issuer": "The sign-in answer came from another issuer than the one configured, so it was refused.",
    "wrong_audience": "The sign-in answer was meant for another application (its audience is not this "
    "dashboard), so it was refused.",
    "expired": "The sign-in answer had already expired. Sign in again.",
    "bad_token": "The sign-in answer could not be verified (its signature or contents are wrong), so it was refused.",
    "no_id_token": "The identity provider sent no ID token, so the sign-in was refused.",
    "state": "This sign-in was not started here, or was already used (its state does not match). Start again "
    "from the sign-in page.",
    "nonce": "This sign-in answer does not belong to the sign-in you started (its nonce does not match, or was "
    "used before). Start again from the sign-in page.",
    "subject": "The identity provider's answers named two different people, so the sign-in was refused.",
    "no_access": "You signed in, but none of your groups gives access to this dashboard. Ask your administrator "
    "to add you to a group that does.",
    "inactive": "This account has been disabled in the dashboard by an administrator, whatever the identity "
    "provider says. Ask an administrator.",
    "cancelled": "The sign-in was cancelled at the identity provider.",
    "idp_error": "The identity provider refused the sign-in.",
    "ambiguous": "Two sign-in services are configured under the same id, so neither is trusted. An administrator must "
    "keep one (Social applications, in the admin).",
    "rules": "The dashboard's role rules are misconfigured (SSO_ROLE_RULES), so no one can sign in with SSO until "
    "an administrator fixes them.",
}


def text(code: str) -> str:
    return TEXT.get(code, TEXT["bad_token"])


def heading(code: str) -> str:
    return {"unreachable": "Can't reach the sign-in service", "no_access": "No access"}.get(code, "Sign-in refused")
