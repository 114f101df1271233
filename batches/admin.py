from django import forms
from django.contrib import admin

from batches import audit
from batches.models import Batch, Budget, Price, Result, Workspace


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
        if fields or not change:
            audit.record(request.user, "workspace_change", obj.name, params={"fields": fields, "created": not change})

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
    list_display = ["model_prefix", "effective_from", "input", "output", "cache_write_5m", "cache_write_1h",
                    "cache_read", "batch_factor"]  # fmt: skip
    list_filter = ["model_prefix"]

    # A change reprices the usage it affects; a report of a past period keeps that period's prices.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._reprice(request, [obj], "changed" if change else "added")

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._reprice(request, [obj], "deleted")

    def delete_queryset(self, request, queryset):  # the list's "delete selected" action
        prices = list(queryset)
        super().delete_queryset(request, queryset)
        self._reprice(request, prices, "deleted")

    def _reprice(self, request, prices: list[Price], verb: str) -> None:
        from batches.tasks import reprice_usage

        for obj in prices:
            audit.record(request.user, "price_change", f"price {obj.model_prefix}",
                         params={"price": verb, "effective_from": str(obj.effective_from)})  # fmt: skip
        reprice_usage.delay_on_commit()


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
