from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.sso import views as sso
from dashboard.views import (
    actions,
    audit,
    batches,
    bulk,
    downloads,
    errors,
    health_bar,
    inputs,
    login,
    notifications,
    reconcile,
    retry,
    spend,
    submissions,
    watch,
)

urlpatterns = [
    path("", batches.batch_list, name="batch_list"),
    path("batches/bulk/", bulk.batch_bulk, name="batch_bulk"),
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
    path("submissions/<int:submission_id>/send/", submissions.submission_send, name="submission_send"),
    path("submissions/<int:submission_id>/discard/", submissions.submission_discard, name="submission_discard"),
    path("submissions/<int:submission_id>/estimate/", submissions.submission_estimate, name="submission_estimate"),
    path("batches/<str:batch_id>/watch/", watch.batch_watch, name="batch_watch"),
    path("health/", health_bar.health, name="health"),
    path("notifications/", notifications.my_notifications, name="my_notifications"),
    path("notifications/channels/", notifications.channel_list, name="notification_channels"),
    path("notifications/channels/new/", notifications.channel_edit, name="channel_new"),
    path("notifications/channels/<int:channel_id>/", notifications.channel_edit, name="channel_edit"),
    path("notifications/channels/<int:channel_id>/delete/", notifications.channel_delete, name="channel_delete"),
    path("notifications/deliveries/", notifications.delivery_log, name="delivery_log"),
    path("notifications/deliveries/resend/", notifications.delivery_resend, name="delivery_resend"),
    path("login/", login.LoginView.as_view(), name="login"),
    # The names allauth's OpenID Connect provider reverses; its own routes (which skip our checks) are not served.
    path("sso/<str:provider_id>/login/", sso.sso_login, name="openid_connect_login"),
    path("sso/<str:provider_id>/callback/", sso.sso_callback, name="openid_connect_callback"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
