from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API and Anthropic pass-through"

    def ready(self) -> None:
        from api import schema  # noqa: F401  (registers the token's security scheme with drf-spectacular)
