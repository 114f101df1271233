from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in as allauth_logged_in
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in

        from dashboard.middleware import session_refreshed_at_login
        from dashboard.security import record_lockout
        from dashboard.sso.signals import check_role_rules, on_sso_login

        user_locked_out.connect(record_lockout, dispatch_uid="dashboard.record_lockout")
        user_logged_in.connect(session_refreshed_at_login, dispatch_uid="dashboard.session_refreshed_at_login")
        allauth_logged_in.connect(on_sso_login, dispatch_uid="dashboard.sso.on_sso_login")
        check_role_rules()
