"""The OpenID Connect sign-in: allauth's adapter, with every check of the ID token made, nonce included.

allauth skips the signature check when the token came straight from the token endpoint (which the spec allows
over TLS) and sends no nonce; we check the signature against the IdP's JWKS always, pin the issuer to the one
configured, and send a nonce kept in the sign-in's one-time state (checked in adapters.pre_social_login).
"""

from __future__ import annotations

import jwt
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter

from dashboard.sso.refusals import Refused

ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
LEEWAY_SECONDS = 60  # clocks of the IdP and ours may differ this much


def configured_issuer(server_url: str) -> str:
    """The issuer an app is configured with: its server_url without the discovery document's path."""
    return server_url.split("/.well-known/", 1)[0].rstrip("/")


LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class CheckedAdapter(OpenIDConnectOAuth2Adapter):
    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        return self.decode(app, id_token)

    def decode_logout_token(self, app: SocialApp, token: str) -> dict:
        """A back-channel logout token, checked as OpenID Connect Back-Channel Logout 1.0 says (section 2.6)."""
        claims = self.decode(app, token, required=("iss", "aud", "iat", "jti"))
        events = claims.get("events")
        if not isinstance(events, dict) or LOGOUT_EVENT not in events or "nonce" in claims:  # an object, 2.4 says
            raise Refused("bad_token")
        if not claims.get("sub") and not claims.get("sid"):
            raise Refused("bad_token")
        return claims

    def decode(self, app: SocialApp, id_token: str, required=("iss", "aud", "exp", "iat", "sub")) -> dict:
        config = self.openid_config
        issuer = config.get("issuer", "")
        if issuer.rstrip("/") != configured_issuer(app.settings.get("server_url", "")):
            raise Refused("wrong_issuer")
        try:
            alg, key = jwtkit.fetch_key(id_token, config["jwks_uri"], jwtkit.lookup_kid_jwk)
            if alg not in ALGORITHMS:
                raise Refused("bad_token")
            return jwt.decode(
                id_token, key=key, algorithms=[alg], audience=app.client_id, issuer=issuer, leeway=LEEWAY_SECONDS,
                options={"require": list(required)},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise Refused("expired") from None
        except jwt.InvalidIssuerError:
            raise Refused("wrong_issuer") from None
        except jwt.InvalidAudienceError:
            raise Refused("wrong_audience") from None
        except (jwt.PyJWTError, KeyError, ValueError):
            raise Refused("bad_token") from None
