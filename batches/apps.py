from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BatchesConfig(AppConfig):
    name = "batches"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the tasks in every process, the web's included: services hand work on by task name
        # (batches/services/handoff.py), and the name must resolve before a worker ever imported them.
        from batches import tasks  # noqa: F401
        from batches.services import auth_cache

        auth_cache.connect()  # who may do what, kept in the shared cache, is forgotten when it changes
        post_migrate.connect(_install_tally, sender=self)


def _install_tally(sender, using: str = "default", **kwargs) -> None:
    """The batch tally's triggers, and its count, made good after every migrate (batches/services/tally.py)."""
    from batches.services import tally

    tally.install(using)
