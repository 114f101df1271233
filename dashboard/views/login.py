"""The login page: "Sign in with <IdP>" for each configured IdP, and the password form for local accounts.

With SSO_ONLY the password form is for superusers alone (break-glass); the lockout applies to them as to anyone.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from allauth.socialaccount.adapter import get_adapter
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import NoReverseMatch, reverse

from batches.services import sign_ins
from dashboard.security import client_ip
from dashboard.views.totp import needs_totp, second_step

log = logging.getLogger(__name__)
SSO_ONLY_REFUSAL = "Sign in with single sign-on: the password form is for break-glass superuser accounts only."


def sso_buttons(request) -> list[dict[str, str]]:
    buttons = []
    for app in get_adapter().list_apps(request, provider="openid_connect"):
        try:
            url = reverse("openid_connect_login", kwargs={"provider_id": app.provider_id})
        except NoReverseMatch:
            # The admin saves a provider id of "" or "a/b", which no URL takes: the login page was a 500 for everyone.
            log.error("SSO: the identity provider %r has a provider id no URL takes (%r): not offered", app.name,
                      app.provider_id)  # fmt: skip
            continue
        settings_ = app.settings if isinstance(app.settings, dict) else {}
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(str(settings_.get("server_url", ""))))
        buttons.append({"name": app.name, "url": url, "origin": origin})
    return buttons


class LoginView(auth_views.LoginView):
    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        # The button's POST is answered with a redirect to the IdP, which the policy's form-action must allow
        # (Chromium checks the redirect of a form's submission too); the IdP's issuer is where it authorizes.
        if origins := sorted({b["origin"] for b in sso_buttons(request) if b["origin"] != "://"}):
            response._csp_update = {"form-action": origins}
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        buttons = sso_buttons(self.request)
        context["sso_buttons"] = buttons
        # The break-glass form stays reachable (?local=1) but is not offered beside the IdP's buttons.
        context["hide_password_form"] = settings.SSO_ONLY and bool(buttons) and "local" not in self.request.GET
        context["sso_only"] = settings.SSO_ONLY
        return context

    def form_valid(self, form):
        user = form.get_user()
        if settings.SSO_ONLY and not user.is_superuser:
            return self.render_to_response(self.get_context_data(form=form, refusal=SSO_ONLY_REFUSAL))
        if needs_totp(user):
            return second_step(self.request, user, self.get_redirect_url())
        response = super().form_valid(form)
        sign_ins.record(user, method="password", ip_address=client_ip(self.request),
                        session_key=self.request.session.session_key or "")  # fmt: skip
        return response
