from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Q, QuerySet

from batches.admin_sso import SsoGrantInline, end_sessions, revoke_tokens
from batches.models import Batch, Budget, Price, PricedModel, Result, UsageRollup, Workspace, WorkspaceAccess
from batches.roles import WORKSPACE_ROLES
from batches.services import audit, ingest, versions
from batches.services.handoff import enqueue
from batches.services.pricing import catalog, daily
from batches.tasks import reprice_usage


class WorkspaceForm(forms.ModelForm):
    base_url = forms.URLField(
        assume_scheme="https", required=False, help_text="Leave empty for https://api.anthropic.com"
    )
    # Write-only: the stored key is never rendered back, only its masked hint.
    api_key = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current key.",
    )

    class Meta:
        model = Workspace
        fields = ["name", "base_url", "is_active"]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("api_key"):
            self.add_error("api_key", "A new workspace needs an API key.")
        elif "base_url" in self.changed_data and not cleaned.get("api_key"):
            # The key would be sent to the new URL: whoever points it elsewhere must know the key already.
            self.add_error("api_key", "Changing the base URL sends the key there: enter the API key again.")
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("api_key"):
            self.instance.set_api_key(self.cleaned_data["api_key"])
        return super().save(commit)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    form = WorkspaceForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # On the record, without the key: only which fields changed, and the key's masked hint.
        fields = [name for name in form.changed_data if name != "api_key"]
        if form.cleaned_data.get("api_key"):
            audit.record(request.user, "key_change", obj.name, params={"key": obj.api_key_hint, "created": not change})
            if change:  # a refused key fixed: its batches' ingests try again now, not after their back-off
                ingest.retry_now(workspace_id=obj.pk)
        if fields or not change:
            params = {"fields": fields, "created": not change}
            if change and "base_url" in fields:  # from what to what: where the key now goes is on the record
                params["base_url"] = {"from": form.initial.get("base_url") or "", "to": obj.base_url}
            audit.record(request.user, "workspace_change", obj.name, params=params)

    def delete_model(self, request, obj):
        audit.record(request.user, "workspace_change", obj.name, params={"deleted": True})
        super().delete_model(request, obj)

    list_display = ["name", "api_key_hint", "base_url", "is_active", "last_synced_at", "last_error_type"]
    readonly_fields = [
        "api_key_hint", "last_synced_at", "last_full_sync_at", "failing_since", "last_error_type",
        "last_error_message", "consecutive_failures",
    ]  # fmt: skip


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["id", "workspace", "processing_status", "created_at", "ended_at", "items_ingested"]
    list_filter = ["workspace", "processing_status"]
    search_fields = ["id", "label"]
    fields = ["label"]  # everything else mirrors the API and is not edited here

    def has_add_permission(self, request):
        return False

    # A label edited or a batch deleted here changes what the pages show (a search, the tabs' kept counts): the
    # workspace's version moves with it, as every other write's does.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        versions.bump(obj.workspace_id)

    # A deleted batch's usage rows go with it: the spend report's sums of their days are rebuilt without them.
    def delete_model(self, request, obj):
        days = set(obj.usage.values_list("day", flat=True))
        super().delete_model(request, obj)
        daily.refresh(days)
        versions.bump(obj.workspace_id)

    def delete_queryset(self, request, queryset):
        workspaces = set(queryset.values_list("workspace_id", flat=True))
        days = set(UsageRollup.objects.filter(batch__in=queryset).values_list("day", flat=True))
        super().delete_queryset(request, queryset)
        daily.refresh(days)
        versions.bump_many(workspaces)


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = ["custom_id", "batch", "result_type", "error_type"]
    list_filter = ["result_type", "error_type"]
    search_fields = ["custom_id"]
    raw_id_fields = ["batch", "chunk"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["family", "effective_from", "input", "output", "cache_write_5m", "cache_write_1h",
                    "cache_read", "long_prompt_over", "us_multiplier", "batch_factor", "origin"]  # fmt: skip
    list_filter = ["family", "origin"]
    search_fields = ["family"]
    readonly_fields = ["origin"]
    actions = ["show_price_book", "apply_price_book"]

    @admin.action(description="Show what the price book would change (whatever is selected)")
    def show_price_book(self, request, queryset):
        for line in catalog.diff().lines():
            self.message_user(request, line)

    @admin.action(description="Apply the price book (never over an Admin's rows) and reprice")
    def apply_price_book(self, request, queryset):
        d = catalog.apply()
        audit.record(request.user, "price_change", "price book", params={"price": "refreshed",
                     "changes": len(d.added) + len(d.changed) + len(d.models_added)})  # fmt: skip
        for line in d.lines():
            self.message_user(request, line)

    # A change reprices the usage it affects; a report of a past period keeps that period's prices.
    # A row an Admin saved is theirs: a refresh from the price book leaves it alone.
    def save_model(self, request, obj, form, change):
        obj.origin = Price.Origin.ADMIN
        before = Price.objects.filter(pk=obj.pk).values_list("effective_from", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        self._reprice(request, [obj], "changed" if change else "added", also_from=before)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._reprice(request, [obj], "deleted")

    def delete_queryset(self, request, queryset):  # the list's "delete selected" action
        prices = list(queryset)
        super().delete_queryset(request, queryset)
        self._reprice(request, prices, "deleted")

    def _reprice(self, request, prices: list[Price], verb: str, also_from=None) -> None:
        for obj in prices:
            audit.record(request.user, "price_change", f"price {obj.family}",
                         params={"price": verb, "effective_from": str(obj.effective_from)})  # fmt: skip
        # Only the days from the earliest date touched: earlier days keep the prices they had.
        since = min([p.effective_from for p in prices] + ([also_from] if also_from else []))
        enqueue(reprice_usage, since.isoformat())


@admin.register(PricedModel)
class PricedModelAdmin(admin.ModelAdmin):
    """Which price family a model id bills as (explicit: never by prefix)."""

    list_display = ["model", "family"]
    search_fields = ["model", "family"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(request.user, "price_change", f"model {obj.model}", params={"family": obj.family})
        enqueue(reprice_usage)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        enqueue(reprice_usage)


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["workspace", "monthly_amount"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(request.user, "budget_change", obj.workspace.name,
                     params={"monthly_amount": str(obj.monthly_amount), "created": not change})  # fmt: skip

    def delete_model(self, request, obj):
        audit.record(request.user, "budget_change", obj.workspace.name, params={"deleted": True})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):  # the list's "delete selected" action
        for obj in queryset.select_related("workspace"):
            audit.record(request.user, "budget_change", obj.workspace.name, params={"deleted": True})
        super().delete_queryset(request, queryset)


# --- Users and groups: no escalation, every change on the record ----------------------------------
def _own_permissions(user) -> QuerySet[Permission]:
    return Permission.objects.filter(Q(user=user) | Q(group__user=user)).distinct()


def _labels(items) -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" if isinstance(p, Permission) else p.name for p in items)


def _diff(before: set, after: set) -> dict[str, list[str]]:
    changes = {"added": _labels(after - before), "removed": _labels(before - after)}
    return {k: v for k, v in changes.items() if v}


class WorkspaceAccessForm(forms.ModelForm):
    """Roles as checkboxes: a lead can be Operator and Auditor in one workspace without being its Admin."""

    roles = forms.MultipleChoiceField(
        choices=[(role, role) for role in WORKSPACE_ROLES],
        widget=forms.CheckboxSelectMultiple,
        help_text="Their permissions add up.",
    )

    class Meta:
        model = WorkspaceAccess
        fields = ["workspace", "roles"]


class WorkspaceAccessInline(admin.TabularInline):
    """A user given workspaces here sees only those, each with its roles (services/workspace_roles.py); none: all."""

    model = WorkspaceAccess
    form = WorkspaceAccessForm
    extra = 0
    verbose_name = "workspace given"
    verbose_name_plural = "Workspaces given (none: every workspace, with the roles of the groups above)"


def _access(user) -> set[str]:
    return {f"{a.workspace.name}: {a.role}" for a in user.workspace_access.select_related("workspace")}


def _diff_names(before: set[str], after: set[str]) -> dict[str, list[str]]:
    changes = {"given": sorted(after - before), "taken": sorted(before - after)}
    return {k: v for k, v in changes.items() if v}


class UserAdmin(auth_admin.UserAdmin):
    """Only a superuser makes superusers or staff, or changes a superuser. Anyone else with change_user
    (the Admin role) grants only permissions it holds itself, and groups made of them; what it may not
    grant is kept as it was on the user it edits. Workspace roles grant nothing an Admin lacks."""

    inlines = [WorkspaceAccessInline, SsoGrantInline]
    actions = [end_sessions, revoke_tokens]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # the add page asks for a name and password only

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else (*readonly, "is_superuser", "is_staff")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not request.user.is_superuser and db_field.name in ("groups", "user_permissions"):
            kwargs["queryset"] = self._grantable(request.user, db_field.name)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @staticmethod
    def _grantable(user, field: str) -> QuerySet:
        own = _own_permissions(user)
        if field == "user_permissions":
            return own.select_related("content_type")
        return Group.objects.exclude(permissions__in=Permission.objects.exclude(pk__in=own.values("pk")))

    def save_related(self, request, form, formsets, change):
        user = form.instance
        before = {"groups": set(user.groups.all()), "user_permissions": set(user.user_permissions.all())}
        access_before = _access(user) if change else set()
        super().save_related(request, form, formsets, change)
        if not request.user.is_superuser:
            # The form offered only what the editor may grant: keep what it could not see.
            for field, had in before.items():
                kept = had - set(self._grantable(request.user, field))
                getattr(user, field).add(*kept)
        changes = {"fields": sorted(f for f in form.changed_data if "password" not in f and f not in before)}
        for field, had in before.items():
            if diff := _diff(had, set(getattr(user, field).all())):
                changes[field] = diff
        audit.record(request.user, "user_change", user.get_username(), params={**changes, "created": not change})
        if access := _diff_names(access_before, _access(user)):
            audit.record(request.user, "access_change", user.get_username(), params=access)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # saved; a refused form renders again
            target = User.objects.filter(pk=id).values_list("username", flat=True).first() or id
            audit.record(request.user, "user_change", target, params={"password": "changed"})
        return response

    def delete_model(self, request, obj):
        audit.record(request.user, "user_change", obj.get_username(), params={"deleted": True})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):  # the list's "delete selected" action
        if not request.user.is_superuser:
            queryset = queryset.filter(is_superuser=False)  # the action checks no object permissions
        for name in queryset.values_list("username", flat=True):
            audit.record(request.user, "user_change", name, params={"deleted": True})
        super().delete_queryset(request, queryset)


class GroupAdmin(auth_admin.GroupAdmin):
    """As for users: someone who may change groups but is no superuser grants only what it holds."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "permissions" and not request.user.is_superuser:
            formfield.queryset = formfield.queryset.filter(pk__in=_own_permissions(request.user).values("pk"))
        return formfield

    def save_related(self, request, form, formsets, change):
        before = set(form.instance.permissions.all())
        super().save_related(request, form, formsets, change)
        if not request.user.is_superuser:
            form.instance.permissions.add(*(before - set(_own_permissions(request.user))))
        params = {"fields": sorted(f for f in form.changed_data if f != "permissions"), "created": not change}
        if diff := _diff(before, set(form.instance.permissions.all())):
            params["permissions"] = diff
        audit.record(request.user, "group_change", form.instance.name, params=params)

    def delete_model(self, request, obj):
        audit.record(request.user, "group_change", obj.name, params={"deleted": True})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for name in queryset.values_list("name", flat=True):
            audit.record(request.user, "group_change", name, params={"deleted": True})
        super().delete_queryset(request, queryset)


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, GroupAdmin)
