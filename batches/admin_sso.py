"""The admin of single sign-on: role rules, the roles SSO gave each user, the sign-in history, ending sessions,
and the redirect URI to register at each IdP (docs/sso.md)."""

from __future__ import annotations

from allauth.socialaccount.admin import SocialAppAdmin
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse

from batches.models import ApiToken, SignIn, SsoGrant, SsoRoleRule
from batches.services import audit, sign_ins, tokens


@admin.register(SsoRoleRule)
class SsoRoleRuleAdmin(admin.ModelAdmin):
    list_display = ("value", "role", "workspace")
    list_filter = ("role", "workspace")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(
            request.user, "access_change", f"SSO rule {obj}", params={"sso_rule": str(obj), "created": not change}
        )

    def delete_model(self, request, obj):
        audit.record(request.user, "access_change", f"SSO rule {obj}", params={"sso_rule": str(obj), "deleted": True})
        super().delete_model(request, obj)


@admin.register(SignIn)
class SignInAdmin(admin.ModelAdmin):
    """The history is written by sign-ins alone: read it, never edit it."""

    list_display = ("at", "username", "method", "provider", "ok", "reason", "ip_address", "ended_at")
    list_filter = ("method", "ok", "provider")
    search_fields = ("username",)
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SsoGrantInline(admin.TabularInline):
    """What the IdP's groups gave at the last sign-in; every other role above was given by hand and SSO leaves it."""

    model = SsoGrant
    extra = 0
    can_delete = False
    fields = readonly_fields = ("role", "workspace", "granted_at")
    verbose_name_plural = "Roles from SSO (recomputed at each sign-in; roles not listed here were given by hand)"

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="End the selected users' sessions (signed out at their next request)")
def end_sessions(modeladmin, request, queryset):
    total = sum(sign_ins.end_sessions(user, by=request.user) for user in queryset)
    modeladmin.message_user(request, f"Ended {total} session{'s' * (total != 1)}.", messages.SUCCESS)


@admin.action(description="Revoke the selected users' API tokens (their scripts get 401 at once)")
def revoke_tokens(modeladmin, request, queryset):
    # Tokens are not sessions: an SSO user's tokens keep the roles of their last sign-in, because the dashboard
    # learns of a removal at the IdP only when they sign in again. Someone leaving loses them here (or by being made
    # inactive), as they lose their sessions by the action above.
    live = ApiToken.objects.filter(user__in=queryset, revoked_at=None).select_related("user")
    total = sum(tokens.revoke(token, by=request.user) for token in live)
    modeladmin.message_user(request, f"Revoked {total} token{'s' * (total != 1)}.", messages.SUCCESS)


def redirect_uri(provider_id: str) -> str:
    path = reverse("openid_connect_callback", kwargs={"provider_id": provider_id})
    return settings.DASHBOARD_URL.rstrip("/") + path


class IdpForm(SocialAppAdmin.form):
    """An identity provider's id is in its URLs (/sso/<id>/login/), and names one provider: "" or "a/b" made the login
    page a 500 for everyone, and two under one id made every sign-in with it one."""

    def clean(self):
        data = super().clean()
        provider_id = data.get("provider_id") or ""
        if data.get("provider") == "openid_connect":
            if not provider_id or "/" in provider_id:
                self.add_error("provider_id", "Give an id of letters, digits and dashes: it is in the sign-in URLs.")
            elif SocialApp.objects.filter(provider_id=provider_id).exclude(pk=self.instance.pk).exists():
                self.add_error("provider_id", f"Another identity provider has the id {provider_id!r} already.")
        return data


class IdpAdmin(SocialAppAdmin):
    form = IdpForm
    readonly_fields = ("redirect_uri_to_register",)

    @admin.display(description="Redirect URI to register at the IdP")
    def redirect_uri_to_register(self, obj) -> str:
        try:
            return redirect_uri(obj.provider_id or "<provider id>") if obj else ""
        except NoReverseMatch:  # saved before IdpForm's rule: no URL takes it
            return "(none: this provider id cannot be part of a URL; change it)"


admin.site.unregister(SocialApp)
admin.site.register(SocialApp, IdpAdmin)
