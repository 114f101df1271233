"""Single sign-on with OpenID Connect (django-allauth), and the pages around it (docs/sso.md)."""
