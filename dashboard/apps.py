import threading

from django.apps import AppConfig

_seen = threading.local()


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import request_finished, request_started

        from dashboard.middleware import session_refreshed_at_login
        from dashboard.security import record_lockout

        user_locked_out.connect(record_lockout, dispatch_uid="dashboard.record_lockout")
        user_logged_in.connect(session_refreshed_at_login, dispatch_uid="dashboard.session_refreshed_at_login")
        request_started.connect(_note_api_calls, dispatch_uid="dashboard.note_api_calls")
        request_finished.connect(_flush_api_calls, dispatch_uid="dashboard.flush_api_calls")


# API calls made while serving a request (a cancel) are added to the counts /metrics reads when it ends;
# a request that made none writes nothing.
def _note_api_calls(**kwargs) -> None:
    from batches.models import ApiRequestCount

    _seen.tallied = ApiRequestCount.tallied


def _flush_api_calls(**kwargs) -> None:
    from batches.models import ApiRequestCount

    if ApiRequestCount.tallied != getattr(_seen, "tallied", None):
        ApiRequestCount.flush()
