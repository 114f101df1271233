from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in

        from dashboard.middleware import session_refreshed_at_login
        from dashboard.security import record_lockout

        user_locked_out.connect(record_lockout, dispatch_uid="dashboard.record_lockout")
        user_logged_in.connect(session_refreshed_at_login, dispatch_uid="dashboard.session_refreshed_at_login")
