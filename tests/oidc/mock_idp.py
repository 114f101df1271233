"""A thread-based OpenID provider that signs whatever ID token a test asks for (a wrong issuer, audience,
an expired one, a nonce replayed): the fast negative tests. The real provider (idp.py) serves the rest.

It answers discovery, JWKS, the token endpoint and userinfo; the authorization step is the test's own: it
takes the dashboard's redirect, and comes back to the callback with a code and the state it was given.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID, CLIENT_SECRET = "mock-client", "mock-secret-0123456789"


class MockIdp:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.claims: dict = {}  # overrides of the next ID token's claims
        self.signing_key = self.key  # another key than the JWKS publishes: a forged signature
        self.discovery_issuer = ""  # another issuer than the one configured, claimed by the discovery document
        self.sub, self.groups = "mallory", ["ops"]
        self.nonces: dict[str, str] = {}  # code -> the nonce its authorization request carried

    def start(self) -> MockIdp:
        # A short poll: shutdown() waits for it (up to 0.5 s by default) at the end of every test.
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def app(self) -> dict:
        return {
            "openid_connect": {
                "APPS": [{"provider_id": "idp", "name": "Mock IdP", "client_id": CLIENT_ID, "secret": CLIENT_SECRET,
                          "settings": {"server_url": self.issuer, "oauth_pkce_enabled": True}}],
            }
        }  # fmt: skip

    def authorize(self, authorize_url: str, code: str = "code-1") -> str:
        """What the IdP's pages would do: the callback URL with a code and the state."""
        query = parse_qs(urlsplit(authorize_url).query)
        self.nonces[code] = query.get("nonce", [""])[0]
        return f"{query['redirect_uri'][0]}?{urlencode({'code': code, 'state': query['state'][0]})}"

    def id_token(self, code: str) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": self.sub, "iat": now, "exp": now + 300,
                  "nonce": self.nonces.get(code, ""), "email": f"{self.sub}@example.com", **self.claims}  # fmt: skip
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": "k1"})

    def _handler(self):
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    self._json({"issuer": idp.discovery_issuer or idp.issuer,
                                "authorization_endpoint": f"{idp.issuer}/auth",
                                "token_endpoint": f"{idp.issuer}/token", "userinfo_endpoint": f"{idp.issuer}/me",
                                "jwks_uri": f"{idp.issuer}/jwks",
                                "token_endpoint_auth_methods_supported": ["client_secret_post"]})  # fmt: skip
                elif self.path == "/jwks":
                    jwk = json.loads(RSAAlgorithm.to_jwk(idp.key.public_key()))
                    self._json({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]})
                elif self.path == "/me":
                    self._json({"sub": idp.sub, "groups": idp.groups, "preferred_username": idp.sub})
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                code = form.get("code", [""])[0]
                self._json({"access_token": f"at-{code}", "token_type": "Bearer", "expires_in": 300,
                            "id_token": idp.id_token(code)})  # fmt: skip

        return Handler
