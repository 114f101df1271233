from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.views import (
    actions,
    audit,
    batches,
    downloads,
    errors,
    health,
    inputs,
    notifications,
    reconcile,
    retry,
    spend,
    submissions,
)

urlpatterns = [
    path("", batches.batch_list, name="batch_list"),
    path("batches/<str:batch_id>/", batches.batch_detail, name="batch_detail"),
    # path: a custom_id from a malformed line may hold any character, "/" included.
    path("batches/<str:batch_id>/results/<path:custom_id>/", batches.result_detail, name="result_detail"),
    path("batches/<str:batch_id>/download.<str:fmt>", downloads.batch_download, name="batch_download"),
    path("batches/<str:batch_id>/refresh/", actions.batch_refresh, name="batch_refresh"),
    path("batches/<str:batch_id>/cancel/", actions.batch_cancel, name="batch_cancel"),
    path("batches/<str:batch_id>/inputs/", inputs.attach_inputs, name="attach_inputs"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
    path("errors/", errors.errors_overview, name="errors"),
    path("spend/", spend.spend_report, name="spend_report"),
    path("spend/export.csv", spend.spend_export, name="spend_export"),
    path("spend/reconcile/", reconcile.reconciliation, name="reconciliation"),
    path("submit/", submissions.submit_upload, name="submit_upload"),
    path("retry/", retry.retry_plan, name="retry_plan"),
    path("submissions/<int:submission_id>/", submissions.submission_detail, name="submission_detail"),
    path("batches/<str:batch_id>/watch/", health.batch_watch, name="batch_watch"),
    path("health/", health.health, name="health"),
    path("notifications/", notifications.my_notifications, name="my_notifications"),
    path("notifications/channels/", notifications.channel_list, name="notification_channels"),
    path("notifications/channels/new/", notifications.channel_edit, name="channel_new"),
    path("notifications/channels/<int:channel_id>/", notifications.channel_edit, name="channel_edit"),
    path("notifications/channels/<int:channel_id>/delete/", notifications.channel_delete, name="channel_delete"),
    path("notifications/deliveries/", notifications.delivery_log, name="delivery_log"),
    path("notifications/deliveries/resend/", notifications.delivery_resend, name="delivery_resend"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
