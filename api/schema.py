"""How the schema describes a token: the SDK's `x-api-key` header, or `Authorization: Bearer`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.TokenAuthentication"
    name = ["apiKey", "bearer"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "x-api-key"},
            {"type": "http", "scheme": "bearer", "description": "A dashboard API token (bdt_…)"},
        ]
